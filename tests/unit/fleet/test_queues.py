"""Queues and priorities: lanes with their own limits, priority within a lane, per-subject
order across queues, follow-ups stored with their job's completion."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import pytest

from bot.events import EventKind
from bot.intake.journal import decode, encode
from bot.jobs.dispatch import InProcessDispatcher
from bot.jobs.followups import CONTINUE_EVENT
from bot.jobs.priorities import HEAVY, LIGHT, PRIORITY_COMMAND, PRIORITY_WORK, classify
from bot.jobs.queue import Delivery, JobQueue, Stored
from bot.jobs.worker import WorkerPool
from bot.parsers import parse_event
from bot.store.db import Database
from handlers.registry import HandlerRegistry
from handlers.services import Services
from tests.conftest import webhook_path

REPO = "Codertocat/Hello-World"


def body(name: str, **patch) -> bytes:
    data = json.loads(webhook_path("github", name).read_bytes())
    for dotted, value in patch.items():
        target = data
        *path, last = dotted.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return json.dumps(data).encode()


def delivery(n: int, name: str, event_name: str, subject: str | None, **patch) -> Delivery:
    """A delivery placed the way intake places it (bot.jobs.priorities.classify)."""
    payload = body(name, **patch)
    placement = classify(parse_event("github", event_name, payload, f"d{n}"))
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name=event_name,
        payload=payload,
        content_key=f"c{n}",
        subject=subject,
        repo=REPO,
        queue=placement.queue,
        priority=placement.priority,
    )


def new_issue(n: int) -> Delivery:
    return delivery(n, "issues.opened.json", "issues", f"github:{REPO}:issue:{1000 + n}")


def push(n: int) -> Delivery:
    return delivery(n, "push.branch.sample-app.json", "push", f"github:{REPO}:push:{n}")


def approve(n: int, subject: str) -> Delivery:
    return delivery(
        n,
        "issue_comment.created.variant-1.json",
        "issue_comment",
        subject,
        comment__body="/approve",
    )


@pytest.fixture
def queue(tmp_path):
    db = Database.open(tmp_path / "data")
    q = JobQueue(db, max_attempts=2, backoff_seconds=0)
    yield q
    q.close()
    db.close()


def wait_for(predicate, seconds: float = 30) -> bool:
    pause = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return True
        pause.wait(0.02)
    return predicate()


@pytest.mark.parametrize(
    ("name", "event_name", "patch", "expected"),
    [
        (
            "issue_comment.created.variant-1.json",
            "issue_comment",
            {"comment__body": "/approve"},
            (LIGHT, PRIORITY_COMMAND),
        ),
        (
            "issue_comment.created.variant-1.json",
            "issue_comment",
            {"comment__body": "looks good\n/cancel"},
            (LIGHT, PRIORITY_COMMAND),
        ),
        (
            "issue_comment.created.variant-1.json",
            "issue_comment",
            {"comment__body": "thanks, looks good"},
            (HEAVY, PRIORITY_WORK),
        ),
        (
            "issue_comment.created.variant-1.json",
            "issue_comment",
            {"comment__body": "  /agentforge status"},
            (LIGHT, PRIORITY_COMMAND),
        ),
        (
            "issue_comment.created.variant-1.json",
            "issue_comment",
            {"comment__body": "> /approve\nquoted"},
            (HEAVY, PRIORITY_WORK),
        ),
        (
            "issue_comment.edited.json",
            "issue_comment",
            {"comment__body": "/approve"},
            (HEAVY, PRIORITY_WORK),
        ),
        ("issues.opened.json", "issues", {}, (HEAVY, PRIORITY_WORK)),
        ("issues.labeled.json", "issues", {}, (HEAVY, PRIORITY_WORK)),
        ("issues.closed.json", "issues", {}, (LIGHT, PRIORITY_WORK)),
        (
            "pull_request_review.submitted.approved.owners-bot.json",
            "pull_request_review",
            {},
            (LIGHT, PRIORITY_COMMAND),
        ),
        ("push.branch.sample-app.json", "push", {}, (LIGHT, PRIORITY_WORK)),
        ("check_suite.completed.variant-1.json", "check_suite", {}, (LIGHT, PRIORITY_WORK)),
    ],
)
def test_intake_classifies_from_the_event(name, event_name, patch, expected) -> None:
    placement = classify(parse_event("github", event_name, body(name, **patch), "d"))
    assert (placement.queue, placement.priority) == expected


def test_the_reconcile_sweep_comes_last_in_the_heavy_lane() -> None:
    from datetime import UTC, datetime

    from bot.jobs.priorities import PRIORITY_RECONCILE
    from bot.jobs.reconcile import delivery as sweep

    d = sweep("github", REPO, datetime(2026, 1, 1, tzinfo=UTC))
    assert (d.queue, d.priority) == (HEAVY, PRIORITY_RECONCILE)


def test_a_burst_of_heavy_jobs_delays_an_approve_by_at_most_one_light_job(queue) -> None:
    # 50 new issues (heavy) and 10 pushes (light, ordinary priority) wait; the heavy
    # lane is full and blocked; one light job runs (blocked) when /approve arrives.
    for n in range(50):
        queue.enqueue(new_issue(n))
    for n in range(50, 60):
        queue.enqueue(push(n))
    order: list[str] = []
    first_light, release_light, release_heavy = (threading.Event() for _ in range(3))

    def on_issue(event, ctx):
        order.append("heavy")
        release_heavy.wait(30)
        return []

    def on_light(event, ctx):
        order.append(event.kind.value)
        if not first_light.is_set():
            first_light.set()
            release_light.wait(30)
        return []

    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE, on_issue)
    registry.register(EventKind.PUSH, on_light)
    registry.register(EventKind.ISSUE_COMMENT, on_light)
    pool = WorkerPool(
        queue, InProcessDispatcher(registry), lanes={"light": 1, "heavy": 2}, poll_seconds=0.05
    )
    pool.start()
    try:
        assert first_light.wait(30)
        approve_id = queue.enqueue(approve(99, f"github:{REPO}:issue:1")).job_id
        release_light.set()
        assert wait_for(lambda: queue.get(approve_id)["state"] == "done")
        light = [kind for kind in order if kind != "heavy"]
        # Only the push that was already running ran before the /approve.
        assert light.index("issue_comment") <= 1
        assert light[0] == "push"
        # The heavy lane never held it up: its two jobs are still blocked.
        assert order.count("heavy") == 2
        depth = queue.depth_by_queue()
        # (Two run; the heavy lane leases one job per thread ahead: four are leased.)
        assert depth[("heavy", "running")] + depth[("heavy", "queued")] == 50
        assert depth[("heavy", "queued")] >= 46
    finally:
        release_heavy.set()
        pool.stop(grace=10)


def test_during_a_burst_only_the_light_lane_starts_jobs(queue, monkeypatch) -> None:
    # Two new issues (heavy): the first runs and holds its worker, the second is leased
    # for it ahead of time. A burst starts: when the first finishes, the second waits
    # for the burst to end, while an /approve (light) runs at once.
    saturated = threading.Event()
    monkeypatch.setattr(queue, "intake_saturated", saturated.is_set)
    first_id = queue.enqueue(new_issue(1)).job_id
    second_id = queue.enqueue(new_issue(2)).job_id
    started: list[int] = []
    first_running, release_first = threading.Event(), threading.Event()

    def on_issue(event, ctx):
        started.append(ctx.job_id)
        if ctx.job_id == first_id:
            first_running.set()
            release_first.wait(30)
        return []

    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE, on_issue)
    registry.register(EventKind.ISSUE_COMMENT, lambda event, ctx: [])
    pool = WorkerPool(
        queue,
        InProcessDispatcher(registry),
        lanes={"light": 1, "heavy": 1},
        poll_seconds=0.05,
        intake_priority_seconds=0.01,
        intake_saturated_seconds=60,
    )
    pool.start()
    try:
        assert first_running.wait(30)
        assert wait_for(lambda: queue.get(second_id)["state"] == "running")  # leased ahead
        saturated.set()
        approve_id = queue.enqueue(approve(3, f"github:{REPO}:issue:9")).job_id
        pool.wake()
        assert wait_for(lambda: queue.get(approve_id)["state"] == "done")
        release_first.set()
        assert wait_for(lambda: queue.get(first_id)["state"] == "done")
        assert not wait_for(lambda: second_id in started, seconds=0.5)
        saturated.clear()
        assert wait_for(lambda: queue.get(second_id)["state"] == "done")
    finally:
        release_first.set()
        pool.stop(grace=10)


def test_a_subjects_jobs_keep_arrival_order_across_queues(queue) -> None:
    # A heavy job (the issue's run) arrives first, then an /approve on the same issue:
    # the free light lane must wait for the heavy job of the subject.
    subject = f"github:{REPO}:issue:1"
    heavy_id = queue.enqueue(delivery(1, "issues.labeled.json", "issues", subject)).job_id
    light_id = queue.enqueue(approve(2, subject)).job_id
    other_id = queue.enqueue(approve(3, f"github:{REPO}:issue:2")).job_id
    events: list[str] = []
    heavy_started, release = threading.Event(), threading.Event()

    def on_issue(event, ctx):
        events.append("heavy start")
        heavy_started.set()
        release.wait(30)
        events.append("heavy end")
        return []

    def on_comment(event, ctx):
        events.append(f"light {ctx.job_id}")
        return []

    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE, on_issue)
    registry.register(EventKind.ISSUE_COMMENT, on_comment)
    pool = WorkerPool(
        queue, InProcessDispatcher(registry), lanes={"light": 2, "heavy": 1}, poll_seconds=0.05
    )
    pool.start()
    try:
        assert heavy_started.wait(30)
        # Another subject's light job is not held up by it.
        assert wait_for(lambda: queue.get(other_id)["state"] == "done")
        assert queue.get(light_id)["state"] == "queued"
        release.set()
        assert wait_for(lambda: queue.get(light_id)["state"] == "done")
    finally:
        release.set()
        pool.stop(grace=10)
    assert events.index("heavy end") < events.index(f"light {light_id}")
    assert queue.get(heavy_id)["state"] == "done"


def _services_for(job, event):
    # Just what the dispatcher reads; the handler below asks for a continuation.
    from bot.jobs.followups import RecordedContinuations

    later = RecordedContinuations() if job.queue == LIGHT else None
    return Services(
        forge=None,
        runs=None,
        repo=None,
        config=None,
        roles=None,
        context=None,
        actions=None,
        clock=None,
        heartbeat=lambda: None,
        continuations=later,
    )


def test_a_light_jobs_continuation_becomes_a_heavy_job_of_the_same_subject(queue) -> None:
    subject = f"github:{REPO}:issue:1"
    light_id = queue.enqueue(approve(1, subject)).job_id
    seen: list[tuple[str, int | None, str | None]] = []

    def on_comment(event, ctx):
        if ctx.services.continuations is not None:
            ctx.services.continuations.continue_run(REPO, 1, "phase design")
        return []

    def on_continue(event, ctx):
        seen.append((event.kind.value, event.number, event.actor.login))
        return []

    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, on_comment)
    registry.register(EventKind.CONTINUE, on_continue)
    pool = WorkerPool(
        queue,
        InProcessDispatcher(registry, services=_services_for),
        lanes={"light": 1, "heavy": 1},
        poll_seconds=0.05,
    )
    pool.start()
    try:
        assert wait_for(lambda: len(seen) == 1)
    finally:
        pool.stop(grace=10)
    light = queue.get(light_id)
    assert light["result"]["followups"] == [{"repo": REPO, "issue": 1, "reason": "phase design"}]
    (follow,) = [j for j in queue.list() if j["event_name"] == CONTINUE_EVENT]
    assert follow["subject"] == subject and follow["queue"] == HEAVY
    assert follow["priority"] == PRIORITY_COMMAND and follow["id"] > light_id
    assert follow["state"] == "done"
    assert seen == [("continue", 1, "Codertocat")]


def test_followups_are_stored_only_with_a_completion_that_lands(queue) -> None:
    from bot.jobs.queue import Finished, Followup

    queue.enqueue(approve(1, f"github:{REPO}:issue:1"))
    (job,) = queue.lease_many("w1", 1)
    follow = Followup("continue:x:0", CONTINUE_EVENT, b"{}", HEAVY, 0)
    queue.reap_expired(owner_prefix="w1")  # the lease is lost before the job finishes
    states, _ = queue.cycle([Finished(job, {"handled": True}, followups=(follow,))])
    assert states[job.id] is None
    assert [j for j in queue.list() if j["event_name"] == CONTINUE_EVENT] == []


def test_journal_records_keep_queue_and_priority_and_old_ones_read_as_heavy() -> None:
    d = approve(1, "s")
    stored = Stored(d, 7, datetime(2026, 1, 1))
    back = decode(encode(stored)[8:])
    assert (back.delivery.queue, back.delivery.priority) == (LIGHT, PRIORITY_COMMAND)
    raw = encode(stored)[8:]
    line, _, payload = raw.partition(b"\n")
    meta = json.loads(line)
    del meta["queue"], meta["priority"]
    old = decode(json.dumps(meta).encode() + b"\n" + payload)
    assert (old.delivery.queue, old.delivery.priority) == (HEAVY, PRIORITY_WORK)


def test_jobs_stored_before_the_migration_are_heavy(tmp_path, monkeypatch) -> None:
    from bot.store import db as dbmod
    from bot.store.schema import MIGRATIONS

    monkeypatch.setattr(dbmod, "MIGRATIONS", [m for m in MIGRATIONS if m[0] < 3])
    with Database.open(tmp_path / "d") as old:
        old.execute(
            "INSERT INTO jobs (id, forge, event_name, payload) VALUES (1, 'github', 'issues', '')"
        )
    monkeypatch.setattr(dbmod, "MIGRATIONS", MIGRATIONS)
    with Database.open(tmp_path / "d") as db:
        assert db.fetchall("SELECT queue, priority FROM jobs") == [("heavy", 1)]


def test_intake_places_jobs_and_metrics_and_jobs_list_show_the_queues(data_dir) -> None:
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from bot.cli import cli
    from bot.intake.server import create_app
    from bot.settings import load_settings
    from tests.unit.server.helpers import GH_SECRET, github_delivery

    settings = load_settings(github_webhook_secret=GH_SECRET)
    app = create_app(settings, start_workers=False)
    with TestClient(app) as client:
        state = app.state.agentforge
        command = github_delivery(delivery="a-1", comment__body="/approve")
        issue = github_delivery("issues.opened.json", "issues", "a-2")
        ids = [
            client.post("/webhooks/github", content=b, headers=h).json()["job_id"]
            for b, h in (command, issue)
        ]
        assert state.intake.flush(10)
        placed = state.db.fetchall("SELECT id, queue, priority FROM jobs ORDER BY id")
        assert placed == [(ids[0], LIGHT, PRIORITY_COMMAND), (ids[1], HEAVY, PRIORITY_WORK)]
        text = client.get("/metrics").text
        assert 'agentforge_queue_jobs{queue="light",state="queued"} 1.0' in text
        assert 'agentforge_queue_jobs{queue="heavy",state="queued"} 1.0' in text
    listing = CliRunner().invoke(cli, ["jobs", "list"]).output.splitlines()
    assert listing[0].split()[4:6] == ["QUEUE", "PRI"]
    rows = {line.split()[0]: line.split() for line in listing[1:]}
    assert rows[str(ids[0])][4:6] == ["light", "0"]
    assert rows[str(ids[1])][4:6] == ["heavy", "1"]
