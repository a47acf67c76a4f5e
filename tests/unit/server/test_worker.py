"""Workers and the dispatcher: handlers run once per job, failures are recorded, logs carry ids."""

from __future__ import annotations

import io
import json
import threading

import pytest

from bot.actions import PostComment
from bot.events import EventKind
from bot.jobs.dispatch import InProcessDispatcher
from bot.jobs.queue import Delivery, JobQueue
from bot.jobs.worker import WorkerPool
from bot.logs import configure_logging
from bot.store.db import Database
from handlers.registry import HandlerRegistry

from .helpers import fixture_bytes


@pytest.fixture
def queue(tmp_path):
    db = Database.open(tmp_path / "data")
    q = JobQueue(db, max_attempts=2, backoff_seconds=0)
    yield q
    q.close()
    db.close()


def comment_delivery(n: int, subject: str = "github:Codertocat/Hello-World:issue:1") -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name="issue_comment",
        payload=fixture_bytes("github", "issue_comment.created.variant-1.json"),
        content_key=f"c{n}",
        subject=subject,
    )


def run_until_settled(queue: JobQueue, registry: HandlerRegistry, workers: int = 2) -> WorkerPool:
    pool = WorkerPool(queue, InProcessDispatcher(registry), workers=workers, poll_seconds=0.05)
    pool.start()
    try:
        for _ in range(400):
            depth = queue.depth()
            if depth["queued"] == depth["running"] == depth["failed"] == 0:
                break
            threading.Event().wait(0.025)
    finally:
        pool.stop(grace=5)
    return pool


def test_job_without_handler_is_done_and_not_handled(queue) -> None:
    job_id = queue.enqueue(comment_delivery(1)).job_id
    run_until_settled(queue, HandlerRegistry())
    job = queue.get(job_id)
    assert job["state"] == "done"
    assert job["result"] == {"handled": False, "reason": "no handler for issue_comment"}


def test_nothing_handled_is_logged_with_its_reason_at_info(queue) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        queue.enqueue(comment_delivery(1))
        run_until_settled(queue, HandlerRegistry(), workers=1)
    finally:
        configure_logging("WARNING", "json")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    done = [line for line in lines if line.get("event") == "job done"]
    assert len(done) == 1
    assert done[0]["level"] == "info"
    assert done[0]["handled"] is False
    assert done[0]["reason"] == "no handler for issue_comment"


def test_handler_actions_are_recorded_and_order_kept(queue) -> None:
    registry = HandlerRegistry()
    seen: list[str] = []

    def handler(event, ctx):
        seen.append(ctx.delivery_id)
        return [PostComment(repo=event.repo.full_name, number=event.number, body="hi")]

    registry.register(EventKind.ISSUE_COMMENT, handler)
    registry.register(EventKind.ISSUE_COMMENT, handler)  # registering twice is a no-op
    ids = [queue.enqueue(comment_delivery(n)).job_id for n in range(5)]
    run_until_settled(queue, registry, workers=3)
    assert seen == ["d0", "d1", "d2", "d3", "d4"]  # same issue: one at a time, in order
    result = queue.get(ids[0])["result"]
    assert result["handled"] is True
    assert result["actions"][0]["type"] == "comment" and result["actions"][0]["number"] == 1
    assert registry.unregister(EventKind.ISSUE_COMMENT, handler)
    assert not registry.unregister(EventKind.ISSUE_COMMENT, handler)


def test_failing_handler_is_retried_then_dead(queue) -> None:
    registry = HandlerRegistry()
    calls = []

    def broken(event, ctx):
        calls.append(ctx.attempt)
        raise RuntimeError("handler bug")

    registry.register(EventKind.ISSUE_COMMENT, broken)
    job_id = queue.enqueue(comment_delivery(1)).job_id
    run_until_settled(queue, registry)
    job = queue.get(job_id)
    assert calls == [1, 2]
    assert job["state"] == "dead" and "RuntimeError" in job["last_error"]


