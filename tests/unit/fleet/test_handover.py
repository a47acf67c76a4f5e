"""A light job's /approve records the approval and hands the next phase to a heavy job."""

from __future__ import annotations

import dataclasses

from bot.events import Actor, EventKind
from bot.jobs.followups import RecordedContinuations
from handlers.registry import HandlerContext
from tests.unit.workflow.support import all_human, bot


def _light(b, event) -> RecordedContinuations:
    """Handle ``event`` as a light job does: services with continuations."""
    later = RecordedContinuations()
    services = dataclasses.replace(b.w.services(), continuations=later)
    ctx = HandlerContext(
        job_id=next(b.jobs), delivery_id=event.delivery_id, attempt=1, services=services
    )
    assert b.registry.handle(event, ctx) == []
    return later


def test_approve_in_a_light_job_stops_before_the_next_role_and_asks_for_it():
    b = bot(all_human())
    b.label()  # a heavy job: the first phase runs inline
    assert b.phase_states()[:2] == ["needs_approval", "waiting"]
    roles_before = len(b.w.roles.tasks)
    event = b.comment("/approve", who="alice", on_mr=True, send=False)
    later = _light(b, event)
    # The gate passed and the run moved on, but no role ran in the light job.
    assert b.phase_states()[:2] == ["approved", "waiting"]
    assert len(b.w.roles.tasks) == roles_before
    assert later.requests == [{"repo": "acme/app", "issue": 7, "reason": "phase design"}]
    # The continuation (a heavy job: no continuations) runs the phase.
    cont = b.event(EventKind.CONTINUE, action="run", number=7, actor=Actor(login="alice"))
    b.handle(cont)
    assert b.phase_states()[:2] == ["approved", "needs_approval"]
    assert len(b.w.roles.tasks) == roles_before + 1


def test_a_command_that_changes_nothing_asks_for_no_continuation():
    b = bot(all_human())
    b.label()
    event = b.comment("/approve", who="mallory", on_mr=True, send=False)  # not an approver
    later = _light(b, event)
    assert later.requests == []
    assert b.phase_states()[:2] == ["needs_approval", "waiting"]


def test_a_continuation_for_a_finished_or_missing_run_does_nothing():
    b = bot(all_human())
    cont = b.event(EventKind.CONTINUE, action="run", number=7, actor=Actor(login="alice"))
    b.handle(cont)
    assert b.w.runs.latest_for_issue("github", "acme/app", 7) is None
    assert b.w.sink.log == []
