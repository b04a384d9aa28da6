"""Kubernetes adapters of the rollout ports (kubernetes_asyncio), and the pure derivations behind them.

Pure functions of spec section 1 (no I/O): `selectors`, `primary`, `configs`, `services`, `autoscalers`.
I/O: `api` (JSON REST client), `watchcache` and `cluster` (watch caches), and the port adapters
`workloads`, `router`, `recorder`, `status`, `sources`.
"""
