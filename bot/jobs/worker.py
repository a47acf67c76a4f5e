"""In-process workers: a coordinator leases and records jobs in batches; threads run them.

``N`` worker threads run jobs; one coordinator thread is the only one that writes job
states. Each round it records every job that finished since the last round and leases
work for the idle threads (plus as many again, ready to start), all in one transaction
(:meth:`bot.jobs.queue.JobQueue.cycle`), and during a burst of webhooks it waits for a short
pause in intake (:meth:`bot.jobs.queue.JobQueue.wait_intake_idle`, at most
``intake_priority_seconds``), so a busy pool never slows acknowledgements down by more
than one short transaction. While intake is saturated (requests queue up behind each
journal append) it keeps waiting, up to ``intake_saturated_seconds``: a burst is
acknowledged first and worked after; for as long, a worker of a lane of long jobs does
not start the job leased for it ahead of time (the light lane's workers never wait). A
worker binds the job's delivery id (and job id, forge, repository, subject, attempt) to
every log line while it runs the job. The one
catch-all of the job path lives here: whatever a handler raises is recorded on the job
as a failed attempt (retried with backoff, then dead), never lost and never fatal to the worker.
While a job runs, the coordinator renews its lease every ``heartbeat_seconds`` (see
:mod:`bot.jobs.leases`), and the job carries a ``heartbeat`` its handlers call during long
work; a job whose lease was taken back raises :class:`bot.errors.LeaseLost` there.
"""

from __future__ import annotations

import dataclasses
import os
import queue as stdqueue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bot.errors import LeaseLost, PayloadError, StoreError
from bot.jobs.dispatch import Dispatcher
from bot.jobs.followups import followups_for, parse_job_event
from bot.jobs.leases import JobLeases
from bot.jobs.queue import Finished, Job, JobQueue
from bot.logs import bound, get_logger
from bot.metrics import Metrics

log = get_logger("bot.jobs.worker")


@dataclass
class Lane:
    """Worker threads of one queue.

    Attributes:
        queue: The queue its threads lease from (None: any queue).
        size: Number of threads (the queue's concurrency limit).
        ahead: Lease one ready job per thread ahead of time, so a thread that
            finishes starts again at once. Off for the light lane: a job leased ahead
            would be one more job an ``/approve`` arriving now has to wait behind.
    """

    queue: str | None
    size: int
    ahead: bool = True
    ready: stdqueue.SimpleQueue = field(default_factory=stdqueue.SimpleQueue)
    threads: list[threading.Thread] = field(default_factory=list)


LOCAL_OWNER_PREFIX = "local:"
"""Lease owners of in-process workers start with this."""


def owner_prefix() -> str:
    """The lease-owner prefix of this process's workers."""
    return f"{LOCAL_OWNER_PREFIX}{socket.gethostname()}:{os.getpid()}:"


