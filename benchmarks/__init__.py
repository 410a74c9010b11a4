"""Benchmark and reproduction scripts, each run from the repository root as
`python -m benchmarks.NAME` (they write their figures into docs/)."""
