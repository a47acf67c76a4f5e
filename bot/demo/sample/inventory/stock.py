"""The stock: how many of each item are on the shelves."""

from __future__ import annotations


class OutOfStock(ValueError):
    """More was taken than the shelves hold."""


class Stock:
    """Quantities per item name (names are case-insensitive)."""

    def __init__(self) -> None:
        self._items: dict[str, int] = {}

    @staticmethod
    def _key(name: str) -> str:
        key = name.strip().lower()
        if not key:
            raise ValueError("an item needs a name")
        return key

    def add(self, name: str, count: int) -> int:
        """Put ``count`` of ``name`` on the shelves; returns the new quantity."""
        if count <= 0:
            raise ValueError("count must be positive")
        key = self._key(name)
        self._items[key] = self._items.get(key, 0) + count
        return self._items[key]

    def remove(self, name: str, count: int) -> int:
        """Take ``count`` of ``name`` off the shelves; returns what is left."""
        if count <= 0:
            raise ValueError("count must be positive")
        key = self._key(name)
        have = self._items.get(key, 0)
        if count > have:
            raise OutOfStock(f"only {have} of {key} in stock, {count} asked")
        self._items[key] = have - count
        return self._items[key]

    def quantity(self, name: str) -> int:
        """How many of ``name`` are on the shelves (0 for an unknown item)."""
        return self._items.get(self._key(name), 0)

    def items(self) -> dict[str, int]:
        """Every item and its quantity, sorted by name."""
        return dict(sorted(self._items.items()))
