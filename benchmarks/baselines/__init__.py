"""Baseline synthesizers for benchmarks only (not product modes): a Gaussian mixture and sequential CART."""
