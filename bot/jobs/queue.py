"""The durable job queue in DuckDB: dedupe, enqueue with group commit, leases, retries.

Life of a job::

    queued ──lease──► running ──complete──► done
      ▲                  │ fail (attempts < max)        │ fail (attempts = max)
      │                  ▼                              ▼
      └──(backoff)──── failed                          dead ──retry──► queued
    running whose lease expired (process killed) ──► failed / dead

- **Dedupe** is an atomic insert: ``deliveries`` has a primary key on
  ``forge:delivery id`` and a unique content key; a delivery whose insert conflicts is a
  duplicate and gets no job. Inside one commit batch, duplicates are resolved first
  (DuckDB does not define which of two conflicting rows of one statement survives).
- **Group commit**: concurrent enqueues are gathered by one committer thread into one
  transaction, and each caller waits for the commit that holds its row, so every 202
  is sent after its delivery is on disk while one fsync serves many requests.
- **Workers batch their writes**: :meth:`JobQueue.cycle` records every finished job
  and leases the next ones in one transaction, so a busy pool costs one commit per
  round instead of two per job, and it waits while intake commits are pending.
- **Ordering**: a job is leased only when no job with the same subject (issue or MR)
  is running and no earlier one is waiting; jobs without a subject are free.
- **Leases** are renewed by a heartbeat while their job runs (:meth:`JobQueue.renew`,
  see :mod:`bot.jobs.leases`), so a long phase is never taken back; a lease that is not
  renewed expires; a job whose lease expires (or that was running in a process that
  died) counts the attempt and is retried with exponential backoff until
  ``max_attempts``, then it is ``dead`` until someone retries it.
"""

from __future__ import annotations

import asyncio
import json
import queue as stdqueue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

import duckdb

from bot.errors import QueueUnavailable, StoreError
from bot.jobs import queue_store
from bot.jobs.queue_admin import count_rows, get_job, list_jobs
from bot.jobs.queue_types import (
    MAX_BACKOFF_SECONDS,
    STATES,
    Delivery,
    EnqueueResult,
    Finished,
    Followup,
    Job,
    RetryOutcome,
    Stored,
    Waiter,
    settle_waiters,
    utcnow,
)
from bot.store.db import Database

INTAKE_QUIET_SECONDS = 0.02
"""Intake counts as quiet when no delivery arrived for this long: background writers
(the journal feeder, the worker coordinator) wait for such a gap during bursts, so that
their CPU time does not slow acknowledgements down."""
INTAKE_SATURATED_LOAD = 1.5
"""Intake counts as saturated while its batches average at least this many deliveries
(a moving average, weight :data:`INTAKE_LOAD_WEIGHT` per batch): requests queue up while
the previous append syncs, so the event loop is the bottleneck and background work
should wait (bounded) for the burst to end. At a low arrival rate every delivery is its
own batch and nothing waits; one lone batch inside a burst does not end it."""
INTAKE_LOAD_WEIGHT = 0.2

__all__ = [
    "INTAKE_LOAD_WEIGHT",
    "INTAKE_QUIET_SECONDS",
    "INTAKE_SATURATED_LOAD",
    "MAX_BACKOFF_SECONDS",
    "STATES",
    "Delivery",
    "EnqueueResult",
    "Finished",
    "Followup",
    "Job",
    "JobQueue",
    "RetryOutcome",
    "Stored",
    "Waiter",
    "count_rows",
    "get_job",
    "list_jobs",
    "settle_waiters",
    "utcnow",
]

