"""A tiny stock keeper: items, quantities and a report."""

from inventory.stock import OutOfStock, Stock

__all__ = ["OutOfStock", "Stock"]
