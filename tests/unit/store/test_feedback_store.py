"""The DuckDB feedback store: kept per repository, found again by token-set similarity."""

from __future__ import annotations

import pytest

from bot.feedback import SIMILARITY_THRESHOLD, DuckDBFeedback, similarity, terms
from bot.store.db import Database


@pytest.fixture
def store() -> DuckDBFeedback:
    return DuckDBFeedback(Database.in_memory())


def test_similar_feedback_is_found_across_runs_of_the_same_repository(store):
    store.add("acme/app", "r1", "build", "developer", "Please add type hints everywhere", "reject")
    store.add("acme/other", "r9", "build", "developer", "add type hints everywhere", "reject")
    found = store.similar("acme/app", "add type hints to the new functions")
    assert [r.run_id for r in found] == ["r1"]
    assert found[0].score >= SIMILARITY_THRESHOLD and found[0].kind == "reject"


def test_the_same_feedback_in_the_same_run_is_kept_once(store):
    for _ in range(3):
        store.add("acme/app", "r1", "build", "developer", "use Decimal for money", "review")
    assert len(store.similar("acme/app", "use Decimal for money")) == 1


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        ("add type hints", "please add type hints to the functions", True),
        ("use Decimal for money amounts", "money amounts must use Decimal", True),
        ("the button colour is wrong", "add type hints", False),
        ("fix it", "fix it", False),  # too few terms to mean anything
        ("rename the variable", "rename the function", False),  # one shared term
    ],
)
def test_similarity_table(a, b, similar):
    assert (similarity(terms(a), terms(b)) >= SIMILARITY_THRESHOLD) is similar


def test_unrelated_or_empty_text_finds_nothing(store):
    store.add("acme/app", "r1", "build", "developer", "add type hints", "reject")
    assert store.similar("acme/app", "") == []
    assert store.similar("acme/app", "the logo is blurry on retina screens") == []