class WorkerPool:
    """Worker threads that run queued jobs until stopped, fed by one coordinator.

    With ``lanes`` (``{"light": 2, "heavy": 4}``) each queue has its own threads, so
    its concurrency limit holds whatever waits in the other (see
    :mod:`bot.jobs.priorities`); the light lane leases nothing ahead. Without, ``workers``
    threads run jobs of any queue.

    Args:
        queue: The job queue.
        dispatcher: Where events go (in-process handlers, or elsewhere).
        workers: Number of threads (without ``lanes``).
        lanes: Threads per queue name.
        metrics: Where job durations and failures are counted (optional).
        poll_seconds: Longest idle wait between lease attempts.
        reap_seconds: How often expired leases are taken back.
        intake_priority_seconds: Longest the coordinator waits for a pause in intake
            before it writes (intake goes first during bursts).
        intake_saturated_seconds: Longest it keeps waiting while intake is saturated
            (:meth:`bot.jobs.queue.JobQueue.intake_saturated`): a burst is acknowledged
            first and worked after.
        heartbeat_seconds: How often running jobs' leases are renewed (default: a
            third of the lease, well inside it).
    """

    def __init__(
        self,
        queue: JobQueue,
        dispatcher: Dispatcher,
        *,
        workers: int = 4,
        lanes: dict[str, int] | None = None,
        metrics: Metrics | None = None,
        poll_seconds: float = 1.0,
        reap_seconds: float | None = None,
        intake_priority_seconds: float = 0.25,
        intake_saturated_seconds: float = 10.0,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.queue = queue
        self.dispatcher = dispatcher
        if lanes:
            self.lanes = [Lane(name, size, ahead=name != "light") for name, size in lanes.items()]
        else:
            self.lanes = [Lane(None, workers)]
        self.size = sum(lane.size for lane in self.lanes)
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.intake_priority_seconds = intake_priority_seconds
        self.intake_saturated_seconds = intake_saturated_seconds
        self.reap_seconds = reap_seconds or min(max(queue.lease_seconds / 4, 1.0), 30.0)
        self.heartbeat_seconds = heartbeat_seconds or queue.lease_seconds / 3
        self.leases = JobLeases(
            queue,
            interval=self.heartbeat_seconds,
            min_interval=min(1.0, queue.lease_seconds / 10),
        )
        self.owner = f"{owner_prefix()}pool"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._coordinator: threading.Thread | None = None
        # The coordinator sleeps on this; workers and new deliveries notify it.
        self._signal = threading.Condition()
        self._woken = True  # the first round leases whatever is already queued
        self._finished: list[tuple[Finished, float]] = []
        self._leased: dict[int, Job] = {}  # leased, not yet recorded as finished
        self._leased_at: dict[int, float] = {}
        self._running = 0
        self._last_reap = 0.0
        queue.on_enqueue(self.wake)

    def wake(self) -> None:
        """Tell the coordinator that a job may be runnable."""
        with self._signal:
            self._woken = True
            self._signal.notify()

    def start(self) -> None:
        """Recover leases left by a previous process, then start the threads."""
        recovered = self.queue.reap_expired(owner_prefix=LOCAL_OWNER_PREFIX)
        if recovered:
            log.warning("recovered jobs left running by a stopped process", jobs=recovered)
        self._last_reap = time.monotonic()
        for lane in self.lanes:
            for i in range(lane.size):
                name = f"agentforge-worker-{lane.queue or 'any'}-{i}"
                thread = threading.Thread(target=self._run, args=(lane,), name=name, daemon=True)
                thread.start()
                lane.threads.append(thread)
                self._threads.append(thread)
        self._coordinator = threading.Thread(
            target=self._coordinate, name="agentforge-coordinator", daemon=True
        )
        self._coordinator.start()

    def stop(self, grace: float = 30.0) -> list[int]:
        """Stop leasing, wait up to ``grace`` seconds for running jobs, release the rest.

        Jobs that finished are recorded; jobs leased but not started, or still running
        when the grace period ends, are given back untouched.

        Returns:
            Ids of jobs released unfinished (they run again on the next start).
        """
        self._stop.set()
        self.wake()
        if self._coordinator is not None:
            self._coordinator.join()
        for lane in self.lanes:
            for _ in lane.threads:
                lane.ready.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        self._record_round(lease=0)
        with self._signal:
            leftover = sorted(self._leased.values(), key=lambda job: job.id)
            self._leased.clear()
            self._leased_at.clear()
        released = []
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
        """Number of worker threads (and the coordinator) still running."""
        alive = sum(t.is_alive() for t in self._threads)
        if self._coordinator is not None and not self._coordinator.is_alive():
            alive = min(alive, self.size - 1)
        return alive

    # --- coordinator -------------------------------------------------------------------

    def _coordinate(self) -> None:
        while not self._stop.is_set():
            # Renew before reaping: a running job's lease must never look expired here.
            self.leases.renew_due()
            self._maybe_reap()
            with self._signal:
                if not self._finished and not (self._woken and self._wanted_any()):
                    self._signal.wait(min(self.poll_seconds, self.heartbeat_seconds / 2))
                self._woken = False
            if self._stop.is_set():
                return
            # Acknowledging webhooks in time matters more than starting a job a few ms
            # sooner: let pending deliveries commit first, but never wait indefinitely.
            self._yield_to_intake()
            with self._signal:
                wanted = self._wanted()
            leased = self._record_round(lease=wanted)
            if leased is None:
                self._stop.wait(self.poll_seconds)

    def _yield_to_intake(self) -> None:
        # Wait for a pause in intake, at most intake_priority_seconds; while intake is
        # saturated (a burst), keep waiting up to intake_saturated_seconds, so that a burst
        # is acknowledged first and worked after.
        deadline = time.monotonic() + self.intake_saturated_seconds
        while (
            not self.queue.wait_intake_idle(self.intake_priority_seconds)
            and self.queue.intake_saturated()
            and time.monotonic() < deadline
            and not self._stop.is_set()
        ):
            continue

    def _wanted(self) -> dict[str | None, int]:
        # Per lane: idle threads, plus (``ahead``) one ready job per thread so that a
        # worker that finishes can start again without waiting for a round. Finished
        # jobs stay in _leased until their round records them, and that same round
        # frees their places.
        if self._stop.is_set():
            return {lane.queue: 0 for lane in self.lanes}
        wanted = {}
        for lane in self.lanes:
            held = sum(1 for job in self._leased.values() if self._lane_of(job) is lane)
            freed = sum(1 for f, _ in self._finished if self._lane_of(f.job) is lane)
            wanted[lane.queue] = (2 if lane.ahead else 1) * lane.size - held + freed
        return wanted

    def _wanted_any(self) -> bool:
        return any(n > 0 for n in self._wanted().values())

    def _lane_of(self, job: Job) -> Lane:
        for lane in self.lanes:
            if lane.queue is None or lane.queue == job.queue:
                return lane
        # A queue no lane serves (never leased: leases are per lane); the first lane.
        return self.lanes[0]

    def _record_round(self, lease: dict[str | None, int] | int) -> list[Job] | None:
        """One transaction: record finished jobs, lease up to ``lease``; None on error."""
        with self._signal:
            finished, self._finished = self._finished, []
        try:
            states, jobs = self.queue.cycle([f for f, _ in finished], owner=self.owner, lease=lease)
        except StoreError as exc:
            log.error("recording finished jobs and leasing failed", error=str(exc))
            with self._signal:
                self._finished[:0] = finished
            return None
        with self._signal:
            for f, _ in finished:
                self._leased.pop(f.job.id, None)
                self._leased_at.pop(f.job.id, None)
            now = time.monotonic()
            for job in jobs:
                self._leased[job.id] = job
                self._leased_at[job.id] = now
        # Within a lane the most urgent job is taken first.
        for job in sorted(jobs, key=lambda j: (j.priority, j.id)):
            self._lane_of(job).ready.put(job)
        for f, seconds in finished:
            self._report(f, states.get(f.job.id), seconds)
        # A round that leased a full share of a lane may have left runnable jobs behind.
        shares = lease if isinstance(lease, dict) else {None: lease}
        for queue, n in shares.items():
            if n > 0 and sum(1 for j in jobs if self._lane_of(j).queue == queue) == n:
                self.wake()
                break
        return jobs

    def _report(self, f: Finished, state: str | None, seconds: float) -> None:
        job = f.job
        outcome = state or "lost"
        with _job_log(job):
            if state is None:
                log.warning("job finished after its lease was lost; result discarded")
            elif state == "moved":
                log.info("job moved to another queue", queue=f.move_to)
            elif state == "done":
                result = f.result or {}
                # "done" alone hides "nothing handled it": log the reason with it.
                log.info("job done", handled=result.get("handled"), reason=result.get("reason"))
            else:
                log.error("job failed", error=f.error, state=state)
        if self.metrics is not None:
            self.metrics.job_duration.labels(outcome).observe(seconds)

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

    # --- workers -------------------------------------------------------------------------

    def _run(self, lane: Lane) -> None:
        while True:
            job = lane.ready.get()
            if job is None or self._stop.is_set():
                return  # a job taken here stays leased and is released by stop()
            if lane.ahead:
                self._wait_out_burst()
                if self._stop.is_set():
                    return
            if self._stale(job):
                continue
            finished, seconds = self._execute_bound(job)
            with self._signal:
                self._finished.append((finished, seconds))
                self._signal.notify()

    def _wait_out_burst(self) -> None:
        # A lane of long jobs (role runs: tools, tests, index updates) does not start
        # one while intake is saturated, up to intake_saturated_seconds, as the
        # coordinator leases nothing new meanwhile: its CPU would come out of the
        # acknowledgements of the burst. The light lane never waits here.
        deadline = time.monotonic() + self.intake_saturated_seconds
        while (
            self.queue.intake_saturated()
            and time.monotonic() < deadline
            and not self._stop.wait(self.intake_priority_seconds)
        ):
            continue

    def _stale(self, job: Job) -> bool:
        # A job leased ahead of time waited behind a long one: its lease may expire
        # while it runs, and then the reaper would hand it out a second time. Give it
        # back instead; it is leased again with a fresh lease.
        with self._signal:
            waited = time.monotonic() - self._leased_at.get(job.id, time.monotonic())
        if waited <= self.queue.lease_seconds / 2:
            return False
        try:
            self.queue.release(job)
        except StoreError as exc:
            log.error("could not give back a job that waited too long", error=str(exc))
        with self._signal:
            self._leased.pop(job.id, None)
            self._leased_at.pop(job.id, None)
            self._signal.notify()
        return True

    def _execute_bound(self, job: Job) -> tuple[Finished, float]:
        # Every log line of a job carries its delivery id, job id, repo and subject.
        started = time.perf_counter()
        lease = self.leases.start(job)
        job = dataclasses.replace(job, heartbeat=lease.renew)
        try:
            with _job_log(job):
                finished = self.execute(job)
        finally:
            self.leases.finish(job)
        return finished, time.perf_counter() - started

    def execute(self, job: Job) -> Finished:
        """Run one leased job's handlers; the outcome is recorded by the caller."""
        log.info("job started", event_name=job.event_name)
        try:
            event = parse_job_event(job)
        except PayloadError as exc:
            # The stored body will never parse differently: no point retrying.
            return self._failure(job, exc, permanent=True)
        try:
            result: dict[str, Any] = self.dispatcher.dispatch(job, event)
        except LeaseLost as exc:
            # Another attempt owns the job now; this one's outcome is discarded.
            log.warning("job stopped: its lease was lost", error=str(exc))
            return Finished(job, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the job boundary records every failure
            return self._failure(job, exc)
        if result.get("move_to"):
            # The dispatcher wants it in another lane (a light job of a repository that
            # runs on CI would hold a light thread for the whole CI run).
            return Finished(job, result, move_to=str(result["move_to"]))
        # Long work a light job handed on: stored with this job's completion.
        return Finished(job, result, followups=followups_for(job, event, result))

    def _failure(self, job: Job, exc: BaseException, *, permanent: bool = False) -> Finished:
        if self.metrics is not None:
            self.metrics.job_failures.labels(type(exc).__name__).inc()
        if not permanent:
            log.warning("job attempt raised", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        return Finished(job, error=f"{type(exc).__name__}: {exc}", permanent=permanent)

    def run_job(self, job: Job) -> str:
        """Run one leased job and record it at once: ``done``, ``failed``, ``dead``, ``lost``.

        The pool's threads record in batches instead; this is for running a single job
        outside the pool.
        """
        finished, seconds = self._execute_bound(job)
        states, _ = self.queue.cycle([finished])
        state = states.get(job.id)
        self._report(finished, state, seconds)
        return state or "lost"


def _job_log(job: Job) -> Any:
    """Log context for one job: every line carries its delivery, id, repo and subject."""
    return bound(
        delivery_id=job.delivery_id,
        job_id=job.id,
        forge=job.forge,
        repo=job.repo,
        subject=job.subject,
        attempt=job.attempts,
    )
