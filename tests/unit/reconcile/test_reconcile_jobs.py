"""Reconcile jobs: the synthetic event, the scheduler, the repositories swept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.errors import PayloadError
from bot.events import EventKind
from bot.jobs.reconcile import RECONCILE_EVENT, ReconcileScheduler, delivery, known_repos
from bot.parsers import parse_event
from bot.store.db import Database

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def test_a_sweep_job_parses_into_a_reconcile_event_by_a_bot():
    d = delivery("github", "acme/app", AT)
    event = parse_event("github", d.event_name, d.payload, d.delivery_id)
    assert event.kind == EventKind.RECONCILE and event.repo.full_name == "acme/app"
    assert event.actor.is_bot and event.number is None
    assert d.subject == "github:acme/app:reconcile"
    assert d.delivery_id == "reconcile:acme/app:20250301T0930"


def test_a_sweep_job_without_a_repository_is_refused():
    with pytest.raises(PayloadError):
        parse_event("github", RECONCILE_EVENT, json.dumps({"at": AT.isoformat()}).encode())


def test_repositories_with_runs_and_exact_allowlist_names_are_swept():
    db = Database.in_memory()
    db.execute("INSERT INTO runs (id, forge, repo, state) VALUES ('r1', 'github', 'acme/app', 'x')")
    db.execute("INSERT INTO runs (id, forge, repo, state) VALUES ('r2', 'gitlab', 'grp/p', 'x')")
    found = known_repos(db, ["acme/lib", "acme/*"], ["github"])
    assert found == [("github", "acme/app"), ("github", "acme/lib")]


def test_the_scheduler_enqueues_one_sweep_per_repository_at_start():
    queued = []
    scheduler = ReconcileScheduler(
        queued.append,
        lambda: [("github", "acme/app"), ("gitlab", "grp/p")],
        interval=3600,
        clock=lambda: AT,
    )
    scheduler.start()
    scheduler.stop()
    assert [(d.forge, d.repo) for d in queued] == [("github", "acme/app"), ("gitlab", "grp/p")]
    assert all(d.event_name == RECONCILE_EVENT for d in queued)


def test_a_sweep_acts_as_the_bot_when_its_login_is_known():
    d = delivery("github", "acme/app", AT, actor="agentforge-bot")
    event = parse_event("github", d.event_name, d.payload, d.delivery_id)
    assert event.actor.login == "agentforge-bot" and event.actor.is_bot
