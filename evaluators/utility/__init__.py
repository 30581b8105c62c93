"""utility metrics."""
