"""Load tester benchmarks: blocking bash tasks against the spawn floor, gate checks, idle memory."""
