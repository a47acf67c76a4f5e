"""Dispatchers: the seam between the queue and whatever runs handlers.

The worker leases a job, turns its stored body back into an :class:`Event`, and hands
both to a :class:`Dispatcher`. :class:`InProcessDispatcher` calls the handler table in
this process, handing them the typed services a :data:`ServicesFactory` builds for the
job; a later dispatcher can send the job to a CI runner instead and return what that
runner reported, without the queue or the worker changing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from bot.errors import ConfigError
from bot.events import Event
from bot.jobs.followups import RecordedContinuations
from bot.jobs.queue import Job
from handlers.registry import REGISTRY, HandlerContext, HandlerRegistry
from handlers.services import Services

ServicesFactory = Callable[[Job, Event], "Services | None"]
"""``factory(job, event) -> Services`` for the handlers of one job (None: no services)."""


@runtime_checkable
class ReportsApplied(Protocol):
    """An action sink that remembers what it applied (see :class:`bot.services.ExecutorSink`)."""

    def applied(self) -> list[dict[str, Any]]:
        """JSON-able outcomes of the actions applied during the job, oldest first."""
        ...


@runtime_checkable
class Dispatcher(Protocol):
    """Runs one job's event somewhere and returns the job's result record."""

    def dispatch(self, job: Job, event: Event) -> dict[str, Any]:
        """Run the handlers for ``event``.

        Returns:
            A JSON-able result stored on the job: ``handled`` (bool), and either
            ``actions`` (the proposed actions) or ``reason``.

        Raises:
            Exception: anything the handlers raise; the worker records it as a failed
                attempt and retries with backoff.
        """
        ...


class InProcessDispatcher:
    """Calls the handlers registered in this process.

    Args:
        registry: The handler table (the process-wide one by default).
        services: Builds the typed services handed to the handlers of each job.
    """

    def __init__(
        self, registry: HandlerRegistry | None = None, services: ServicesFactory | None = None
    ) -> None:
        self.registry = registry or REGISTRY
        self.services = services

    def dispatch(self, job: Job, event: Event) -> dict[str, Any]:
        """Run the registered handlers; see :meth:`Dispatcher.dispatch`."""
        if not self.registry.handlers_for(event.kind):
            return {"handled": False, "reason": f"no handler for {event.kind.value}"}
        services, unavailable = None, None
        if self.services is not None:
            try:
                services = self.services(job, event)
            except ConfigError as exc:
                # No credentials for this forge: the handlers run without services
                # (and so propose nothing that needs them); the result says why.
                unavailable = f"no services for {event.forge.value}: {exc}"
        ctx = HandlerContext(
            job_id=job.id, delivery_id=job.delivery_id, attempt=job.attempts, services=services
        )
        actions = self.registry.handle(event, ctx)
        result: dict[str, Any] = {
            "handled": True,
            "kind": event.kind.value,
            "actions": [action.model_dump(mode="json") for action in actions],
        }
        if unavailable is not None:
            result["services"] = unavailable
        later = services.continuations if services is not None else None
        if isinstance(later, RecordedContinuations) and later.requests:
            # Long work this light job handed to the heavy queue: the worker stores it
            # as jobs when it records this one done (bot.jobs.followups).
            result["followups"] = list(later.requests)
        if services is not None and isinstance(services.actions, ReportsApplied):
            applied = services.actions.applied()
            if applied:
                # Written during the run (the live status comment...): part of the
                # job's record like the end-of-job actions (see ExecutingDispatcher).
                result["outcomes"] = applied
        return result
