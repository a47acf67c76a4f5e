"""The handler table: which callables decide what to do for each kind of event.

The worker (through a dispatcher) calls :func:`handle` for every job. Handlers for the
event kinds are registered by the modules that implement them (a later issue); the
table starts empty, and a job whose kind has no handler completes as "not handled".

A handler is ``handler(event, ctx) -> list[Action]``: it *proposes* actions and never
writes to a forge itself. It must be idempotent by ``event.delivery_id`` (a job is
retried after a crash, so it can run more than once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.actions import Action
from bot.events import Event, EventKind
from handlers.services import Services


@dataclass(frozen=True)
class HandlerContext:
    """What a handler knows about the job it runs in.

    Attributes:
        job_id: The queue's job id.
        delivery_id: The forge's delivery id.
        attempt: 1 for the first run, 2 for the first retry...
        services: The shell's typed services (run store, repository reader, config,
            role runner, action sink...); None where the shell offers none (a dry run
            with no forge), and a handler that needs them then proposes nothing.
    """

    job_id: int
    delivery_id: str | None
    attempt: int = 1
    services: Services | None = None


Handler = Callable[[Event, HandlerContext], list[Action]]
"""A handler: event and context in, proposed actions out."""


class HandlerRegistry:
    """A thread-safe table ``EventKind -> [handlers]`` (called in registration order)."""

    def __init__(self) -> None:
        self._table: dict[EventKind, list[Handler]] = {}
        self._lock = threading.Lock()

    def register(self, kind: EventKind, handler: Handler) -> Handler:
        """Add ``handler`` for ``kind`` (once; registering it again is a no-op).

        Returns the handler, so this works as a decorator factory's inner call.
        """
        with self._lock:
            handlers = self._table.setdefault(EventKind(kind), [])
            if handler not in handlers:
                handlers.append(handler)
        return handler

    def unregister(self, kind: EventKind, handler: Handler) -> bool:
        """Remove ``handler`` for ``kind``; False if it was not registered."""
        with self._lock:
            handlers = self._table.get(EventKind(kind), [])
            if handler in handlers:
                handlers.remove(handler)
                return True
            return False

    def handlers_for(self, kind: EventKind) -> list[Handler]:
        """The handlers registered for ``kind`` (a copy)."""
        with self._lock:
            return list(self._table.get(EventKind(kind), []))

    def clear(self) -> None:
        """Remove every handler."""
        with self._lock:
            self._table.clear()

    def handle(self, event: Event, ctx: HandlerContext) -> list[Action]:
        """Run every handler for the event's kind and collect their proposed actions.

        Exceptions propagate: the worker is the one boundary that records failures.
        """
        actions: list[Action] = []
        for handler in self.handlers_for(event.kind):
            actions.extend(handler(event, ctx))
        return actions


REGISTRY = HandlerRegistry()
"""The process's handler table (handler modules register here on import)."""


def register(kind: EventKind, handler: Handler) -> Handler:
    """Register ``handler`` for ``kind`` in :data:`REGISTRY`."""
    return REGISTRY.register(kind, handler)


def unregister(kind: EventKind, handler: Handler) -> bool:
    """Remove ``handler`` for ``kind`` from :data:`REGISTRY`."""
    return REGISTRY.unregister(kind, handler)


def handlers_for(kind: EventKind) -> list[Handler]:
    """The handlers in :data:`REGISTRY` for ``kind``."""
    return REGISTRY.handlers_for(kind)


def handle(event: Event, ctx: HandlerContext) -> list[Action]:
    """Run :data:`REGISTRY`'s handlers for ``event``; see :meth:`HandlerRegistry.handle`."""
    return REGISTRY.handle(event, ctx)
