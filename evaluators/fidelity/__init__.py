"""Fidelity metrics: per-column distributions, column pairs, and the correlation matrix."""
