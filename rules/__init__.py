"""Shipped inside the wheel as seedgen.rules."""
