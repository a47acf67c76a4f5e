"""Recording an approval signal against the phase that awaits its gate.

A signal is an approver's ``/approve`` comment or a GitLab approval (the quick action
``/approve`` on an MR, which GitLab turns into an approval and a Merge Request Hook
with ``action: approved``). It is recorded only when it can be about what the phase
now shows:

- ``duplicate``: the same signal (comment id, approval event) was acted on already;
- ``not_waiting``: no phase awaits a gate (it is running, or the run ended);
- ``stale``: a forge approval given at a head other than the MR's current one;
- ``early``: an ``/approve`` written before the phase's result was up (while it ran,
  or before a person's later push): the approver cannot have seen what it approves;
- ``not_human``: the phase's gate has no human part (``tests``, ``mr_approval``, a
  confident ``auto``), so ``/approve`` cannot pass it (unless its push waits for an
  infrastructure approver, :mod:`.infra_hold`);
- ``recorded``: bound to the MR head SHA it was given at. Each approver counts once
  per head (a phase may need several, ``approvers.required``).

The decision and the write are one compare-and-set: a lost race re-reads the run and
decides again, so one approver's two ``/approve`` at once record one approval. Two
approvers at once may both be recorded (each landed while the phase waited); the
advance that follows is its own compare-and-set, so the phase still advances once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.errors import Conflict
from handlers.services import RunRecord
from handlers.workflow.gates import effective_gates
from handlers.workflow.infra_hold import held
from handlers.workflow.state import Approval, RunData

Outcome = Literal["recorded", "duplicate", "not_waiting", "stale", "early", "not_human", "ended"]
_CONSUMED_KEEP = 200
_TRIES = 20


@dataclass(frozen=True)
class Signal:
    """One approval signal.

    Attributes:
        by: The approver's login (already checked to be an approver).
        id: Stable id of the signal (``comment:<id>``, ``approval:<...>``).
        via: ``comment`` or ``forge``.
        sha: For forge approvals, the MR head the approval was given at.
        at: When the signal was written, as the forge reports it.
    """

    by: str
    id: str
    via: Literal["comment", "forge"]
    sha: str | None = None
    at: datetime | None = None


def record(engine: Any, run: RunRecord, signal: Signal) -> tuple[RunRecord, Outcome]:
    """Record ``signal`` on the run's current phase (see the module docstring).

    Args:
        engine: The :class:`handlers.workflow.engine.Engine` of this job.
        run: The run.
        signal: The approval.
    """
    for _ in range(_TRIES):
        if run.terminal:
            return run, "ended"
        data: RunData = engine.data(run)
        if signal.id in data.consumed:
            return run, "duplicate"
        phase = data.phase
        if phase is None or phase.state != "needs_approval":
            return run, "not_waiting"
        head = engine.head_sha(data)
        if signal.via == "forge" and signal.sha != head:
            return run, "stale"
        if (
            signal.via == "comment"
            and signal.at is not None
            and phase.waiting_since is not None
            # Forge timestamps have whole seconds; the bot's clock does not.
            and signal.at < phase.waiting_since.replace(microsecond=0)
        ):
            return run, "early"
        if not held(phase) and "human" not in effective_gates(phase, engine.threshold(phase)):
            return run, "not_human"
        if any(a.sha == head and _same(a.by, signal.by) for a in data.approvals_for(phase)):
            # This approver's approval at this head is in already (two /approve at
            # once): one person counts once, however often they approve.
            return run, "duplicate"
        change = _adder(phase.name, phase.round, head, signal, engine.now())
        run, won = engine.transition(run, change)
        if won:
            return run, "recorded"
    raise Conflict(f"run {run.id}: the approval {signal.id} lost {_TRIES} races in a row")


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _adder(name: str, round_: int, head: str | None, signal: Signal, now: datetime):
    """The state change that records ``signal`` (only if ``name`` still awaits its gate
    and has no approval at ``head`` yet)."""

    def change(data: RunData, extra: dict[str, Any]) -> bool:
        current = data.phase
        if current is None or current.name != name or current.state != "needs_approval":
            return False
        if any(a.sha == head and _same(a.by, signal.by) for a in data.approvals_for(current)):
            return False
        data.approvals.append(
            Approval(
                phase=name,
                round=round_,
                by=signal.by,
                sha=head,
                via=signal.via,
                signal=signal.id,
                at=now,
            )
        )
        data.consumed = [*data.consumed, signal.id][-_CONSUMED_KEEP:]
        return True

    return change
