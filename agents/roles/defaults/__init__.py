"""Shipped role files: one ``<role>.md`` per built-in role (front matter + template)."""
