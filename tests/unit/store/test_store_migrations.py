"""Migrations are applied once, in order, and recorded in schema_version."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.store.db as dbmod
from bot.errors import StoreError
from bot.store.db import Database, writer_pid
from bot.store.schema import MIGRATIONS

TABLES = {"deliveries", "jobs", "runs", "phases", "artifacts", "model_usage", "audit_log"}


def _versions(db: Database) -> list[int]:
    return [row[0] for row in db.fetchall("SELECT version FROM schema_version ORDER BY version")]


def _tables(db: Database) -> set[str]:
    return {row[0] for row in db.fetchall("SELECT table_name FROM information_schema.tables")}


def test_fresh_open_applies_every_migration_and_records_it(data_dir: Path) -> None:
    with Database.open(data_dir) as db:
        assert _versions(db) == [v for v, _, _ in MIGRATIONS]
        assert db.schema_version() == MIGRATIONS[-1][0]
        assert _tables(db) >= TABLES


def test_reopen_applies_nothing_and_keeps_data(data_dir: Path) -> None:
    with Database.open(data_dir) as db:
        db.execute("INSERT INTO runs (id, forge, repo, state) VALUES ('r1', 'github', 'a/b', 'x')")
    with Database.open(data_dir) as db:
        assert db.migrate() == []
        assert _versions(db) == [v for v, _, _ in MIGRATIONS]
        assert db.fetchall("SELECT id FROM runs") == [("r1",)]


def test_appended_migration_is_applied_once(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Database.open(data_dir).close()
    nxt = MIGRATIONS[-1][0] + 1
    extra = (nxt, "test column", "ALTER TABLE runs ADD COLUMN note TEXT")
    monkeypatch.setattr(dbmod, "MIGRATIONS", [*MIGRATIONS, extra])
    with Database.open(data_dir) as db:
        assert db.schema_version() == nxt
        assert db.migrate() == []
        assert "note" in {row[0] for row in db.fetchall("DESCRIBE runs")}
    with Database.open(data_dir) as db:
        assert _versions(db)[-1] == nxt
        assert len(_versions(db)) == len(MIGRATIONS) + 1


def test_failing_migration_rolls_back_and_releases_the_lock(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Database.open(data_dir).close()
    nxt = MIGRATIONS[-1][0] + 1
    bad = [
        *MIGRATIONS,
        (nxt, "half good", "CREATE TABLE t_new (x INTEGER); ALTER TABLE no_such ADD COLUMN y INT"),
    ]
    monkeypatch.setattr(dbmod, "MIGRATIONS", bad)
    with pytest.raises(StoreError):
        Database.open(data_dir)
    assert writer_pid(data_dir) is None
    monkeypatch.setattr(dbmod, "MIGRATIONS", MIGRATIONS)
    with Database.open(data_dir) as db:
        assert db.schema_version() == MIGRATIONS[-1][0]
        assert "t_new" not in _tables(db)


def test_in_memory_database_is_migrated() -> None:
    db = Database.in_memory()
    try:
        assert db.schema_version() == MIGRATIONS[-1][0]
        assert _tables(db) >= TABLES
    finally:
        db.close()


def test_migration_versions_are_strictly_increasing() -> None:
    versions = [v for v, _, _ in MIGRATIONS]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


def test_readonly_open_without_records_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Database.open_readonly(tmp_path / "nothing-here")


def test_readonly_database_refuses_writes(data_dir: Path) -> None:
    Database.open(data_dir).close()
    with Database.open_readonly(data_dir) as db:
        assert db.read_only
        with pytest.raises(StoreError), db.transaction():
            pass
