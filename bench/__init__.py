"""Benchmarks. Each area is a subpackage `bench.<area>` runnable as `python -m bench.<area>`; results go
to bench/README.md by hand, with the command that produced them."""
