"""DuckDBRunStore.list_runs: what the reconcile sweep and the watchdog read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.db import Database
from bot.store.runs import DuckDBRunStore


@pytest.fixture
def store(tmp_path: Path):
    db = Database.open(tmp_path / "data")
    yield DuckDBRunStore(db)
    db.close()


def _create(store, run_id, repo, issue, state="running", forge="github"):
    return store.create(
        run_id=run_id,
        forge=forge,
        repo=repo,
        issue_number=issue,
        state=state,
        phase="discovery",
        branch=f"agentforge/issue-{issue}",
        data={},
    )


def test_runs_are_listed_by_forge_repository_and_state(store):
    _create(store, "a", "acme/app", 1)
    _create(store, "b", "acme/app", 2, state="waiting")
    _create(store, "c", "acme/lib", 3)
    _create(store, "d", "acme/app", 4, forge="gitlab")
    assert {r.id for r in store.list_runs(forge="github")} == {"a", "b", "c"}
    assert {r.id for r in store.list_runs(forge="github", repo="acme/app")} == {"a", "b"}
    running = store.list_runs(forge="github", repo="acme/app", states=["running"])
    assert [r.id for r in running] == ["a"]
    assert store.list_runs(forge="github", states=[]) == []
