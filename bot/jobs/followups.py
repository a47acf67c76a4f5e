"""Continuations: how a light job hands a phase's role run to the heavy queue.

A command such as ``/approve`` is a light job (answered within one light job's time,
whatever runs in the heavy lane). When the engine, driving the run after the command,
reaches a step that runs a role, it calls ``services.continuations.continue_run(...)``
instead and stops (see :meth:`handlers.workflow.engine.Engine.drive`). This module is the
shell's side of that:

1. :class:`RecordedContinuations` collects the requests during the light job (only
   light jobs get one; heavy jobs and the CI runner run everything inline);
2. the dispatcher lists them in the job's result (``followups``);
3. the worker turns them into :class:`bot.jobs.queue.Followup` rows (:func:`followups_for`)
   that :meth:`bot.jobs.queue.JobQueue.cycle` stores **in the transaction that records the
   light job done**: a crash before it re-runs the light job (idempotent) and asks
   again; after it the heavy job exists. Never one without the other;
4. the heavy job has the light job's subject, so the issue's order holds, and its body
   is an internal event (:data:`CONTINUE_EVENT`, parsed by :func:`parse_job_event`)
   whose handler drives the run from its stored state.

The internal event never comes from outside: webhook intake parses only forge event
names (an ``X-GitHub-Event: agentforge.continue`` is an unknown event there, ignored).
"""

from __future__ import annotations

import json
from typing import Any

from bot.errors import PayloadError
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef
from bot.jobs.priorities import HEAVY, PRIORITY_COMMAND
from bot.jobs.queue_types import Followup, Job
from bot.parsers import parse_event

CONTINUE_EVENT = "agentforge.continue"
"""The internal event name of a continuation job."""


class RecordedContinuations:
    """``services.continuations`` for a light job: remembers what should run later."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def continue_run(self, repo: str, issue: int, reason: str) -> None:
        """Ask for a heavy job that drives the issue's run (see the module docstring)."""
        request = {"repo": repo, "issue": int(issue), "reason": reason}
        if request not in self.requests:
            self.requests.append(request)


def followups_for(job: Job, event: Event, result: dict[str, Any]) -> tuple[Followup, ...]:
    """The heavy jobs a finished light job asked for in its result's ``followups``."""
    out = []
    for n, request in enumerate(result.get("followups") or []):
        body = {
            "forge": event.forge.value,
            "repo": event.repo.model_dump(mode="json"),
            "issue": request["issue"],
            "reason": request.get("reason", ""),
            "actor": event.actor.model_dump(mode="json"),
            "after_job": job.id,
        }
        out.append(
            Followup(
                delivery_id=f"continue:{job.id}:{n}",
                event_name=CONTINUE_EVENT,
                payload=json.dumps(body, separators=(",", ":")).encode(),
                queue=HEAVY,
                priority=PRIORITY_COMMAND,
            )
        )
    return tuple(out)


def parse_continuation(body: bytes, delivery_id: str | None) -> Event:
    """The :data:`CONTINUE_EVENT` body as an Event of kind ``continue``.

    Raises:
        PayloadError: the body is not a continuation this module wrote.
    """
    try:
        data = json.loads(body)
        return Event(
            forge=ForgeKind(data["forge"]),
            kind=EventKind.CONTINUE,
            action="run",
            event_name=CONTINUE_EVENT,
            delivery_id=delivery_id,
            repo=RepoRef.model_validate(data["repo"]),
            actor=Actor.model_validate(data["actor"]),
            number=int(data["issue"]),
            reason=str(data.get("reason") or ""),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PayloadError(f"continuation job body is malformed: {exc}") from None


def parse_job_event(job: Job) -> Event:
    """The Event of a stored job: a forge delivery, or an internal continuation.

    Raises:
        PayloadError: the stored body does not parse (it never will: the job is dead).
    """
    if job.event_name == CONTINUE_EVENT:
        return parse_continuation(job.payload, job.delivery_id)
    return parse_event(job.forge, job.event_name, job.payload, job.delivery_id)
