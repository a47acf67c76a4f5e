"""A plain-text stock report."""

from __future__ import annotations

from inventory.stock import Stock


def stock_report(stock: Stock) -> str:
    """One line per item, ``name: quantity``, sorted by name."""
    lines = [f"{name}: {count}" for name, count in stock.items().items()]
    return "\n".join(lines) if lines else "(empty)"
