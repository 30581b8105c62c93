"""Shipped inside the wheel as seedgen.prompts."""
