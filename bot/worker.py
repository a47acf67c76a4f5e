"""In-process workers: lease a job, turn it back into an event, dispatch, record.

``N`` threads share the queue. A worker binds the job's delivery id (and job id,
forge, repository, subject, attempt) to every log line while it runs the job. The one
catch-all of the job path lives here: whatever a handler raises is recorded on the job
as a failed attempt (retried with backoff, then dead), never lost and never fatal to the
worker.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from bot.dispatch import Dispatcher
from bot.errors import PayloadError, StoreError
from bot.logs import bound, get_logger
from bot.metrics import Metrics
from bot.parsers import parse_event
from bot.queue import Job, JobQueue

log = get_logger("bot.worker")

LOCAL_OWNER_PREFIX = "local:"
"""Lease owners of in-process workers start with this."""


def owner_prefix() -> str:
    """The lease-owner prefix of this process's workers."""
    return f"{LOCAL_OWNER_PREFIX}{socket.gethostname()}:{os.getpid()}:"


class WorkerPool:
    """``workers`` threads that run queued jobs until stopped.

    Args:
        queue: The job queue.
        dispatcher: Where events go (in-process handlers, or elsewhere).
        workers: Number of threads.
        metrics: Where job durations and failures are counted (optional).
        poll_seconds: Longest idle wait between lease attempts.
        reap_seconds: How often expired leases are taken back.
        intake_priority_seconds: Longest a worker waits for pending deliveries to commit
            before it leases (intake goes first during bursts).
    """

    def __init__(
        self,
        queue: JobQueue,
        dispatcher: Dispatcher,
        *,
        workers: int = 4,
        metrics: Metrics | None = None,
        poll_seconds: float = 1.0,
        reap_seconds: float | None = None,
        intake_priority_seconds: float = 0.25,
    ) -> None:
        self.queue = queue
        self.dispatcher = dispatcher
        self.size = workers
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.intake_priority_seconds = intake_priority_seconds
        self.reap_seconds = reap_seconds or min(max(queue.lease_seconds / 4, 1.0), 30.0)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._current: dict[int, Job] = {}
        self._current_lock = threading.Lock()
        self._last_reap = 0.0
        queue.on_enqueue(self.wake)

    def wake(self) -> None:
        """Tell idle workers that a job may be runnable."""
        self._wake.set()

    def start(self) -> None:
        """Recover leases left by a previous process, then start the threads."""
        recovered = self.queue.reap_expired(owner_prefix=LOCAL_OWNER_PREFIX)
        if recovered:
            log.warning("recovered jobs left running by a stopped process", jobs=recovered)
        prefix = owner_prefix()
        for i in range(self.size):
            thread = threading.Thread(
                target=self._run, args=(f"{prefix}{i}",), name=f"agentforge-worker-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, grace: float = 30.0) -> list[int]:
        """Stop leasing, wait up to ``grace`` seconds for running jobs, release the rest.

        Returns:
            Ids of jobs released unfinished (they run again on the next start).
        """
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        released = []
        with self._current_lock:
            leftover = list(self._current.values())
        for job in leftover:
            try:
                if self.queue.release(job):
                    released.append(job.id)
            except StoreError as exc:
                log.error("could not release job at shutdown", job_id=job.id, error=str(exc))
        if released:
            log.warning("released unfinished jobs at shutdown", jobs=released)
        return released

    @property
    def alive(self) -> int:
        """Number of worker threads still running."""
        return sum(t.is_alive() for t in self._threads)

    def _run(self, owner: str) -> None:
        while not self._stop.is_set():
            self._maybe_reap()
            self._defer_to_intake()
            self._wake.clear()
            try:
                job = self.queue.lease(owner)
            except StoreError as exc:
                log.error("leasing a job failed", error=str(exc))
                self._wake.wait(self.poll_seconds)
                continue
            if job is None:
                self._wake.wait(self.poll_seconds)
                continue
            with self._current_lock:
                self._current[threading.get_ident()] = job
            try:
                self.run_job(job)
            finally:
                with self._current_lock:
                    self._current.pop(threading.get_ident(), None)
            # Finishing a job may unblock the next one on the same issue.
            self._wake.set()

    def _defer_to_intake(self) -> None:
        # Acknowledging webhooks in time matters more than starting a job a few ms
        # sooner: let pending deliveries commit first, but never wait indefinitely.
        deadline = time.monotonic() + self.intake_priority_seconds
        while self.queue.intake_busy() and time.monotonic() < deadline:
            if self._stop.wait(0.002):
                return

    def _maybe_reap(self) -> None:
        now = time.monotonic()
        if now - self._last_reap < self.reap_seconds:
            return
        self._last_reap = now
        try:
            reaped = self.queue.reap_expired()
        except StoreError as exc:
            log.error("reaping expired leases failed", error=str(exc))
            return
        if reaped:
            log.warning("took back jobs whose lease expired", jobs=reaped)

    def run_job(self, job: Job) -> str:
        """Run one leased job to an outcome: ``done``, ``failed``, ``dead`` or ``lost``."""
        started = time.perf_counter()
        with bound(
            delivery_id=job.delivery_id,
            job_id=job.id,
            forge=job.forge,
            repo=job.repo,
            subject=job.subject,
            attempt=job.attempts,
        ):
            outcome = self._execute(job)
            if self.metrics is not None:
                self.metrics.job_duration.labels(outcome).observe(time.perf_counter() - started)
            return outcome

    def _execute(self, job: Job) -> str:
        log.info("job started", event_name=job.event_name)
        try:
            event = parse_event(job.forge, job.event_name, job.payload, job.delivery_id)
        except PayloadError as exc:
            # The stored body will never parse differently: no point retrying.
            return self._record_failure(job, exc, permanent=True)
        try:
            result: dict[str, Any] = self.dispatcher.dispatch(job, event)
        except Exception as exc:  # noqa: BLE001 - the job boundary records every failure
            return self._record_failure(job, exc)
        if self.queue.complete(job, result):
            log.info("job done", handled=result.get("handled"))
            return "done"
        log.warning("job finished after its lease was lost; result discarded")
        return "lost"

    def _record_failure(self, job: Job, exc: BaseException, *, permanent: bool = False) -> str:
        error = f"{type(exc).__name__}: {exc}"
        if self.metrics is not None:
            self.metrics.job_failures.labels(type(exc).__name__).inc()
        if permanent:
            job = Job(**{**job.__dict__, "attempts": job.max_attempts})
        state = self.queue.fail(job, error)
        if state is None:
            log.warning("job failed after its lease was lost", error=error)
            return "lost"
        log.error("job failed", error=error, state=state, exc_info=not permanent)
        return state
