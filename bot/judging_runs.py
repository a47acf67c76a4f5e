"""The run's facts for judging a push: its phase, role and the approvals at its head.

The engine's pushes carry ``Agentforge-Run``, ``Agentforge-Phase`` and
``Agentforge-Round`` trailers (set by the engine, never by a role). For each
:class:`bot.actions.PushCommit` the judge asks :func:`run_facts` for the run's
record and takes, fresh for that push (an ``/approve`` recorded earlier in the same
job counts):

- ``phase`` and ``role`` from the run's phase of that name;
- ``approvals``: logins whose approval of that phase's round is bound to the head the
  phase waits at (``PhaseRun.head_sha``), so an infrastructure approver's ``/approve``
  releases the push that :func:`policies.protected.infra_approval` held, and a push by
  a person in between (a new head) makes it count no more.

A push without those trailers, or of another repository's run, gets no facts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from bot.actions import Action, PushCommit
from bot.events import Event
from handlers.services import RunStore
from handlers.workflow.state import RunData

ActionContextFn = Callable[[Event, Action], dict[str, Any]]
"""``facts(event, action) -> {"phase": ..., "role": ..., "approvals": ...}``."""


def run_facts(runs: RunStore) -> ActionContextFn:
    """The judge's per-push facts read from ``runs`` (see the module docstring)."""

    def facts(event: Event, action: Action) -> dict[str, Any]:
        if not isinstance(action, PushCommit):
            return {}
        run_id = action.trailers.get("Agentforge-Run")
        name = action.trailers.get("Agentforge-Phase")
        if not run_id or not name:
            return {}
        record = runs.get(run_id)
        if record is None or record.repo != event.repo.full_name:
            return {}
        try:
            data = RunData.from_data(record.data)
        except ValidationError:
            return {}
        phase = next((p for p in data.phases if p.name == name), None)
        if phase is None:
            return {}
        try:
            round_ = int(action.trailers.get("Agentforge-Round") or phase.round)
        except ValueError:
            return {}
        approvals = {
            a.by
            for a in data.approvals
            if a.phase == name and a.round == round_ and a.sha == phase.head_sha
        }
        return {"phase": name, "role": phase.role, "approvals": frozenset(approvals)}

    return facts
