"""Value types of the job queue, and how a delivery's waiter is told its outcome.

Shared by :mod:`bot.jobs.queue` (the DuckDB queue), :mod:`bot.intake.journal` (the intake journal)
and the worker pool; they hold no database handle.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

STATES = ("queued", "running", "done", "failed", "dead")
MAX_BACKOFF_SECONDS = 3600.0


def utcnow() -> datetime:
    """Naive UTC now, the form the ``jobs`` timestamps are stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Delivery:
    """A verified, parsed delivery to be stored and queued.

    Attributes:
        forge: ``github`` or ``gitlab``.
        delivery_id: The forge's delivery id (``X-GitHub-Delivery``, ``Idempotency-Key``).
        event_name: The forge's event name header.
        payload: The raw verified body.
        content_key: :meth:`bot.events.Event.content_key`.
        subject: :meth:`bot.events.Event.subject` (ordering key) or None.
        repo: Repository full name.
        kind: Event kind.
        action: Event action.
        headers: Delivery headers worth keeping (never secrets).
        queue: The worker lane that runs its job (:mod:`bot.jobs.priorities`).
        priority: Lower is leased first within the lane.
    """

    forge: str
    delivery_id: str
    event_name: str
    payload: bytes
    content_key: str | None = None
    subject: str | None = None
    repo: str | None = None
    kind: str = ""
    action: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    queue: str = "heavy"
    priority: int = 1

    @property
    def delivery_key(self) -> str:
        """The primary key in ``deliveries``."""
        return f"{self.forge}:{self.delivery_id}"


@dataclass(frozen=True)
class EnqueueResult:
    """What happened to one delivery: ``queued`` (with its job id) or ``duplicate``."""

    status: str
    job_id: int | None = None


@dataclass(frozen=True)
class Job:
    """A leased job, as a worker sees it.

    ``heartbeat`` renews the job's lease while it runs (set by the worker that runs
    it; None where there is no lease, as in a CI runner) and raises
    :class:`bot.errors.LeaseLost` once the worker no longer owns the job. ``queue``
    and ``priority`` are where it waited (:mod:`bot.jobs.priorities`).
    """

    id: int
    delivery_id: str | None
    forge: str
    event_name: str
    repo: str | None
    subject: str | None
    payload: bytes
    headers: dict[str, str]
    attempts: int
    max_attempts: int
    lease_owner: str
    queue: str = "heavy"
    priority: int = 1
    heartbeat: Callable[[], None] | None = field(default=None, compare=False, repr=False)


class RetryOutcome(StrEnum):
    """Result of :meth:`JobQueue.retry`."""

    RETRIED = "retried"
    NOT_FOUND = "not_found"
    NOT_RETRYABLE = "not_retryable"


Waiter: TypeAlias = "Future[EnqueueResult] | tuple[asyncio.AbstractEventLoop, asyncio.Future]"
"""Who waits for a delivery's commit: a thread (``Future``) or a task on an event loop."""


@dataclass(frozen=True)
class Followup:
    """A job that a finished job asks for, stored in the transaction that records it done.

    The light lane's way of handing long work to the heavy lane (see
    :mod:`bot.jobs.followups`): the new job has the finished job's forge, repository and
    subject, so the subject's order holds.

    Attributes:
        delivery_id: Names the follow-up (``continue:<job id>:<n>``).
        event_name: The internal event name its body is parsed as.
        payload: Its body.
        queue: The lane that runs it.
        priority: Its priority there.
    """

    delivery_id: str
    event_name: str
    payload: bytes
    queue: str
    priority: int


@dataclass(frozen=True)
class Finished:
    """A job a worker has run, waiting to be recorded by :meth:`JobQueue.cycle`.

    Attributes:
        job: The leased job.
        result: The dispatcher's result (for a job that succeeded).
        error: ``"<ExceptionClass>: message"`` for a failed attempt (None on success).
        permanent: The failure can never succeed (dead at once, no retry).
        followups: Jobs to store if (and only if) this one is recorded done.
        move_to: Put the job back, unfinished and with its attempt not counted, on this
            queue instead (it keeps its id, so its place in its subject's order).
    """

    job: Job
    result: dict[str, Any] | None = None
    error: str | None = None
    permanent: bool = False
    followups: tuple[Followup, ...] = ()
    move_to: str | None = None


@dataclass(frozen=True)
class Stored:
    """A delivery with the job id and receive time it was given at intake."""

    delivery: Delivery
    job_id: int
    received_at: datetime


def settle_waiters(batch: list[tuple[Delivery, Waiter]], outcomes: list[Any]) -> None:
    """Resolve each waiter with its outcome (an :class:`EnqueueResult` or an exception).

    Waiters on an event loop are woken with one call per loop for the whole batch.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
    for (_, waiter), outcome in zip(batch, outcomes, strict=True):
        if isinstance(waiter, Future):
            if isinstance(outcome, BaseException):
                waiter.set_exception(outcome)
            else:
                waiter.set_result(outcome)
        else:
            by_loop.setdefault(waiter[0], []).append((waiter[1], outcome))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has been closed
            loop.call_soon_threadsafe(_settle_waiters, items)


def _settle_waiters(items: list[tuple[asyncio.Future, Any]]) -> None:
    # Runs on the event loop: one call per commit batch instead of one per request.
    for fut, outcome in items:
        if fut.done():  # the request timed out or its client went away
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
