"""Controller benchmarks: API requests per steady analysis tick, and full-rollout wall time."""
