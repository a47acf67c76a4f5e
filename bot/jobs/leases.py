"""Job leases kept alive while the job runs: the heartbeat.

A leased job that runs longer than its lease would be reaped and handed out again,
and a long phase would run twice. So the worker keeps one :class:`JobLease` per
running job: its coordinator renews every running lease on a timer well inside the
lease (:meth:`JobLeases.renew_due`, one transaction for all of them), and the handler
can renew explicitly (``Services.heartbeat`` calls :meth:`JobLease.renew`). When a
renewal finds that the worker no longer owns the job (it was reaped, or released at
shutdown), the lease is *lost*: every later heartbeat raises
:class:`bot.errors.LeaseLost`, which the handler stops on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.errors import LeaseLost, StoreError
from bot.jobs.queue import Job, JobQueue
from bot.logs import get_logger

log = get_logger("bot.jobs.leases")


class JobLease:
    """The lease of one running job.

    Args:
        queue: The queue that leased the job.
        job: The job.
        min_interval: Explicit renewals closer together than this many seconds are
            answered from the last result (a handler may beat often; the database
            is written at most this often per job).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        queue: JobQueue,
        job: Job,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.job = job
        self.min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._renewed_at = clock()
        self._lost = False

    @property
    def lost(self) -> bool:
        """Whether the worker no longer owns the job."""
        return self._lost

    def renew(self) -> None:
        """Keep the lease alive now (the ``heartbeat`` handed to handlers).

        Raises:
            LeaseLost: the job was reaped or released; stop working on it.
            StoreError: the queue could not be written (the lease may still be held).
        """
        with self._lock:
            if self._lost:
                raise self._error()
            if self._clock() - self._renewed_at < self.min_interval:
                return
            owned = self.queue.renew([self.job])
            self._settle(self.job.id in owned)
            if self._lost:
                raise self._error()

    def _settle(self, owned: bool) -> None:
        # Called with self._lock held.
        if owned:
            self._renewed_at = self._clock()
        elif not self._lost:
            self._lost = True
            log.warning("job lease lost: another attempt may run it", job_id=self.job.id)

    def settled(self, owned: bool) -> None:
        """Record the result of a batch renewal made for this lease."""
        with self._lock:
            self._settle(owned)

    def due(self, interval: float) -> bool:
        """Whether the last renewal is at least ``interval`` seconds old."""
        return not self._lost and self._clock() - self._renewed_at >= interval

    def _error(self) -> LeaseLost:
        return LeaseLost(
            f"job {self.job.id} is no longer leased by {self.job.lease_owner}: its lease "
            "was taken back (expired or released), so another attempt may run it",
            job_id=self.job.id,
        )


class JobLeases:
    """The leases of the jobs a worker pool is running right now.

    Args:
        queue: The pool's queue.
        interval: Renew a lease once it is this many seconds old.
        min_interval: See :class:`JobLease`.
    """

    def __init__(self, queue: JobQueue, *, interval: float, min_interval: float = 1.0) -> None:
        self.queue = queue
        self.interval = interval
        self.min_interval = min_interval
        self._leases: dict[int, JobLease] = {}
        self._lock = threading.Lock()

    def start(self, job: Job) -> JobLease:
        """Track a job that starts running; returns its lease."""
        lease = JobLease(self.queue, job, min_interval=min(self.min_interval, self.interval))
        with self._lock:
            self._leases[job.id] = lease
        return lease

    def finish(self, job: Job) -> None:
        """Stop tracking a job that finished (its lease ends with its record)."""
        with self._lock:
            self._leases.pop(job.id, None)

    def renew_due(self) -> int:
        """Renew every tracked lease that is due, in one transaction.

        Returns:
            How many leases were renewed (lost ones are marked, not counted).
        """
        with self._lock:
            due = [lease for lease in self._leases.values() if lease.due(self.interval)]
        if not due:
            return 0
        try:
            owned = self.queue.renew([lease.job for lease in due])
        except StoreError as exc:
            # The next round tries again; a lease only expires after lease_seconds.
            log.error("renewing job leases failed", error=str(exc), jobs=len(due))
            return 0
        for lease in due:
            lease.settled(lease.job.id in owned)
        return sum(lease.job.id in owned for lease in due)

    def __len__(self) -> int:
        with self._lock:
            return len(self._leases)