def test_unparseable_stored_body_is_dead_at_once(queue) -> None:
    bad = Delivery(forge="github", delivery_id="x", event_name="issues", payload=b"{}")
    job_id = queue.enqueue(bad).job_id
    run_until_settled(queue, HandlerRegistry())
    job = queue.get(job_id)
    assert job["state"] == "dead" and job["attempts"] == 1


def test_every_job_log_line_carries_the_delivery_id(queue) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        queue.enqueue(comment_delivery(1))
        run_until_settled(queue, HandlerRegistry(), workers=1)
    finally:
        configure_logging("WARNING", "json")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    job_lines = [
        line for line in lines if line.get("component") == "bot.jobs.worker" and "job_id" in line
    ]
    assert {line["event"] for line in job_lines} >= {"job started", "job done"}
    assert all(line["delivery_id"] == "d1" for line in job_lines)


def test_stop_releases_a_job_that_does_not_finish(queue) -> None:
    registry = HandlerRegistry()
    started, release = threading.Event(), threading.Event()

    def slow(event, ctx):
        started.set()
        release.wait(10)
        return []

    registry.register(EventKind.ISSUE_COMMENT, slow)
    job_id = queue.enqueue(comment_delivery(1)).job_id
    pool = WorkerPool(queue, InProcessDispatcher(registry), workers=1, poll_seconds=0.05)
    pool.start()
    assert started.wait(10)
    released = pool.stop(grace=0)
    release.set()
    assert released == [job_id]
    job = queue.get(job_id)
    assert job["state"] == "queued" and job["attempts"] == 0


def wait_for(predicate, seconds: float = 20) -> bool:
    stop = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return True
        stop.wait(0.02)
    return predicate()


def timing_out_while(busy):
    """A stand-in for JobQueue.wait_intake_idle: times out while ``busy()``."""

    def wait_intake_idle(timeout: float) -> bool:
        if busy():
            threading.Event().wait(min(timeout, 0.01))
            return False
        return True

    return wait_intake_idle


def test_finished_jobs_free_their_places_in_the_same_round(queue) -> None:
    # A pool whose idle poll is a minute long: had a round that records a full pool's
    # finished jobs leased nothing, the rest would wait a minute per round.
    for n in range(1, 25):
        queue.enqueue(comment_delivery(n, subject=f"github:Codertocat/Hello-World:issue:{n}"))
    pool = WorkerPool(queue, InProcessDispatcher(HandlerRegistry()), workers=2, poll_seconds=60)
    pool.start()
    try:
        assert wait_for(lambda: queue.depth()["done"] == 24)
    finally:
        pool.stop(grace=5)


def test_coordinator_leases_nothing_while_intake_is_saturated(queue, monkeypatch) -> None:
    saturated = threading.Event()
    saturated.set()
    monkeypatch.setattr(queue, "intake_saturated", saturated.is_set)
    # wait_intake_idle times out during a burst; the coordinator must keep waiting.
    monkeypatch.setattr(queue, "wait_intake_idle", timing_out_while(saturated.is_set))
    job_id = queue.enqueue(comment_delivery(1)).job_id
    pool = WorkerPool(
        queue,
        InProcessDispatcher(HandlerRegistry()),
        workers=1,
        poll_seconds=0.05,
        intake_saturated_seconds=60,
    )
    pool.start()
    try:
        assert not wait_for(lambda: queue.get(job_id)["state"] != "queued", seconds=0.3)
        saturated.clear()
        assert wait_for(lambda: queue.get(job_id)["state"] == "done")
    finally:
        pool.stop(grace=5)


def test_saturated_intake_delays_jobs_only_within_the_bound(queue, monkeypatch) -> None:
    monkeypatch.setattr(queue, "intake_saturated", lambda: True)
    monkeypatch.setattr(queue, "wait_intake_idle", timing_out_while(lambda: True))
    job_id = queue.enqueue(comment_delivery(1)).job_id
    pool = WorkerPool(
        queue,
        InProcessDispatcher(HandlerRegistry()),
        workers=1,
        poll_seconds=0.05,
        intake_priority_seconds=0.01,
        intake_saturated_seconds=0.05,
    )
    pool.start()
    try:
        assert wait_for(lambda: queue.get(job_id)["state"] == "done")
    finally:
        pool.stop(grace=5)
