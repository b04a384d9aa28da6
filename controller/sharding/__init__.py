"""Horizontal scale: several controller replicas split the Canaries (`-enable-sharding`).

Canaries hash to a fixed number of shards (`hashing`); each shard is a `coordination.k8s.io` Lease that one
replica at a time holds (`coordinator`), and replicas announce themselves with one membership Lease each, so
every replica can compute its fair share (`balance`) and release the surplus when a new replica appears. A
replica runs the loops only of the Canaries in the shards it holds; `docs/architecture.md` (Sharding) says
why no two replicas tick one Canary.
"""
