"""Benchmarks: symnb's workloads timed side by side with NumPy and its peers in one process
(`python -m benchmarks.run`, `make bench`); results go to benchmarks/RESULTS.md."""
