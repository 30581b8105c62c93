"""Shipped inside the wheel as seedgen.evaluators."""
