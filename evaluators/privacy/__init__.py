"""privacy metrics."""
