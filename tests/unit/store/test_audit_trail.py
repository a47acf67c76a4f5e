"""Audit rows beyond the executor's: run state changes, commands, refusals, model calls."""

from __future__ import annotations

import dataclasses

import pytest

from agents.usage import UsageRecord
from bot.audit_trail import AuditedRunStore, AuditedUsageLedger, ShellAuditTrail
from bot.errors import StoreError
from bot.store.audit import AuditLog
from bot.store.db import Database
from bot.store.records import DuckDBLedger
from bot.store.runs import DuckDBRunStore
from tests.unit.workflow.fakes import REPO
from tests.unit.workflow.support import all_human, bot


@pytest.fixture
def db(tmp_path):
    database = Database.open(tmp_path / "data")
    yield database
    database.close()


def rows(audit: AuditLog, action: str | None = None):
    found = audit.entries(limit=10_000)
    return [r for r in found if action is None or r.action == action]


def data(state: str = "waiting") -> dict:
    return {
        "started_by": "erin",
        "trigger": "label",
        "phases": [{"name": "design", "state": state}],
    }


def test_a_new_run_and_each_change_of_its_state_is_a_row(db):
    audit = AuditLog(db)
    runs = AuditedRunStore(DuckDBRunStore(db), audit)
    run = runs.create(
        run_id="7-abc",
        forge="github",
        repo=REPO,
        issue_number=7,
        state="running",
        phase="design",
        branch="agentforge/issue-7",
        data=data("running"),
    )
    (created,) = rows(audit, "run.created")
    assert created.actor == "erin" and created.subject == f"github:{REPO}#7"
    assert created.detail["trigger"] == "label"
    changed = runs.compare_and_set(
        run.id, run.version, state="waiting", data=data("needs_approval")
    )
    assert changed is not None
    (row,) = rows(audit, "run.changed")
    assert row.detail["state"] == {"from": "running", "to": "waiting"}
    assert row.detail["phases"] == {"design": {"from": "running", "to": "needs_approval"}}
    # A change of bookkeeping only (no state, phase or phase state) is not a row.
    same = {**data("needs_approval"), "status_comment_id": "55"}
    assert runs.compare_and_set(run.id, changed.version, data=same) is not None
    assert len(rows(audit, "run.changed")) == 1
    # A lost compare-and-set changed nothing: no row.
    assert runs.compare_and_set(run.id, 1, state="failed") is None
    assert len(rows(audit, "run.changed")) == 1
    # Reads pass through.
    assert runs.get(run.id).state == "waiting"
    assert audit.verify().ok


def test_every_model_call_is_a_row_without_secrets(db):
    audit = AuditLog(db)
    ledger = AuditedUsageLedger(DuckDBLedger(db), audit)
    ledger.record(
        UsageRecord(
            run_id="7-abc",
            phase="build",
            role="developer",
            repo=REPO,
            issue_number=7,
            provider="openai",
            model="gpt-x",
            input_tokens=10,
            output_tokens=5,
            cost_usd=0.01,
            ok=False,
            error="401 from provider: key sk-abcdefghijklmnopqrstuvwxyz0123456789 rejected",
        )
    )
    (row,) = rows(audit, "model.call")
    assert row.detail["model"] == "gpt-x" and row.detail["ok"] is False
    assert "sk-abcdefghijklmnopqrstuvwxyz0123456789" not in str(row.detail)
    assert ledger.spent(run_id="7-abc") == pytest.approx(0.01)


def test_an_audit_write_that_fails_fails_the_change(db, tmp_path):
    class Broken(AuditLog):
        def append(self, *args, **kwargs):
            raise StoreError("disk full")

    runs = AuditedRunStore(DuckDBRunStore(db), Broken(db))
    with pytest.raises(StoreError):
        runs.create(
            run_id="7-x",
            forge="github",
            repo=REPO,
            issue_number=7,
            state="running",
            phase=None,
            branch=None,
            data=data(),
        )


def test_commands_and_refusals_are_rows_even_when_the_reply_is_throttled(db):
    audit = AuditLog(db)
    b = bot(all_human())
    services = b.w.services
    trail = ShellAuditTrail(audit, "github")
    from bot.limits_store import DuckDBLimitLedger

    ledger = DuckDBLimitLedger(db)
    b.w.services = lambda: dataclasses.replace(services(), audit=trail, limits=ledger)  # type: ignore[method-assign]
    b.label()
    b.comment("/approve", who="mallory")
    b.comment("/approve", who="mallory")  # throttled reply, still recorded
    b.approve("alice")
    commands = rows(audit, "command")
    assert [(r.actor, r.detail["name"]) for r in commands] == [
        ("mallory", "approve"),
        ("mallory", "approve"),
        ("alice", "approve"),
    ]
    refused = rows(audit, "refused")
    assert [r.detail["replied"] for r in refused] == [True, False]
    assert all(r.actor == "mallory" and r.subject == f"github:{REPO}#7" for r in refused)
    assert audit.verify().ok


def test_a_refused_run_start_is_a_row(db):
    audit = AuditLog(db)
    b = bot(all_human())
    services = b.w.services
    trail = ShellAuditTrail(audit, "github")
    b.w.services = lambda: dataclasses.replace(services(), audit=trail)  # type: ignore[method-assign]
    b.label(who="mallory")  # read permission: waits for /agentforge ok-to-run
    (row,) = rows(audit, "refused")
    assert row.detail["what"] == "run start" and row.detail["why"] == "untrusted"
    assert rows(audit, "run.created") == []
