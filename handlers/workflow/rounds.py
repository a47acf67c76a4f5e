"""Run-state changes behind ``/reject``, ``/retry`` and ``/cancel``.

- :func:`reject`: the current phase (waiting for its gate) goes back to ``waiting``
  with ``round + 1``, the feedback, and the rejected round's commits (their diff goes
  to the role). The next round's commit is pushed on top of the branch (never a
  force-push) with ``Agentforge-Round: <n>``; approvals of the old round no longer
  count (they are bound to their round).
- :func:`retry`: a failed run is terminal, and a terminal run never changes again, so
  a retry is a *new* run that continues it: the same branch, MR and approved phases,
  the failed phase back to ``waiting`` (with the answers as feedback), ``continues``
  naming the failed run. Its id comes from the retry comment, so a redelivered
  ``/retry`` finds the run it made instead of making another.
- :func:`cancel`: ends the run as ``cancelled`` (terminal).

Each is one compare-and-set decided on the state it reads (a lost race re-reads and
decides again), and each records the command's signal id in ``consumed`` (a
redelivered command does nothing twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from bot.errors import Conflict
from handlers.services import RunRecord
from handlers.workflow.engine import Engine, run_id_for
from handlers.workflow.state import RunData
from handlers.workflow.work import commits_of

RejectOutcome = Literal["rejected", "duplicate", "not_waiting", "early", "ended"]
_CONSUMED_KEEP = 200
_TRIES = 20


def _consume(data: RunData, signal: str) -> None:
    data.consumed = [*data.consumed, signal][-_CONSUMED_KEEP:]


def reject(
    engine: Engine,
    run: RunRecord,
    *,
    signal: str,
    feedback: str,
    at: datetime | None,
) -> tuple[RunRecord, RejectOutcome]:
    """Send the current phase back for another round with ``feedback``."""
    for _ in range(_TRIES):
        if run.terminal:
            return run, "ended"
        data = engine.data(run)
        if signal in data.consumed:
            return run, "duplicate"
        phase = data.phase
        if phase is None or phase.state != "needs_approval":
            return run, "not_waiting"
        if at is not None and phase.waiting_since is not None and at < phase.waiting_since:
            return run, "early"
        branch = engine.s.repo.branch_commits(data.repo, data.branch, data.base)
        rejected = commits_of(data, phase, branch) or list(phase.previous_commits)
        change = _rejector(phase.name, phase.round, rejected, feedback, signal)
        run, won = engine.transition(run, change)
        if won:
            return run, "rejected"
    raise Conflict(f"run {run.id}: the rejection {signal} lost {_TRIES} races in a row")


def _rejector(name: str, round_: int, rejected: list[str], feedback: str, signal: str):
    """The state change of one ``/reject`` (only if ``name`` still waits in ``round_``)."""

    def change(data: RunData, extra: dict[str, Any]) -> bool:
        current = data.phase
        if current is None or current.name != name or current.round != round_:
            return False
        if current.state != "needs_approval":
            return False
        current.state = "waiting"
        current.round += 1
        current.feedback = feedback
        current.previous_commits = rejected
        current.claim = None
        current.result = current.pushed = False
        current.head_sha = current.waiting_since = current.hold = None
        current.pending, current.awaiting, current.questions = [], [], []
        current.error = None
        current.started_at = current.finished_at = None
        _consume(data, signal)
        return True

    return change


def retry(
    engine: Engine, run: RunRecord, *, signal: str, by: str, answers: str | None
) -> RunRecord | None:
    """A new run continuing the failed ``run`` (None when another job made it first)."""
    old = engine.data(run)
    new_id = run_id_for(old.forge, old.repo, old.issue, f"retry:{signal}")
    existing = engine.s.runs.get(new_id)
    if existing is not None:
        return existing  # a redelivered /retry
    now = engine.now()
    data = old.model_copy(deep=True)
    data.run_id, data.continues = new_id, old.run_id
    data.outcome = data.error = data.finished_at = None
    data.status_comment_id = None
    data.started_by, data.trigger, data.started_at = by, "retry", now
    phase = data.phase
    if phase is not None:
        phase.state = "waiting"
        phase.claim = None
        phase.result = phase.pushed = False
        phase.error = phase.hold = phase.head_sha = phase.waiting_since = None
        phase.started_at = phase.finished_at = None
        phase.pending, phase.awaiting = [], []
        if answers:
            asked = "\n".join(f"- {q}" for q in phase.questions)
            phase.feedback = (
                f"Your questions:\n{asked}\n\nThe answers:\n{answers}" if asked else answers
            )
        phase.questions = []
    _consume(data, signal)
    try:
        return engine.s.runs.create(
            run_id=new_id,
            forge=data.forge,
            repo=data.repo,
            issue_number=data.issue,
            state="running",
            phase=(data.phase or data.phases[-1]).name,
            branch=data.branch,
            data=data.to_data(),
        )
    except Conflict:
        return engine.s.runs.get(new_id)


def cancel(engine: Engine, run: RunRecord, *, signal: str, by: str) -> tuple[RunRecord, bool]:
    """End ``run`` as cancelled; False when it had already ended."""
    now = engine.now()

    def change(data: RunData, extra: dict[str, Any]) -> bool:
        if data.outcome:
            return False
        data.outcome, data.finished_at = "cancelled", now
        data.error = f"cancelled by @{by}"
        phase = data.phase
        if phase is not None and phase.state == "running":
            phase.claim = None
        extra.pop("pending", None)
        _consume(data, signal)
        return True

    for _ in range(_TRIES):
        if run.terminal:
            return run, False
        run, won = engine.transition(run, change)
        if won:
            return run, True
    raise Conflict(f"run {run.id}: the cancellation {signal} lost {_TRIES} races in a row")
