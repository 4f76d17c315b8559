"""Benchmarks: training throughput and its ceiling, and the parity of the precisions."""