# The next runnable job: the oldest waiting job of each subject, unless that subject has
# a running job; jobs without a subject are always runnable. Only unfinished rows are read.
# Heads and running subjects are computed over every queue, so a subject's jobs keep
# their arrival order across queues; among runnable jobs of one queue ($queue, NULL =
# any) the lower priority number goes first, then the older job.
_LEASE = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $owner,"
    " lease_expires_at = $expires, updated_at = $now WHERE id IN ("
    " WITH open AS (SELECT id, subject, state, available_at, queue, priority FROM jobs"
    "   WHERE state IN ('queued', 'failed', 'running')),"
    " heads AS (SELECT min(id) AS id FROM open WHERE state <> 'running'"
    "   AND subject IS NOT NULL GROUP BY subject),"
    " busy AS (SELECT subject FROM open WHERE state = 'running' AND subject IS NOT NULL)"
    " SELECT o.id FROM open o WHERE o.state <> 'running' AND o.available_at <= $now"
    " AND ($queue IS NULL OR o.queue = $queue)"
    " AND (o.subject IS NULL OR (o.id IN (SELECT id FROM heads)"
    "      AND o.subject NOT IN (SELECT subject FROM busy)))"
    " ORDER BY o.priority, o.id LIMIT $n)"
    " AND state IN ('queued', 'failed')"
    " RETURNING id, delivery_id, forge, event_name, repo, subject, headers,"
    " attempts, max_attempts, lease_owner, queue, priority"
)
_FOLLOWUP = (
    "INSERT INTO jobs (id, delivery_id, forge, event_name, repo, subject, payload, headers,"
    " max_attempts, available_at, created_at, updated_at, queue, priority)"
    " VALUES (coalesce(?, nextval('job_id_seq')), ?, ?, ?, ?, ?, ''::BLOB, '{}', ?, ?, ?, ?,"
    " ?, ?) RETURNING id"
)
_PAYLOADS = "SELECT job_id, payload FROM job_payloads WHERE job_id IN (SELECT unnest(?))"
_COMPLETE = (
    "UPDATE jobs SET state = 'done', result = u.result, lease_owner = NULL,"
    " lease_expires_at = NULL, updated_at = $now, finished_at = $now, last_error = NULL"
    " FROM (SELECT unnest($ids) AS id, unnest($results) AS result, unnest($owners) AS owner) u"
    " WHERE jobs.id = u.id AND jobs.state = 'running' AND jobs.lease_owner = u.owner"
    " RETURNING jobs.id"
)
_RENEW = (
    "UPDATE jobs SET lease_expires_at = $expires, updated_at = $now"
    " FROM (SELECT unnest($ids) AS id, unnest($owners) AS owner) u"
    " WHERE jobs.id = u.id AND jobs.state = 'running' AND jobs.lease_owner = u.owner"
    " RETURNING jobs.id"
)
_MOVE = (
    "UPDATE jobs SET state = 'queued', queue = ?, attempts = greatest(attempts - 1, 0),"
    " lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?"
    " AND state = 'running' AND lease_owner = ? RETURNING id"
)
_FAIL = (
    "UPDATE jobs SET state = ?, last_error = ?, available_at = ?, lease_owner = NULL,"
    " lease_expires_at = NULL, updated_at = ?, finished_at = ? WHERE id = ?"
    " AND state = 'running' AND lease_owner = ? RETURNING state"
)


