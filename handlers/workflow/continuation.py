"""The handler of a continuation job: drive an issue's run where a light job stopped.

A light job (a command) never runs a role: the engine asks for a continuation instead
(``services.continuations``) and the shell queues this event on the heavy queue for the
same issue (see :mod:`bot.jobs.followups`). Driving the run from its stored state is all it
does; the gates and claims decide what that means, so a continuation that finds the
run moved on (cancelled, already running elsewhere) does nothing.
"""

from __future__ import annotations

from bot.actions import Action
from bot.events import Event
from handlers.registry import HandlerContext
from handlers.workflow.job import Job


def on_continue(event: Event, ctx: HandlerContext) -> list[Action]:
    """Drive the issue's run (its next phase's role runs here, in the heavy lane)."""
    job = Job.open(event, ctx)
    if job is None or event.number is None:
        return []
    run = job.locate(event.number)
    if run is None or run.terminal:
        return []
    config = job.config(event.number)
    if config is None:
        return []
    engine = job.engine(config)
    with engine.guard(run):
        engine.drive(run)
    return []
