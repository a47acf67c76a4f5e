"""The DuckDB run store: compare-and-set, one active run per issue, MR lookup, artifacts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import bot.store.db as dbmod
from bot.errors import Conflict, RecordNotFound
from bot.jobs.subjects import MrAliases
from bot.store.db import Database
from bot.store.records import Records
from bot.store.runs import DuckDBRunStore
from bot.store.schema import MIGRATIONS
from bot.store.stats import collect_stats

REPO = "acme/app"


@pytest.fixture
def store(tmp_path: Path):
    db = Database.open(tmp_path / "data")
    yield DuckDBRunStore(db)
    db.close()


def _create(store: DuckDBRunStore, run_id: str = "r1", issue: int = 7, state: str = "running"):
    return store.create(
        run_id=run_id,
        forge="github",
        repo=REPO,
        issue_number=issue,
        state=state,
        phase="discovery",
        branch=f"agentforge/issue-{issue}",
        data={"phases": {"discovery": "running"}},
    )


def test_create_reads_back_at_version_one(store) -> None:
    run = _create(store)
    assert (run.version, run.state, run.phase, run.branch) == (
        1,
        "running",
        "discovery",
        "agentforge/issue-7",
    )
    assert run.data == {"phases": {"discovery": "running"}}
    assert store.get("r1") == run
    assert store.active_for_issue("github", REPO, 7) == run
    assert store.get("nope") is None


def test_second_active_run_for_an_issue_is_a_conflict(store) -> None:
    _create(store, "r1")
    with pytest.raises(Conflict):
        _create(store, "r2")
    # Nothing of the refused run was kept.
    assert store.get("r2") is None
    assert store.active_for_issue("github", REPO, 7).id == "r1"
    # Another issue, or the same issue on another forge, is free.
    _create(store, "r3", issue=8)


def test_same_run_id_twice_is_a_conflict(store) -> None:
    _create(store, "r1", issue=7, state="succeeded")
    with pytest.raises(Conflict):
        _create(store, "r1", issue=9)


def test_terminal_run_frees_the_issue(store) -> None:
    run = _create(store, "r1")
    done = store.compare_and_set("r1", run.version, state="succeeded")
    assert done is not None and done.terminal and done.version == 2
    assert store.active_for_issue("github", REPO, 7) is None
    assert store.latest_for_issue("github", REPO, 7).id == "r1"
    # A terminal run never changes again.
    assert store.compare_and_set("r1", done.version, phase="design") is None
    second = _create(store, "r2")
    assert store.active_for_issue("github", REPO, 7) == second
    assert store.latest_for_issue("github", REPO, 7).id == "r2"


def test_compare_and_set_needs_the_current_version(store) -> None:
    run = _create(store)
    moved = store.compare_and_set("r1", run.version, phase="design", data={"round": 2})
    assert (moved.version, moved.phase, moved.data, moved.state) == (
        2,
        "design",
        {"round": 2},
        "running",
    )
    assert store.compare_and_set("r1", run.version, phase="build") is None  # stale
    assert store.get("r1").phase == "design"
    assert store.compare_and_set("missing", 1, phase="x") is None


def test_compare_and_set_race_has_exactly_one_winner(store) -> None:
    run = _create(store)
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[object] = [None] * threads_n

    def contend(i: int) -> None:
        barrier.wait()
        results[i] = store.compare_and_set("r1", run.version, phase=f"p{i}", data={"by": i})

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = store.get("r1")
    assert final.version == 2
    assert final == winners[0]


def test_concurrent_creates_for_one_issue_leave_one_active_run(store) -> None:
    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(i: int) -> None:
        barrier.wait()
        try:
            _create(store, f"r{i}")
            outcome = "created"
        except Conflict:
            outcome = "conflict"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["created"]


def test_for_mr_finds_the_run_and_records_the_alias(store) -> None:
    run = _create(store)
    assert store.for_mr("github", REPO, 12) is None
    with_mr = store.compare_and_set("r1", run.version, mr_number=12)
    assert with_mr.mr_number == 12
    assert store.for_mr("github", REPO, 12).id == "r1"
    assert store.for_mr("gitlab", REPO, 12) is None
    # The alias is in memory for intake and in DuckDB for a restart.
    assert store.aliases.issue_for("github", REPO, 12) == 7
    fresh = MrAliases()
    assert fresh.load(store.db) == 1
    assert fresh.issue_for("github", REPO, 12) == 7


def test_a_lost_compare_and_set_writes_no_alias(store) -> None:
    run = _create(store)
    store.compare_and_set("r1", run.version, phase="design")
    assert store.compare_and_set("r1", run.version, mr_number=40) is None
    assert store.aliases.issue_for("github", REPO, 40) is None
    assert store.db.fetchall("SELECT * FROM mr_aliases") == []


def test_bad_values_are_refused_before_writing(store) -> None:
    with pytest.raises(ValueError):
        _create(store, "", issue=7)
    with pytest.raises(ValueError):
        _create(store, "r1", issue=0)
    run = _create(store)
    with pytest.raises(ValueError):
        store.compare_and_set("r1", run.version, mr_number=-3)
    with pytest.raises(ValueError):
        store.compare_and_set("r1", run.version, data={"x": object()})
    assert store.get("r1").version == 1


def test_record_phase_upserts_and_restarts_a_finished_phase(store) -> None:
    _create(store)
    store.record_phase("r1", "design", role="architect", state="running", gate="human")
    store.record_phase("r1", "design", role=None, state="approved", gate=None, mr_number=12)
    phase = Records(store.db).get_phase("r1", "design")
    assert (phase.role, phase.gate, phase.state, phase.mr_number) == (
        "architect",
        "human",
        "approved",
        12,
    )
    assert phase.finished_at is not None
    store.record_phase("r1", "design", role=None, state="running", gate=None)
    again = Records(store.db).get_phase("r1", "design")
    assert again.finished_at is None and again.started_at >= phase.started_at
    assert len(Records(store.db).list_phases("r1")) == 1
    with pytest.raises(RecordNotFound):
        store.record_phase("nope", "design", role=None, state="running", gate=None)


def test_artifacts_are_recorded_once_per_run_phase_path_commit(store) -> None:
    _create(store)
    for _ in range(3):  # a retried phase records the same files again
        store.add_artifact("r1", "build", "src/app.py", kind="code", commit_sha="c" * 40)
        store.add_artifact("r1", "build", "docs/x.md", kind="docs", commit_sha=None)
    store.add_artifact("r1", "build", "src/app.py", kind="code", commit_sha="d" * 40)
    got = [(a.path, a.commit_sha) for a in Records(store.db).list_artifacts("r1")]
    assert sorted(got) == sorted(
        [("src/app.py", "c" * 40), ("docs/x.md", None), ("src/app.py", "d" * 40)]
    )
    with pytest.raises(RecordNotFound):
        store.add_artifact("nope", "build", "a", kind=None, commit_sha=None)


def test_migration_upgrades_an_existing_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    # A data directory written by the previous release (schema 1 only).
    monkeypatch.setattr(dbmod, "MIGRATIONS", MIGRATIONS[:1])
    with Database.open(data) as old:
        records = Records(old)
        records.create_run(forge="github", repo=REPO, issue_number=3, run_id="old", state="done")
        records.start_phase("old", "design", role="architect", gate="human")
        for _ in range(2):
            records.add_artifact("old", "design", "docs/design.md", commit_sha="e" * 40)
            records.add_artifact("old", "design", "docs/notes.md")
        assert old.schema_version() == 1
    monkeypatch.setattr(dbmod, "MIGRATIONS", MIGRATIONS)
    with Database.open(data) as db:
        assert db.schema_version() == MIGRATIONS[-1][0]
        store = DuckDBRunStore(db, aliases=MrAliases())
        legacy = store.get("old")
        assert (legacy.version, legacy.data, legacy.mr_number, legacy.state) == (
            1,
            {},
            None,
            "done",
        )
        # Duplicates from before collapsed; the old API and stats still work.
        paths = sorted(a.path for a in Records(db).list_artifacts("old"))
        assert paths == ["docs/design.md", "docs/notes.md"]
        assert collect_stats(db)["runs"]
        # The upgraded store enforces its rules.
        _create(store, "new", issue=3)
        with pytest.raises(Conflict):
            _create(store, "newer", issue=3)
