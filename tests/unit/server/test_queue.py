"""The durable queue: atomic dedupe, group commit, leases, ordering, retries, dead letters."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from bot.errors import QueueUnavailable
from bot.jobs.queue import Delivery, Finished, JobQueue, RetryOutcome, count_rows
from bot.store.db import Database


class Clock:
    """A hand-moved clock, so lease expiry and backoff are tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(tmp_path, clock):
    db = Database.open(tmp_path / "data")
    q = JobQueue(db, max_attempts=3, lease_seconds=60, backoff_seconds=10, clock=clock)
    yield q
    q.close()
    db.close()


def delivery(n: int, subject: str | None = "s", content: str | None = None) -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name="issue_comment",
        payload=b'{"n": %d}' % n,
        content_key=content if content is not None else f"c{n}",
        subject=subject,
        repo="acme/app",
    )


def test_enqueue_commits_and_returns_job(queue) -> None:
    result = queue.enqueue(delivery(1))
    assert result.status == "queued"
    row = queue.db.fetchone(
        "SELECT state, p.payload, delivery_id, octet_length(jobs.payload) FROM jobs"
        " JOIN job_payloads p ON p.job_id = jobs.id WHERE id = ?",
        [result.job_id],
    )
    # The payload is kept beside the row, never in it (state updates rewrite rows).
    assert row == ("queued", b'{"n": 1}', "d1", 0)
    link = queue.db.fetchone("SELECT job_id FROM deliveries WHERE delivery_key = 'github:d1'")
    assert link == (result.job_id,)


def test_duplicate_by_delivery_id_and_by_content(queue) -> None:
    assert queue.enqueue(delivery(1)).status == "queued"
    assert queue.enqueue(delivery(1)).status == "duplicate"  # same delivery id
    same_change = Delivery(**{**delivery(2).__dict__, "content_key": "c1"})
    assert queue.enqueue(same_change).status == "duplicate"  # other id, same change
    assert count_rows(queue.db, "jobs") == 1
    assert count_rows(queue.db, "deliveries") == 1


def test_duplicates_inside_one_batch(queue) -> None:
    results = queue.enqueue_many([delivery(1), delivery(1), delivery(2, content="c1"), delivery(3)])
    assert [r.status for r in results] == ["queued", "duplicate", "duplicate", "queued"]
    assert count_rows(queue.db, "jobs") == 2


def test_batch_with_a_known_duplicate_keeps_the_new_rows(queue) -> None:
    queue.enqueue(delivery(1))
    results = queue.enqueue_many([delivery(5), delivery(1), delivery(6)])
    assert [r.status for r in results] == ["queued", "duplicate", "queued"]
    assert count_rows(queue.db, "jobs") == 3


def test_simultaneous_identical_deliveries_make_one_job(queue) -> None:
    barrier = threading.Barrier(16)
    results = []

    def send() -> None:
        barrier.wait()
        results.append(queue.enqueue(delivery(7)).status)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate"] * 15 + ["queued"]
    assert count_rows(queue.db, "jobs") == 1


def test_closed_queue_or_broken_store_is_unavailable(tmp_path) -> None:
    db = Database.open(tmp_path / "d")
    q = JobQueue(db)
    db.close()  # the store goes away under the queue
    with pytest.raises(QueueUnavailable):
        q.enqueue(delivery(1))
    assert not q.healthy
    q.close()
    with pytest.raises(QueueUnavailable):
        q.enqueue(delivery(2))


def test_same_subject_runs_one_at_a_time_in_order(queue) -> None:
    for n in (1, 2, 3):
        queue.enqueue(delivery(n, subject="issue-1"))
    queue.enqueue(delivery(4, subject="issue-2"))
    first = queue.lease("w1")
    other = queue.lease("w2")
    assert (first.delivery_id, other.delivery_id) == ("d1", "d4")
    assert queue.lease("w3") is None  # d2 waits for d1 on the same issue
    assert queue.complete(first, {"handled": False})
    assert queue.lease("w3").delivery_id == "d2"


