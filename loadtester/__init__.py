"""Flagman load tester: a Flagger-compatible webhook runner (cmd, bash, helm, kubectl, gates)."""
