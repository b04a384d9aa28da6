"""Flagman controller: watches flagger.app/v1beta1 Canaries and runs Blue/Green analysis."""
