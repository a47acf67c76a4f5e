"""A phase whose push waits for an infrastructure approver.

The judge answers ``needs_approval`` for a push of CI or deployment files while
``approvers.infra`` names someone and none of them approved (``policies/protected.py``).
The engine then keeps the change set, sets the phase to ``needs_approval`` awaiting
``infra`` (the status comment shows the judge's sentence and the commands) and pushes
nothing. One of ``approvers.infra`` answers ``/approve``: the approval is recorded
for the phase's round, bound to the head the phase waits at; the engine puts the phase
back to ``running`` and applies the push again, and the shell's judge reads the run's
approvals at that head (:mod:`bot.judging_runs`), so the policy lets it through. A
person's push meanwhile moves the head: the approval no longer counts and is asked
for again. After the push the phase's own gate is evaluated at the new head as usual.
"""

from __future__ import annotations

from bot.repoconfig.schema import ApproversConfig, SelfApproval
from handlers.workflow.approvers import Verdict
from handlers.workflow.state import PhaseRun, RunData

INFRA = "infra"
"""The ``awaiting`` entry of a phase whose push waits for ``approvers.infra``."""


def held(phase: PhaseRun | None) -> bool:
    """Whether ``phase`` waits for an infrastructure approval of its push."""
    return phase is not None and phase.state == "needs_approval" and INFRA in phase.awaiting


def infra_verdict(infra: list[str], login: str, bot_login: str | None) -> Verdict:
    """Whether ``login`` may release a held push (listed in ``approvers.infra``)."""
    if bot_login and login.lower() == bot_login.lower():
        return Verdict(False, "the bot cannot approve its own work")
    if login.lower() in {a.lower() for a in infra}:
        return Verdict(True, "listed in approvers.infra")
    listed = ", ".join(f"@{a}" for a in infra) or "no one"
    return Verdict(
        False,
        f"this phase's push changes CI or deployment files, which only approvers.infra "
        f"({listed}) may release",
    )


def release_verdict(
    approvers: ApproversConfig, login: str, *, bot_login: str | None, started_by: str
) -> Verdict:
    """Whether ``login`` may release a held push of a run ``started_by`` started: listed
    in ``approvers.infra``, and not the starter unless ``self_approval: allowed`` (CI and
    deployment files are code)."""
    verdict = infra_verdict(list(approvers.infra), login, bot_login)
    starter = bool(started_by) and login.lower() == started_by.lower()
    if verdict.ok and starter and approvers.self_approval is not SelfApproval.ALLOWED:
        return Verdict(
            False,
            f"@{login} started this run, and its push changes CI or deployment files "
            "(code), so another infrastructure approver releases it",
        )
    return verdict


def released(data: RunData, phase: PhaseRun, head: str | None, infra: list[str]) -> list[str]:
    """The infrastructure approvers who approved ``phase``'s round at ``head``."""
    wanted = {a.lower() for a in infra}
    return [a.by for a in data.approvals_for(phase) if a.sha == head and a.by.lower() in wanted]
