"""The hash-chained audit log: appends chain, verify finds the first tampered row."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import AuditChainBroken, StoreError
from bot.store.audit import GENESIS_HASH, AuditLog
from bot.store.db import Database


@pytest.fixture
def db():
    database = Database.in_memory()
    yield database
    database.close()


@pytest.fixture
def log(db: Database) -> AuditLog:
    return AuditLog(db)


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(f"user{i % 3}", "phase.approved", f"github:acme/app#{i}", {"i": i, "ok": True})


def test_hash_is_sha256_of_prev_hash_and_canonical_json(db: Database) -> None:
    fixed = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    log = AuditLog(db, clock=lambda: fixed)
    first = log.append("alice", "run.started", "github:acme/app#3", {"b": [1, 2.5], "a": "é"})
    body = (
        '{"action":"run.started","actor":"alice","at":"2024-05-06T07:08:09.123456Z",'
        '"detail":{"a":"é","b":[1,2.5]},"seq":1,"subject":"github:acme/app#3"}'
    )
    assert first.seq == 1
    assert first.prev_hash == GENESIS_HASH
    assert first.hash == hashlib.sha256((GENESIS_HASH + body).encode()).hexdigest()
    second = log.append("bob", "run.cancelled")
    assert second.seq == 2
    assert second.prev_hash == first.hash


def test_many_appends_verify_ok(log: AuditLog) -> None:
    _fill(log, 250)
    result = log.verify(batch=64)
    assert result.ok
    assert result.rows == 250
    assert result.first_bad_seq is None
    entries = log.entries(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 251))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert result.head_hash == entries[-1].hash
    result.raise_if_broken()


def test_empty_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert (result.ok, result.rows, result.head_hash) == (True, 0, GENESIS_HASH)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"i": 999, "ok": true}'),
        ("actor", "mallory"),
        ("action", "phase.rejected"),
        ("subject", "github:acme/other#1"),
        ("subject", None),
        ('"at"', datetime(2020, 1, 1)),
        ("hash", "f" * 64),
    ],
)
def test_changed_row_is_reported_as_content_changed(
    db: Database, log: AuditLog, column: str, value: object
) -> None:
    _fill(log, 10)
    db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 6", [value])
    result = log.verify()
    assert not result.ok
    assert (result.first_bad_seq, result.reason, result.rows) == (6, "content_changed", 6)
    with pytest.raises(AuditChainBroken) as caught:
        result.raise_if_broken()
    assert (caught.value.seq, caught.value.reason) == (6, "content_changed")


def test_whitespace_only_change_to_detail_is_not_tampering(db: Database, log: AuditLog) -> None:
    _fill(log, 3)
    db.execute("""UPDATE audit_log SET detail = '{ "ok" : true, "i" : 1 }' WHERE seq = 2""")
    assert log.verify().ok


@pytest.mark.parametrize(("deleted", "reported"), [(4, 5), (1, 2), ([3, 4, 5], 6)])
def test_deleted_rows_are_a_seq_gap(
    db: Database, log: AuditLog, deleted: int | list[int], reported: int
) -> None:
    _fill(log, 8)
    for seq in deleted if isinstance(deleted, list) else [deleted]:
        db.execute("DELETE FROM audit_log WHERE seq = ?", [seq])
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, reported, "seq_gap")


def test_changed_prev_hash_is_a_broken_chain(db: Database, log: AuditLog) -> None:
    _fill(log, 5)
    db.execute("UPDATE audit_log SET prev_hash = ? WHERE seq = 3", ["a" * 64])
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, "chain_broken")


def test_first_row_must_chain_to_genesis(db: Database, log: AuditLog) -> None:
    _fill(log, 2)
    db.execute("UPDATE audit_log SET prev_hash = ? WHERE seq = 1", ["1" * 64])
    result = log.verify()
    assert (result.first_bad_seq, result.reason) == (1, "chain_broken")


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link(
    db: Database, log: AuditLog
) -> None:
    _fill(log, 5)
    row = log.entries(after_seq=2, limit=1)[0]
    from bot.store.audit import entry_hash

    forged = entry_hash(
        row.prev_hash,
        seq=3,
        at=row.at,
        actor="mallory",
        action=row.action,
        subject=row.subject,
        detail=row.detail,
    )
    db.execute("UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 3", [forged])
    result = log.verify()
    assert (result.first_bad_seq, result.reason) == (4, "chain_broken")
    assert result.head_hash == forged


def test_verify_reports_only_the_first_bad_row(db: Database, log: AuditLog) -> None:
    _fill(log, 10)
    db.execute("UPDATE audit_log SET actor = 'x' WHERE seq IN (4, 8)")
    db.execute("DELETE FROM audit_log WHERE seq = 9")
    assert log.verify().first_bad_seq == 4


def test_concurrent_appends_from_threads_keep_the_chain(log: AuditLog) -> None:
    threads, per_thread = 8, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                log.append(f"worker{n}", "job.done", f"job:{n}:{i}", {"n": n, "i": i})
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    result = log.verify()
    assert result.ok
    assert result.rows == threads * per_thread == log.count()
    subjects = {e.subject for e in log.entries(limit=10_000)}
    assert len(subjects) == threads * per_thread


def test_times_follow_seq_order(db: Database) -> None:
    ticks = iter(datetime(2024, 1, 1) + timedelta(seconds=i) for i in range(10))
    log = AuditLog(db, clock=lambda: next(ticks))
    _fill(log, 5)
    times = [e.at for e in log.entries()]
    assert times == sorted(times)
    assert times[0].tzinfo is not None


@pytest.mark.parametrize(
    ("actor", "action", "detail"),
    [
        ("", "x", None),
        ("   ", "x", None),
        ("alice", "", None),
        (None, "x", None),
        ("alice", "x", ["not", "an", "object"]),
        ("alice", "x", "text"),
        ("alice", "x", {"when": datetime(2024, 1, 1)}),
        ("alice", "x", {"nan": math.nan}),
        ("alice", "x", {"inf": math.inf}),
    ],
)
def test_bad_input_is_refused_and_nothing_is_appended(
    log: AuditLog, actor: object, action: str, detail: object
) -> None:
    log.append("alice", "first")
    with pytest.raises(ValueError):
        log.append(actor, action, None, detail)  # type: ignore[arg-type]
    assert log.count() == 1
    assert log.verify().ok


def test_detail_round_trips(log: AuditLog) -> None:
    detail = {"nested": {"list": [1, None, "ü", 0.1]}, "big": 2**62, "neg": -3.5}
    appended = log.append("alice", "x", "s", detail)
    assert appended.detail == detail
    assert log.entries()[0].detail == detail
    assert log.verify().ok


def test_readonly_database_cannot_append(data_dir) -> None:
    with Database.open(data_dir) as db:
        AuditLog(db).append("alice", "x")
    with Database.open_readonly(data_dir) as db:
        log = AuditLog(db)
        with pytest.raises(StoreError):
            log.append("alice", "y")
        assert log.verify().rows == 1


def test_corrupt_detail_json_is_content_changed(db: Database, log: AuditLog) -> None:
    _fill(log, 3)
    # JSON columns accept any valid JSON; a scalar where an object was hashed must fail.
    db.execute("UPDATE audit_log SET detail = ? WHERE seq = 2", [json.dumps([1, 2])])
    result = log.verify()
    assert (result.first_bad_seq, result.reason) == (2, "content_changed")
