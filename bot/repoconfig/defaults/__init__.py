"""Shipped workflow templates: ``feature``, ``bugfix`` and ``docs`` (YAML files)."""
