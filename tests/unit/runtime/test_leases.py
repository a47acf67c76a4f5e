"""Leases renewed by a heartbeat: a long job is not reaped; a lost lease stops the handler."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest

from bot.errors import LeaseLost
from bot.jobs.leases import JobLease, JobLeases
from bot.jobs.queue import Delivery, JobQueue
from bot.jobs.worker import WorkerPool
from bot.store.db import Database

from .payloads import issue_comment


def _delivery(n: int, subject: str | None = None) -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name="issue_comment",
        payload=issue_comment(n, 100 + n),
        content_key=f"c{n}",
        subject=subject,
    )


@pytest.fixture
def clocked():
    """A queue on an in-memory database whose clock the test moves."""
    now = [datetime(2024, 1, 1)]
    db = Database.in_memory()
    q = JobQueue(db, lease_seconds=10, backoff_seconds=0, clock=lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    yield q, advance
    q.close()


def _state(q: JobQueue, job_id: int) -> tuple[str, int]:
    row = q.db.fetchone("SELECT state, attempts FROM jobs WHERE id = ?", [job_id])
    return row[0], row[1]


def test_renewed_lease_outlives_the_lease_time_and_unrenewed_one_is_reaped(clocked) -> None:
    q, advance = clocked
    q.enqueue(_delivery(1))
    q.enqueue(_delivery(2))
    beating, silent = q.lease_many("local:h:1:pool", 2)
    lease = JobLease(q, beating, min_interval=0)
    for _ in range(3):  # 24 s of work on a 10 s lease, a heartbeat every 8 s
        advance(8)
        lease.renew()
        q.reap_expired()
    assert _state(q, beating.id) == ("running", 1)
    assert not lease.lost
    # The job nobody renewed was taken back and is leased again (a second attempt).
    assert _state(q, silent.id) == ("failed", 1)
    again = q.lease("local:h:1:pool")
    assert again is not None and again.id == silent.id and again.attempts == 2


def test_heartbeat_after_the_lease_was_taken_back_raises_lease_lost(clocked) -> None:
    q, advance = clocked
    q.enqueue(_delivery(1))
    job = q.lease("local:h:1:pool")
    lease = JobLease(q, job, min_interval=0)
    advance(11)
    assert q.reap_expired() == 1
    with pytest.raises(LeaseLost) as info:
        lease.renew()
    assert info.value.job_id == job.id
    assert lease.lost
    with pytest.raises(LeaseLost):  # and it stays lost, without asking the database
        lease.renew()
    # The worker's late result is discarded, not recorded over the next attempt.
    assert q.complete(job, {"handled": True}) is False


def test_batch_renewal_marks_released_jobs_lost(clocked) -> None:
    q, advance = clocked
    q.enqueue(_delivery(1))
    q.enqueue(_delivery(2))
    kept, released = q.lease_many("local:h:1:pool", 2)
    leases = JobLeases(q, interval=5, min_interval=0)
    kept_lease, released_lease = leases.start(kept), leases.start(released)
    assert q.release(released)
    advance(6)  # a monotonic clock is not moved here, so make every lease due:
    leases.interval = 0
    assert leases.renew_due() == 1
    assert not kept_lease.lost and released_lease.lost
    leases.finish(kept)
    leases.finish(released)
    assert len(leases) == 0


class _Slow:
    """A dispatcher whose jobs run for ``seconds`` without calling any heartbeat."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.runs: list[int] = []
        self._lock = threading.Lock()

    def dispatch(self, job, event):
        with self._lock:
            self.runs.append(job.id)
        if job.delivery_id == "d1":
            time.sleep(self.seconds)
        return {"handled": True}


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the workers")
        time.sleep(0.02)


@pytest.mark.slow
def test_pool_keeps_a_long_job_leased_while_an_abandoned_lease_is_reaped() -> None:
    db = Database.in_memory()
    q = JobQueue(db, lease_seconds=0.6, backoff_seconds=0)
    q.enqueue(_delivery(2))
    q.enqueue(_delivery(1))  # runs about four lease times long
    # Job 2 was leased by a runner that died: its lease is never renewed. (Its owner
    # is not an in-process one, so the pool's start-up recovery leaves it alone.)
    abandoned = q.lease("ci:gone")
    assert abandoned.delivery_id == "d2"
    dispatcher = _Slow(seconds=2.5)
    pool = WorkerPool(q, dispatcher, workers=2, poll_seconds=0.05, reap_seconds=0.1)
    pool.start()
    try:
        _wait(lambda: q.depth()["done"] == 2)
    finally:
        pool.stop(grace=5)
    long_job = q.db.fetchone("SELECT attempts, state FROM jobs WHERE delivery_id = 'd1'")
    assert long_job == (1, "done")  # never reaped, never run twice
    assert len(dispatcher.runs) == 2
    reaped = q.db.fetchone("SELECT attempts, state FROM jobs WHERE id = ?", [abandoned.id])
    assert reaped == (2, "done")  # expired, taken back, run by the pool
    q.close()