class JobQueue:
    """The queue over an open writer :class:`Database`.

    Args:
        db: The records database (writer).
        max_attempts: Attempts before a job is dead.
        lease_seconds: How long a lease lasts before another worker may take the job.
        backoff_seconds: Base of the exponential retry delay.
        max_batch: Largest number of deliveries committed together.
        clock: Naive-UTC now, injectable so tests move time instead of sleeping.
    """

    def __init__(
        self,
        db: Database,
        *,
        max_attempts: int = 5,
        lease_seconds: float = 300,
        backoff_seconds: float = 5.0,
        max_batch: int = 256,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.backoff_seconds = backoff_seconds
        self.max_batch = max_batch
        self.clock = clock
        self.last_error: str | None = None
        self._pending: stdqueue.SimpleQueue[tuple[Delivery, Waiter] | None] = stdqueue.SimpleQueue()
        self._idle = threading.Condition()
        self._intakes: list[Any] = []
        self._listeners: list[Callable[[], None]] = []
        self._closed = False
        self._committing = False
        self.id_source: Callable[[], int] | None = None
        """Where jobs stored here get their ids (the counter shared with the intake
        journal, :mod:`bot.jobs.ids`, so that they keep arrival order with journaled
        deliveries); None = the database's sequence."""
        self._intake_at = 0.0  # time.monotonic() of the last intake batch
        self._load = 1.0  # moving average of deliveries per intake batch
        self._committer = threading.Thread(
            target=self._commit_loop, name="agentforge-committer", daemon=True
        )
        self._committer.start()

    # --- enqueue ---------------------------------------------------------------------

    def on_enqueue(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (cheaply, from the committer thread) after new jobs commit."""
        self._listeners.append(callback)

    def submit(self, delivery: Delivery) -> Future[EnqueueResult]:
        """Queue a delivery for the next group commit; the future resolves after it.

        The future raises :class:`QueueUnavailable` if the commit failed.
        """
        fut: Future[EnqueueResult] = Future()
        if self._closed:
            fut.set_exception(QueueUnavailable("the job queue is shutting down"))
            return fut
        self._pending.put((delivery, fut))
        return fut

    def submit_async(self, delivery: Delivery) -> asyncio.Future:
        """Like :meth:`submit`, for a coroutine: returns a future of the running loop.

        Every request of one commit batch is woken by a single call into the loop, which
        costs far less than waking each one from the committer thread.
        """
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if self._closed:
            fut.set_exception(QueueUnavailable("the job queue is shutting down"))
            return fut
        self._pending.put((delivery, (loop, fut)))
        return fut

    def enqueue(self, delivery: Delivery, timeout: float | None = 30) -> EnqueueResult:
        """Store one delivery durably (blocking); see :meth:`submit`."""
        return self.submit(delivery).result(timeout)

    def _commit_loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._pending.get_nowait()
                except stdqueue.Empty:
                    break
                if item is None:
                    self._pending.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit_batch(batch)

    def intake_busy(self) -> bool:
        """True while deliveries wait for (or are in) a commit.

        Workers defer to intake while this is true, so that a burst of webhooks is
        acknowledged first and processed right after.
        """
        if self._committing or not self._pending.empty():
            return True
        return any(intake.busy() for intake in self._intakes)

    def intake_seen(self, size: int = 1) -> None:
        """Note that a batch of ``size`` deliveries was just taken in.

        See :meth:`intake_quiet` and :meth:`intake_saturated`.
        """
        self._intake_at = time.monotonic()
        self._load += INTAKE_LOAD_WEIGHT * (size - self._load)

    def intake_saturated(self, quiet: float = INTAKE_QUIET_SECONDS) -> bool:
        """True during a burst: intake batches average several deliveries each.

        Background work may wait longer than :meth:`wait_intake_idle`'s usual bound while
        this holds (it ends once intake has been quiet for ``quiet`` seconds).
        """
        if self._load < INTAKE_SATURATED_LOAD:
            return False
        return self.intake_busy() or time.monotonic() - self._intake_at < quiet

    def intake_quiet(self, quiet: float = INTAKE_QUIET_SECONDS) -> bool:
        """True when no delivery is pending and none was taken in for ``quiet`` seconds."""
        return not self.intake_busy() and time.monotonic() - self._intake_at >= quiet

    def wait_intake_idle(self, timeout: float, quiet: float = INTAKE_QUIET_SECONDS) -> bool:
        """Block until intake is quiet (:meth:`intake_quiet`), or ``timeout`` seconds pass.

        Returns:
            True if intake is quiet, False on timeout (the caller goes ahead anyway, so
            that background work is slowed by a long burst but never starved).
        """
        deadline = time.monotonic() + timeout
        with self._idle:
            while True:
                now = time.monotonic()
                remaining = deadline - now
                if not self.intake_busy():
                    gap = quiet - (now - self._intake_at)
                    if gap <= 0:
                        return True
                    remaining = min(remaining, gap)
                if deadline - now <= 0:
                    return False
                self._idle.wait(remaining)

    def _commit_batch(self, batch: list[tuple[Delivery, Waiter]]) -> None:
        self._committing = True
        self.intake_seen(len(batch))
        try:
            self._commit_batch_now(batch)
        finally:
            self._committing = False
            with self._idle:
                self._idle.notify_all()

    def _commit_batch_now(self, batch: list[tuple[Delivery, Waiter]]) -> None:
        outcomes: list[Any]
        try:
            outcomes = results = self.enqueue_many([d for d, _ in batch])
        except QueueUnavailable as exc:
            self.last_error = str(exc)
            outcomes, results = [exc] * len(batch), []
        else:
            self.last_error = None
        settle_waiters(batch, outcomes)
        if any(r.status == "queued" for r in results):
            self._notify_listeners()

    def _notify_listeners(self) -> None:
        for callback in self._listeners:
            callback()

    # --- journaled intake (bot.intake.journal) ----------------------------------------------------

    def add_intake(self, intake: Any) -> None:
        """Count another intake (an object with ``busy()``) in :meth:`intake_busy`."""
        self._intakes.append(intake)

    def notify_intake_idle(self) -> None:
        """Wake :meth:`wait_intake_idle` callers (an intake finished a batch)."""
        with self._idle:
            self._idle.notify_all()

    def store(self, records: list[Stored]) -> int:
        """Insert journaled deliveries and their jobs; rows already there are skipped.

        Returns:
            How many new jobs were stored.

        Raises:
            StoreError: the transaction failed (nothing was stored).
        """
        new = queue_store.store_records(self.db, records, self.max_attempts)
        if new:
            self._notify_listeners()
        return len(new)

    def enqueue_many(self, deliveries: list[Delivery]) -> list[EnqueueResult]:
        """Store deliveries in one transaction; duplicates (by either key) get no job.

        Raises:
            QueueUnavailable: the transaction could not be committed.
        """
        results: list[EnqueueResult | None] = [None] * len(deliveries)
        seen_keys: set[str] = set()
        fresh: list[int] = []
        for i, d in enumerate(deliveries):
            keys = {d.delivery_key, *(("c:" + d.content_key,) if d.content_key else ())}
            if keys & seen_keys:
                results[i] = EnqueueResult("duplicate")
            else:
                seen_keys |= keys
                fresh.append(i)
        if not fresh:
            return [r or EnqueueResult("duplicate") for r in results]
        rows = [deliveries[i] for i in fresh]
        if self.id_source is not None:
            return self._enqueue_with_ids(rows, fresh, results)
        try:
            try:
                # Fast path: a plain insert. If any row hits a unique key, the whole
                # transaction rolls back and the batch is redone with ON CONFLICT DO
                # NOTHING, which skips exactly the rows that already exist.
                job_ids = self._insert(rows, skip_conflicts=False)
            except duckdb.ConstraintException:
                job_ids = self._insert(rows, skip_conflicts=True)
        except (duckdb.Error, StoreError) as exc:
            raise QueueUnavailable(
                f"writing {len(deliveries)} deliveries to the queue: {exc}"
            ) from exc
        for i, d in zip(fresh, rows, strict=True):
            job_id = job_ids.get(d.delivery_key)
            results[i] = EnqueueResult("queued", job_id) if job_id else EnqueueResult("duplicate")
        return [r or EnqueueResult("duplicate") for r in results]

    def _enqueue_with_ids(
        self, rows: list[Delivery], fresh: list[int], results: list[EnqueueResult | None]
    ) -> list[EnqueueResult]:
        # Ids from the shared counter (bot.jobs.ids) keep arrival order with journaled
        # deliveries; rows whose keys are stored already are skipped by the insert.
        now = self.clock()
        records = [Stored(d, self.id_source(), now) for d in rows]  # type: ignore[misc]
        try:
            new = {s.job_id for s in queue_store.store_records(self.db, records, self.max_attempts)}
        except StoreError as exc:
            raise QueueUnavailable(f"writing {len(rows)} deliveries to the queue: {exc}") from exc
        for i, s in zip(fresh, records, strict=True):
            results[i] = EnqueueResult("queued", s.job_id) if s.job_id in new else None
        return [r or EnqueueResult("duplicate") for r in results]

    def _insert(self, rows: list[Delivery], *, skip_conflicts: bool) -> dict[str, int]:
        return queue_store.insert_deliveries(
            self.db, rows, self.clock(), self.max_attempts, skip_conflicts=skip_conflicts
        )

    def close(self, timeout: float = 10) -> None:
        """Stop accepting deliveries and commit the ones already submitted."""
        if self._closed:
            return
        self._closed = True
        self._pending.put(None)
        self._committer.join(timeout)

    @property
    def healthy(self) -> bool:
        """True while the committer runs and the last commit succeeded."""
        return self._committer.is_alive() and not self._closed and self.last_error is None

    # --- leasing ---------------------------------------------------------------------

    def lease(self, owner: str) -> Job | None:
        """Take the oldest runnable job, atomically; None if nothing can run now."""
        jobs = self.lease_many(owner, 1)
        return jobs[0] if jobs else None

    def lease_many(self, owner: str, n: int, queue: str | None = None) -> list[Job]:
        """Take up to ``n`` runnable jobs atomically: one per subject, lower priority
        number first, then oldest; only from ``queue`` unless it is None."""
        if n <= 0:
            return []
        with self.db.transaction() as cur:
            return self._lease(cur, owner, n, queue)

    def _lease(
        self, cur: duckdb.DuckDBPyConnection, owner: str, n: int, queue: str | None = None
    ) -> list[Job]:
        now = self.clock()
        expires = now + timedelta(seconds=self.lease_seconds)
        params = {"owner": owner, "expires": expires, "now": now, "n": n, "queue": queue}
        rows = sorted(cur.execute(_LEASE, params).fetchall(), key=lambda r: (r[11], r[0]))
        if not rows:
            return []
        payloads = dict(cur.execute(_PAYLOADS, [[row[0] for row in rows]]).fetchall())
        return [
            Job(
                id=row[0],
                delivery_id=row[1],
                forge=row[2],
                event_name=row[3],
                repo=row[4],
                subject=row[5],
                payload=bytes(payloads.get(row[0], b"")),
                headers=json.loads(row[6] or "{}"),
                attempts=row[7],
                max_attempts=row[8],
                lease_owner=row[9],
                queue=row[10] or "heavy",
                priority=row[11] if row[11] is not None else 1,
            )
            for row in rows
        ]

    def complete(self, job: Job, result: dict[str, Any]) -> bool:
        """Mark a leased job done; False if the lease was lost (then nothing changes)."""
        return self.cycle([Finished(job, result)])[0][job.id] == "done"

    def fail(self, job: Job, error: str) -> str | None:
        """Record a failed attempt; returns the new state (``failed``/``dead``) or None
        if the lease was lost."""
        return self.cycle([Finished(job, error=error)])[0][job.id]

    def cycle(
        self, finished: list[Finished], owner: str = "", lease: int | dict[str | None, int] = 0
    ) -> tuple[dict[int, str | None], list[Job]]:
        """Record finished jobs and lease more, in one transaction.

        ``lease`` is a number of jobs from any queue, or a number per queue (``None``
        as a key: any queue). A job finished here frees its subject, so the next job of
        the same issue can be leased in the same round; a job recorded done stores its
        follow-ups in the same transaction (never one without the other).

        Returns:
            The new state of each finished job by id (``done``, ``failed``, ``dead``,
            ``moved`` to another queue, or None where the lease had been lost and nothing
            changed), and the leased jobs.
        """
        states: dict[int, str | None] = {f.job.id: None for f in finished}
        wanted = lease if isinstance(lease, dict) else {None: lease}
        # Ids are drawn before the transaction: the journal's source may wait for a block.
        followup_ids = {
            id(f): [self._followup_id() for _ in f.followups] for f in finished if f.followups
        }
        now = self.clock()
        with self.db.transaction() as cur:
            done = [f for f in finished if f.error is None and f.move_to is None]
            for f in finished:
                if f.move_to is not None:
                    row = cur.execute(
                        _MOVE, [f.move_to, now, f.job.id, f.job.lease_owner]
                    ).fetchone()
                    states[f.job.id] = "moved" if row else None
            if done:
                rows = cur.execute(
                    _COMPLETE,
                    {
                        "now": now,
                        "ids": [f.job.id for f in done],
                        "results": [json.dumps(f.result or {}, default=str) for f in done],
                        "owners": [f.job.lease_owner for f in done],
                    },
                ).fetchall()
                states.update((row[0], "done") for row in rows)
            for f in done:
                if f.followups and states.get(f.job.id) == "done":
                    self._store_followups(cur, f, followup_ids[id(f)], now)
            for f in finished:
                if f.error is not None:
                    states[f.job.id] = self._fail(cur, f, now)
            leased = [
                job
                for queue, n in wanted.items()
                if n > 0
                for job in self._lease(cur, owner, n, queue)
            ]
        return states, leased

    def _followup_id(self) -> int | None:
        return self.id_source() if self.id_source is not None else None

    def _store_followups(
        self, cur: duckdb.DuckDBPyConnection, f: Finished, ids: list[int | None], now: datetime
    ) -> None:
        job = f.job
        for job_id, follow in zip(ids, f.followups, strict=True):
            (stored_id,) = cur.execute(
                _FOLLOWUP,
                [
                    job_id,
                    follow.delivery_id,
                    job.forge,
                    follow.event_name,
                    job.repo,
                    job.subject,
                    self.max_attempts,
                    now,
                    now,
                    now,
                    follow.queue,
                    follow.priority,
                ],
            ).fetchone()
            cur.execute(
                "INSERT INTO job_payloads (job_id, payload) VALUES (?, ?)",
                [stored_id, follow.payload],
            )

    def _fail(self, cur: duckdb.DuckDBPyConnection, f: Finished, now: datetime) -> str | None:
        dead = f.permanent or f.job.attempts >= f.job.max_attempts
        retry_at = now + timedelta(seconds=self.backoff(f.job.attempts))
        row = cur.execute(
            _FAIL,
            [
                "dead" if dead else "failed",
                (f.error or "")[:4000],
                now if dead else retry_at,
                now,
                now if dead else None,
                f.job.id,
                f.job.lease_owner,
            ],
        ).fetchone()
        return row[0] if row else None

    def renew(self, jobs: list[Job]) -> set[int]:
        """Extend the leases of running jobs by :attr:`lease_seconds`, in one transaction.

        Returns:
            Ids of the jobs whose lease their owner still holds (now renewed); a job
            missing from the set was reaped or released: its runner should stop.
        """
        if not jobs:
            return set()
        now = self.clock()
        params = {
            "now": now,
            "expires": now + timedelta(seconds=self.lease_seconds),
            "ids": [job.id for job in jobs],
            "owners": [job.lease_owner for job in jobs],
        }
        with self.db.transaction() as cur:
            return {row[0] for row in cur.execute(_RENEW, params).fetchall()}

    def release(self, job: Job) -> bool:
        """Give a leased job back untouched (shutdown); the attempt is not counted."""
        now = self.clock()
        with self.db.transaction() as cur:
            row = cur.execute(
                "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0),"
                " lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
                " WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING id",
                [now, job.id, job.lease_owner],
            ).fetchone()
        return row is not None

    def backoff(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (exponential, capped at an hour)."""
        return min(self.backoff_seconds * (2 ** max(attempts - 1, 0)), MAX_BACKOFF_SECONDS)

    def reap_expired(self, owner_prefix: str | None = None) -> int:
        """Take back running jobs whose lease expired.

        With ``owner_prefix`` every running job leased by such an owner is taken back
        whatever its expiry: at start-up the single writer knows that in-process leases
        from before belong to a process that is gone. The lost attempt counts, so a job
        that kills its process cannot loop forever.
        """
        now = self.clock()
        if owner_prefix is None:
            cond, params = "lease_expires_at < ?", [now]
        else:
            cond, params = "starts_with(lease_owner, ?)", [owner_prefix]
        with self.db.transaction() as cur:
            rows = cur.execute(
                "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead'"  # noqa: S608 - constant SQL text
                " ELSE 'failed' END, last_error = 'lease expired: the worker stopped"
                " without finishing', lease_owner = NULL, lease_expires_at = NULL,"
                f" available_at = ?, updated_at = ? WHERE state = 'running' AND {cond}"
                " RETURNING id",
                [now, now, *params],
            ).fetchall()
        return len(rows)

    # --- inspection and admin ----------------------------------------------------------

    def retry(self, job_id: int) -> RetryOutcome:
        """Put a ``dead`` or ``failed`` job back in the queue with fresh attempts."""
        now = self.clock()
        with self.db.transaction() as cur:
            found = cur.execute("SELECT state FROM jobs WHERE id = ?", [job_id]).fetchone()
            if found is None:
                return RetryOutcome.NOT_FOUND
            if found[0] not in ("dead", "failed"):
                return RetryOutcome.NOT_RETRYABLE
            cur.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, available_at = ?,"
                " updated_at = ?, finished_at = NULL WHERE id = ?",
                [now, now, job_id],
            )
        for callback in self._listeners:
            callback()
        return RetryOutcome.RETRIED

    def depth(self) -> dict[str, int]:
        """Number of jobs in each state."""
        counts = dict.fromkeys(STATES, 0)
        for state, n in self.db.fetchall("SELECT state, count(*) FROM jobs GROUP BY state"):
            counts[state] = int(n)
        return counts

    def depth_by_queue(self) -> dict[tuple[str, str], int]:
        """Number of unfinished jobs by (queue, state): ``queued``, ``running``, ``failed``."""
        rows = self.db.fetchall(
            "SELECT coalesce(queue, 'heavy'), state, count(*) FROM jobs"
            " WHERE state IN ('queued', 'running', 'failed') GROUP BY ALL"
        )
        counts = {(q, s): 0 for q in ("light", "heavy") for s in ("queued", "running", "failed")}
        for queue, state, n in rows:
            counts[(queue, state)] = int(n)
        return counts

    def list(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Jobs, newest first (optionally of one state)."""
        return list_jobs(self.db, state, limit)

    def get(self, job_id: int) -> dict[str, Any] | None:
        """One job with its result and headers (not its payload), or None."""
        return get_job(self.db, job_id)
