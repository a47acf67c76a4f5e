"""The local forge keeps its DuckDB file open briefly after each operation.

One job makes dozens of forge operations; reopening the file for each costs a new
database instance and a checkpoint. These tests pin what must stay true while it is
kept open: other processes still get in, a release really closes the file, and a
forge re-created at the same path is never read through the old instance.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bot.forges.local import LocalForge
from bot.forges.local_store import DB_NAME, LocalStore, release_all

REPO = "acme/app"


@pytest.fixture
def forge(tmp_path: Path) -> LocalForge:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    forge = LocalForge(tmp_path / "forge", "olivia")
    forge.init_project(REPO, seed)
    yield forge
    release_all()


def _in_other_process(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_an_operation_keeps_the_file_for_the_next_one(forge):
    forge.create_issue(REPO, "First")
    store = LocalStore(forge.directory)
    assert store.keeper.holding
    # Every store of the directory shares the one keeper (one instance per process).
    assert LocalForge(forge.directory, "bob").list_issues(REPO)[0].title == "First"
    assert store.keeper is LocalStore(forge.directory).keeper


def test_another_process_gets_the_forge_while_this_one_keeps_it(forge):
    forge.create_issue(REPO, "Mine")
    assert LocalStore(forge.directory).keeper.holding
    code = (
        "from bot.forges.local import LocalForge\n"
        f"f = LocalForge({str(forge.directory)!r}, 'bob')\n"
        f"f.create_issue({REPO!r}, 'Theirs')\n"
        f"print(sorted(i.title for i in f.list_issues({REPO!r})))\n"
    )
    done = _in_other_process(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['Mine', 'Theirs']"
    # And this process sees the other one's write (its instance was closed meanwhile).
    assert sorted(i.title for i in forge.list_issues(REPO)) == ["Mine", "Theirs"]


def test_release_closes_the_file(forge):
    forge.create_issue(REPO, "One")
    with LocalStore(forge.directory).connect("counting") as con:
        events = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    keeper = LocalStore(forge.directory).keeper
    keeper.release()
    assert not keeper.holding
    # A plain DuckDB open (no retry) from another process succeeds at once.
    path = forge.directory / DB_NAME
    done = _in_other_process(
        f"import duckdb; print(duckdb.connect({str(path)!r}).execute("
        "'SELECT count(*) FROM outbox').fetchone()[0])"
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == events > 0


def test_a_forge_recreated_at_the_same_path_is_read_fresh(forge, tmp_path):
    forge.create_issue(REPO, "Old")
    assert LocalStore(forge.directory).keeper.holding
    shutil.rmtree(forge.directory)
    again = LocalForge(forge.directory, "olivia")
    again.init_project(REPO, tmp_path / "seed")
    assert again.list_issues(REPO) == []


def _half_write(store: LocalStore) -> None:
    with store.connect("testing") as con:
        con.execute("INSERT INTO meta VALUES ('k', 'v')")
        con.execute("SELECT * FROM no_such_table")


def test_a_failed_operation_leaves_nothing_half_written(forge):
    with pytest.raises(duckdb.Error):
        _half_write(LocalStore(forge.directory))
    with LocalStore(forge.directory).connect("reading") as con:
        assert con.execute("SELECT count(*) FROM meta WHERE key = 'k'").fetchone()[0] == 0