def test_jobs_without_subject_run_in_parallel(queue) -> None:
    for n in (1, 2, 3):
        queue.enqueue(delivery(n, subject=None))
    leased = [queue.lease(f"w{i}") for i in range(3)]
    assert [j.delivery_id for j in leased] == ["d1", "d2", "d3"]


def test_failure_backs_off_then_dies(queue, clock) -> None:
    queue.enqueue(delivery(1))
    job = queue.lease("w")
    assert queue.fail(job, "boom") == "failed"
    assert queue.lease("w") is None  # backing off (10 s)
    clock.advance(10)
    job = queue.lease("w")
    assert job.attempts == 2
    assert queue.fail(job, "boom") == "failed"
    clock.advance(19)
    assert queue.lease("w") is None  # second backoff is 20 s
    clock.advance(1)
    job = queue.lease("w")
    assert queue.fail(job, "boom again") == "dead"
    clock.advance(10_000)
    assert queue.lease("w") is None
    row = queue.get(job.id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("dead", 3, "boom again")


def test_failed_job_keeps_its_issue_blocked_but_dead_does_not(queue, clock) -> None:
    queue.enqueue(delivery(1, subject="i"))
    queue.enqueue(delivery(2, subject="i"))
    job = queue.lease("w")
    queue.fail(job, "x")
    clock.advance(3600)
    assert queue.lease("w").delivery_id == "d1"  # the failed one goes first, in order


def test_expired_lease_is_taken_back(queue, clock) -> None:
    queue.enqueue(delivery(1))
    job = queue.lease("dead-worker")
    assert queue.reap_expired() == 0
    clock.advance(61)
    assert queue.reap_expired() == 1
    again = queue.lease("w2")
    assert again.id == job.id and again.attempts == 2
    assert not queue.complete(job, {})  # the first worker lost its lease
    assert queue.complete(again, {"ok": True})
    assert queue.get(job.id)["state"] == "done"


def test_startup_recovery_takes_back_local_leases(queue) -> None:
    queue.enqueue(delivery(1, subject=None))
    queue.enqueue(delivery(2, subject=None))
    queue.lease("local:host:123:0")
    queue.lease("ci-runner-7")
    assert queue.reap_expired(owner_prefix="local:") == 1
    assert queue.depth()["running"] == 1


def test_lease_lost_after_max_attempts_is_dead(queue, clock) -> None:
    queue.enqueue(delivery(1))
    for _ in range(3):
        queue.lease("w")
        clock.advance(61)
        queue.reap_expired()
        clock.advance(3600)
    assert queue.depth()["dead"] == 1


def test_release_does_not_count_the_attempt(queue) -> None:
    queue.enqueue(delivery(1))
    job = queue.lease("w")
    assert queue.release(job)
    assert queue.lease("w").attempts == 1


def test_retry(queue, clock) -> None:
    queue.enqueue(delivery(1))
    job = queue.lease("w")
    assert queue.retry(job.id) == RetryOutcome.NOT_RETRYABLE  # running
    for _ in range(3):
        queue.fail(job, "x")
        clock.advance(3600)
        job = queue.lease("w") or job
    assert queue.get(job.id)["state"] == "dead"
    assert queue.retry(job.id) == RetryOutcome.RETRIED
    assert queue.get(job.id)["state"] == "queued"
    assert queue.lease("w").attempts == 1
    assert queue.retry(999) == RetryOutcome.NOT_FOUND


def test_list_and_depth(queue) -> None:
    for n in (1, 2, 3):
        queue.enqueue(delivery(n, subject=None))
    queue.complete(queue.lease("w"), {"handled": False})
    assert queue.depth() == {"queued": 2, "running": 0, "done": 1, "failed": 0, "dead": 0}
    assert [j["delivery_id"] for j in queue.list()] == ["d3", "d2", "d1"]
    assert [j["delivery_id"] for j in queue.list(state="done")] == ["d1"]
    shown = queue.get(queue.list(state="done")[0]["id"])
    assert shown["result"] == {"handled": False} and shown["payload_bytes"] == 8


def test_lease_many_takes_one_job_per_subject_in_order(queue) -> None:
    for n, subject in enumerate(["a", "a", "b", None, None], start=1):
        queue.enqueue(delivery(n, subject=subject))
    leased = queue.lease_many("w", 10)
    assert [j.delivery_id for j in leased] == ["d1", "d3", "d4", "d5"]  # d2 waits for d1
    assert queue.lease_many("w", 10) == []


def test_cycle_records_finished_jobs_and_frees_their_subject_in_one_round(queue) -> None:
    queue.enqueue(delivery(1, subject="a"))
    queue.enqueue(delivery(2, subject="a"))
    queue.enqueue(delivery(3, subject="b"))
    first, third = queue.lease_many("w", 5)
    states, leased = queue.cycle(
        [Finished(first, {"handled": True}), Finished(third, error="RuntimeError: x")],
        owner="w",
        lease=5,
    )
    assert states == {first.id: "done", third.id: "failed"}
    assert [j.delivery_id for j in leased] == ["d2"]  # d1 done: d2 may run; d3 backs off
    assert queue.get(first.id)["result"] == {"handled": True}


def test_cycle_ignores_a_job_whose_lease_was_lost(queue, clock) -> None:
    queue.enqueue(delivery(1))
    job = queue.lease("w1")
    clock.advance(61)
    queue.reap_expired()
    states, _ = queue.cycle([Finished(job, {"handled": True})])
    assert states == {job.id: None}
    assert queue.get(job.id)["state"] == "failed"


def test_permanent_failure_is_dead_at_once(queue) -> None:
    queue.enqueue(delivery(1))
    job = queue.lease("w")
    states, _ = queue.cycle([Finished(job, error="PayloadError: bad", permanent=True)])
    assert states == {job.id: "dead"}


def test_store_skips_records_already_stored_and_keeps_the_rest(queue, clock) -> None:
    from bot.jobs.queue import Stored

    ids = [101, 102, 103]
    first = [Stored(delivery(1), ids[0], clock())]
    assert queue.store(first) == 1
    d2 = Delivery(
        forge="gitlab",
        delivery_id="d2",
        event_name="Note Hook",
        payload=b"\x00binary\xff",
        content_key=None,
        subject=None,
        repo=None,
        headers={"idempotency-key": "d2"},
    )
    mixed = [*first, Stored(d2, ids[1], clock()), Stored(delivery(3), ids[2], clock())]
    assert queue.store(mixed) == 2
    assert count_rows(queue.db, "deliveries") == 3
    assert count_rows(queue.db, "jobs") == 3
    row = queue.db.fetchone(
        "SELECT forge, p.payload, subject, repo, headers, max_attempts, created_at"
        " FROM jobs JOIN job_payloads p ON p.job_id = jobs.id WHERE id = ?",
        [ids[1]],
    )
    assert row[:4] == ("gitlab", b"\x00binary\xff", None, None)
    assert '"idempotency-key"' in row[4]
    assert row[5] == 3
    assert row[6] == clock()
    assert queue.store(mixed) == 0
    assert queue.store([]) == 0


def test_intake_is_saturated_only_while_deliveries_keep_queueing_up(queue) -> None:
    assert not queue.intake_saturated()
    for _ in range(5):
        queue.intake_seen(1)
    # Every delivery its own batch: a low arrival rate, nothing to defer to.
    assert not queue.intake_saturated()
    queue.intake_seen(2)
    assert not queue.intake_saturated()  # one crowded batch is not yet a burst
    queue.intake_seen(8)
    assert queue.intake_saturated()
    queue.intake_seen(1)
    # One lone delivery inside a burst does not end it.
    assert queue.intake_saturated()
    for _ in range(10):
        queue.intake_seen(1)
    assert not queue.intake_saturated()
    for _ in range(3):
        queue.intake_seen(6)
    assert queue.intake_saturated()
    # The burst ends once intake has been quiet for ``quiet`` seconds.
    assert not queue.intake_saturated(quiet=0.0)
