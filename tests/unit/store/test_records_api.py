"""Runs, phases and artifacts through the Records API."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from bot.errors import RecordNotFound, StoreError
from bot.store.db import Database
from bot.store.records import Records


@pytest.fixture
def records():
    db = Database.in_memory()
    yield Records(db)
    db.close()


def test_create_and_get_run(records: Records) -> None:
    run = records.create_run(forge="github", repo="acme/app", issue_number=3, estimate_usd=1.5)
    assert run.state == "running"
    assert run.phase is None
    assert run.started_at.tzinfo == UTC
    assert records.get_run(run.id) == run
    assert records.find_run("nope") is None


def test_explicit_run_id_and_duplicates(records: Records) -> None:
    records.create_run(forge="gitlab", repo="g/p", run_id="run-1")
    with pytest.raises(StoreError):
        records.create_run(forge="gitlab", repo="g/p", run_id="run-1")
    assert len(records.list_runs()) == 1


def test_update_run_changes_only_given_fields(records: Records) -> None:
    run = records.create_run(forge="github", repo="acme/app", issue_number=3, estimate_usd=2.0)
    updated = records.update_run(run.id, state="waiting")
    assert (updated.state, updated.phase, updated.estimate_usd) == ("waiting", None, 2.0)
    assert updated.updated_at >= run.updated_at
    updated = records.update_run(run.id, phase="build", estimate_usd=3.0)
    assert (updated.state, updated.phase, updated.estimate_usd) == ("waiting", "build", 3.0)


def test_missing_run_is_record_not_found(records: Records) -> None:
    with pytest.raises(RecordNotFound):
        records.get_run("missing")
    with pytest.raises(RecordNotFound):
        records.update_run("missing", state="done")
    with pytest.raises(RecordNotFound):
        records.start_phase("missing", "design")
    with pytest.raises(RecordNotFound):
        records.add_artifact("missing", "design", "docs/a.md")
    assert records.list_runs() == []


def test_list_runs_filters_and_orders_newest_first(records: Records) -> None:
    a = records.create_run(forge="github", repo="acme/app", issue_number=1, run_id="a")
    b = records.create_run(forge="github", repo="acme/app", issue_number=2, run_id="b")
    records.create_run(forge="github", repo="acme/other", issue_number=1, run_id="c")
    records.update_run("b", state="done")
    assert [r.id for r in records.list_runs(repo="acme/app")] == [b.id, a.id]
    assert [r.id for r in records.list_runs(state="done")] == ["b"]
    assert [r.id for r in records.list_runs(repo="acme/app", issue_number=1)] == ["a"]
    assert len(records.list_runs(limit=2)) == 2


def test_phase_lifecycle(records: Records) -> None:
    run = records.create_run(forge="github", repo="acme/app", issue_number=3)
    phase = records.start_phase(run.id, "design", role="architect", gate="human")
    assert (phase.state, phase.finished_at, phase.mr_number) == ("running", None, None)
    assert records.get_run(run.id).phase == "design"
    phase = records.update_phase(run.id, "design", state="awaiting_approval", mr_number=12)
    assert (phase.state, phase.mr_number, phase.finished_at) == ("awaiting_approval", 12, None)
    phase = records.finish_phase(run.id, "design", state="approved")
    assert phase.state == "approved"
    assert phase.finished_at is not None and phase.finished_at >= phase.started_at
    assert (phase.role, phase.gate, phase.mr_number) == ("architect", "human", 12)
    records.start_phase(run.id, "build", role="developer", gate="tests")
    assert [p.name for p in records.list_phases(run.id)] == ["design", "build"]
    assert records.get_run(run.id).phase == "build"


def test_restarting_a_rejected_phase_reopens_it_and_keeps_its_mr(records: Records) -> None:
    run = records.create_run(forge="github", repo="acme/app", issue_number=3)
    records.start_phase(run.id, "design", role="architect", gate="human")
    records.finish_phase(run.id, "design", state="rejected", mr_number=7)
    again = records.start_phase(run.id, "design")
    assert (again.state, again.finished_at, again.mr_number) == ("running", None, 7)
    assert (again.role, again.gate) == ("architect", "human")
    assert len(records.list_phases(run.id)) == 1


def test_missing_phase_is_record_not_found(records: Records) -> None:
    run = records.create_run(forge="github", repo="acme/app")
    with pytest.raises(RecordNotFound):
        records.finish_phase(run.id, "design", state="approved")
    with pytest.raises(RecordNotFound):
        records.update_phase(run.id, "design", state="x")
    with pytest.raises(RecordNotFound):
        records.get_phase(run.id, "design")


def test_artifacts_per_run_and_phase(records: Records) -> None:
    run = records.create_run(forge="github", repo="acme/app", issue_number=3)
    other = records.create_run(forge="github", repo="acme/app", issue_number=4)
    records.add_artifact(run.id, "discovery", "docs/req.md", kind="requirements", commit_sha="a1")
    records.add_artifact(run.id, "build", "src/app.py", kind="code", commit_sha="b2")
    records.add_artifact(other.id, "build", "src/x.py")
    assert [a.path for a in records.list_artifacts(run.id)] == ["docs/req.md", "src/app.py"]
    only = records.list_artifacts(run.id, phase="build")
    assert [(a.path, a.kind, a.commit_sha) for a in only] == [("src/app.py", "code", "b2")]
    assert records.list_artifacts("nobody") == []


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.create_run(forge="", repo="a/b"),
        lambda r: r.create_run(forge="github", repo="  "),
        lambda r: r.create_run(forge="github", repo="a/b", state=""),
        lambda r: r.create_run(forge="github", repo="a/b", issue_number=0),
        lambda r: r.create_run(forge="github", repo="a/b", issue_number=True),
        lambda r: r.create_run(forge="github", repo="a/b", run_id=""),
        lambda r: r.update_run("r", state=""),
        lambda r: r.start_phase("r", ""),
        lambda r: r.update_phase("r", "design", mr_number=-1),
        lambda r: r.finish_phase("r", "design", state=""),
        lambda r: r.add_artifact("r", "design", ""),
    ],
)
def test_bad_arguments_are_refused_without_writing(records: Records, call) -> None:
    records.create_run(forge="github", repo="a/b", run_id="r")
    records.start_phase("r", "design")
    before = (records.list_runs(), records.list_phases("r"), records.list_artifacts("r"))
    with pytest.raises(ValueError):
        call(records)
    assert (records.list_runs(), records.list_phases("r"), records.list_artifacts("r")) == before


def test_readonly_records_can_be_read_not_written(data_dir: Path) -> None:
    with Database.open(data_dir) as db:
        Records(db).create_run(forge="github", repo="a/b", run_id="r")
    with Database.open_readonly(data_dir) as db:
        records = Records(db)
        assert records.get_run("r").repo == "a/b"
        with pytest.raises(StoreError):
            records.update_run("r", state="done")
