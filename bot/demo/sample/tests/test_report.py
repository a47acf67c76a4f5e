"""Tests of the report."""

from inventory import Stock
from inventory.report import stock_report


def test_report_is_sorted_by_name():
    """One line per item, alphabetical."""
    stock = Stock()
    stock.add("pears", 3)
    stock.add("apples", 1)
    assert stock_report(stock) == "apples: 1\npears: 3"


def test_empty_report():
    """An empty stock says so."""
    assert stock_report(Stock()) == "(empty)"
