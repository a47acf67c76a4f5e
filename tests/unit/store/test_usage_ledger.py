"""DuckDBLedger: records model usage and sums spend with every filter."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from agents.usage import MemoryLedger, UsageLedger, UsageRecord
from bot.store.db import Database
from bot.store.records import DuckDBLedger

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db():
    database = Database.in_memory()
    yield database
    database.close()


def _usage(**kw) -> UsageRecord:
    base = {"provider": "anthropic", "model": "claude", "created_at": T0}
    return UsageRecord(**(base | kw))


def test_record_stores_every_field(db: Database) -> None:
    ledger: UsageLedger = DuckDBLedger(db)
    ledger.record(
        _usage(
            run_id="r1",
            phase="build",
            role="developer",
            repo="acme/app",
            issue_number=3,
            input_tokens=1200,
            output_tokens=300,
            cached_tokens=50,
            cost_usd=0.0123,
            latency_ms=812.5,
            ok=False,
            error="RateLimited: 429",
        )
    )
    rows = db.fetch_dicts("SELECT * FROM model_usage")
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] >= 1
    assert (row["run_id"], row["phase"], row["role"], row["repo"], row["issue_number"]) == (
        "r1",
        "build",
        "developer",
        "acme/app",
        3,
    )
    assert (row["input_tokens"], row["output_tokens"], row["cached_tokens"]) == (1200, 300, 50)
    assert (row["cost_usd"], row["latency_ms"], row["ok"], row["error"]) == (
        0.0123,
        812.5,
        False,
        "RateLimited: 429",
    )
    assert row["created_at"] == datetime(2024, 3, 1, 12, 0)


def test_spent_is_zero_without_rows(db: Database) -> None:
    assert DuckDBLedger(db).spent() == 0.0
    assert DuckDBLedger(db).spent(repo="nobody") == 0.0


def test_spent_filters(db: Database) -> None:
    ledger = DuckDBLedger(db)
    ledger.record(_usage(run_id="r1", phase="design", repo="a/b", issue_number=1, cost_usd=0.5))
    ledger.record(_usage(run_id="r1", phase="build", repo="a/b", issue_number=1, cost_usd=0.25))
    ledger.record(
        _usage(
            run_id="r2",
            phase="build",
            repo="a/b",
            issue_number=2,
            cost_usd=2.0,
            created_at=T0 + timedelta(days=1),
        )
    )
    ledger.record(_usage(run_id="r3", phase="build", repo="c/d", issue_number=1, cost_usd=8.0))
    assert ledger.spent() == 10.75
    assert ledger.spent(run_id="r1") == 0.75
    assert ledger.spent(run_id="r1", phase="build") == 0.25
    assert ledger.spent(phase="build") == 10.25
    assert ledger.spent(repo="a/b") == 2.75
    assert ledger.spent(repo="a/b", issue_number=1) == 0.75
    assert ledger.spent(issue_number=1) == 8.75
    assert ledger.spent(since=T0 + timedelta(hours=1)) == 2.0
    assert ledger.spent(since=T0) == 10.75
    assert ledger.spent(repo="c/d", since=T0 + timedelta(hours=1)) == 0.0


def test_since_compares_instants_across_time_zones(db: Database) -> None:
    ledger = DuckDBLedger(db)
    ledger.record(
        _usage(
            cost_usd=1.0,
            created_at=datetime(2024, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        )
    )
    # 14:00+02:00 is 12:00 UTC.
    assert ledger.spent(since=datetime(2024, 3, 1, 12, 0, tzinfo=UTC)) == 1.0
    assert ledger.spent(since=datetime(2024, 3, 1, 12, 0, 1, tzinfo=UTC)) == 0.0
    assert (
        ledger.spent(since=datetime(2024, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=-5)))) == 0.0
    )
    assert ledger.spent(since=datetime(2024, 3, 1, 12, 0)) == 1.0  # naive means UTC


def test_matches_the_memory_ledger_on_random_data(db: Database) -> None:
    rng = random.Random(7)
    duck, memory = DuckDBLedger(db), MemoryLedger()
    for _ in range(300):
        usage = _usage(
            run_id=rng.choice(["r1", "r2", None]),
            phase=rng.choice(["design", "build", None]),
            repo=rng.choice(["a/b", "c/d"]),
            issue_number=rng.choice([1, 2, None]),
            cost_usd=round(rng.uniform(0, 2), 6),
            created_at=T0 + timedelta(minutes=rng.randrange(0, 600)),
        )
        duck.record(usage)
        memory.record(usage)
    combos = itertools.product(
        [None, "r1"], [None, "build"], [None, "a/b"], [None, 2], [None, T0 + timedelta(hours=5)]
    )
    for run_id, phase, repo, issue, since in combos:
        kw = {"run_id": run_id, "phase": phase, "repo": repo, "issue_number": issue, "since": since}
        assert duck.spent(**kw) == pytest.approx(memory.spent(**kw), abs=1e-9)
