"""Tests of the stock."""

import pytest
from inventory import OutOfStock, Stock


def test_add_and_remove():
    """Adding and removing changes the quantity; names ignore case."""
    stock = Stock()
    stock.add("Apples", 12)
    assert stock.remove("apples", 5) == 7
    assert stock.quantity("APPLES") == 7


def test_cannot_take_more_than_there_is():
    """Taking more than the shelves hold is refused and changes nothing."""
    stock = Stock()
    stock.add("pears", 2)
    with pytest.raises(OutOfStock):
        stock.remove("pears", 3)
    assert stock.quantity("pears") == 2
