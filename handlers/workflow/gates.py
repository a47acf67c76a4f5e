"""Gate evaluation: may the current phase end, at the MR's current head?

A phase's gates must all pass (a list in the workflow file is an AND):

- ``human``: approvers' ``/approve`` (or GitLab approvals) recorded for this phase's
  round *at the current head SHA*. A later push needs new approvals.
- ``mr_approval``: approving forge reviews whose ``commit_id`` is the current head (an
  approval of an older commit does not count; a later dismissal or unapproval by the
  same person withdraws it).

For both, :mod:`.approval_rules` says whose approvals count and how many are needed
(``approvers.required``, code owners of the changed paths, the self-approval rule),
re-checking each approver's access now.
- ``tests``: every check on the head (statuses, check runs, pipelines) succeeded. A
  failing one *holds* the phase (the status comment says which); none reported yet, or
  some still running, means waiting. Fail closed: no checks is not green.
- ``auto``: passes when the role's confidence is at least the threshold; below it the
  gate becomes ``human``.

Everything is read fresh from the forge each time: the engine never trusts a cached
"green" across a push.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.forge import CommitState, CommitStatus, Review
from bot.repoconfig.schema import Gate
from handlers.workflow.approval_rules import ApprovalRules
from handlers.workflow.state import PhaseRun, RunData

_FAILING = {CommitState.FAILURE, CommitState.ERROR, CommitState.CANCELLED}


@dataclass
class GateOutcome:
    """The verdict on a phase's gates.

    Attributes:
        passed: Every gate passed.
        pending: What is still awaited, in words (one line per gate).
        hold: Why the phase is held (failing checks), or None.
        awaiting: The gates (``human``, ``tests``...) that have not passed yet.
    """

    passed: bool
    pending: list[str] = field(default_factory=list)
    hold: str | None = None
    awaiting: list[str] = field(default_factory=list)


def effective_gates(phase: PhaseRun, threshold: float) -> list[str]:
    """The phase's gates after ``auto`` has become ``human`` when confidence is low."""
    out: list[str] = []
    for gate in phase.gates:
        if gate == Gate.AUTO.value:
            confident = phase.confidence is not None and phase.confidence >= threshold
            gate = Gate.AUTO.value if confident else Gate.HUMAN.value
        if gate not in out:
            out.append(gate)
    return out


def evaluate(
    data: RunData,
    phase: PhaseRun,
    *,
    head_sha: str | None,
    threshold: float,
    approvers: ApprovalRules,
    reviews: Callable[[], list[Review]],
    checks: Callable[[str], list[CommitStatus]],
) -> GateOutcome:
    """Evaluate ``phase``'s gates at ``head_sha``.

    Args:
        data: The run (for its recorded approvals).
        phase: The phase whose gates are evaluated.
        head_sha: The MR's (or branch's) current head.
        threshold: The confidence below which ``auto`` becomes ``human``.
        approvers: Who may approve and how many must (:mod:`.approval_rules`).
        reviews: Reads the MR's reviews (called only for ``mr_approval``).
        checks: Reads the checks on a commit (called only for ``tests``).
    """
    outcome = GateOutcome(passed=True)
    for gate in effective_gates(phase, threshold):
        if gate == Gate.AUTO.value:
            continue
        if gate == Gate.HUMAN.value:
            given = [a.by for a in data.approvals_for(phase) if a.sha == head_sha]
            tally = approvers.tally(data, phase, head_sha, given)
            if not tally.passed:
                outcome.passed = False
                outcome.awaiting.append(gate)
                outcome.pending += tally.pending(
                    "an approver's `/approve`", "`/approve`", _short(head_sha)
                )
        elif gate == Gate.MR_APPROVAL.value:
            given = _approving_at_head(reviews, head_sha)
            tally = approvers.tally(data, phase, head_sha, given)
            if not tally.passed:
                outcome.passed = False
                outcome.awaiting.append(gate)
                outcome.pending += tally.pending(
                    "an approving MR review", "approving MR reviews", _short(head_sha)
                )
        elif gate == Gate.TESTS.value and not _tests(outcome, head_sha, checks):
            outcome.passed = False
            outcome.awaiting.append(gate)
    return outcome


def _approving_at_head(reviews: Callable[[], list[Review]], head_sha: str | None) -> list[str]:
    """Who approved the MR at ``head_sha`` and has not withdrawn it since."""
    if head_sha is None:
        return []
    latest: dict[str, Review] = {}
    for review in reviews():
        # A person's latest verdict is what counts (an unapproval withdraws an approval).
        if review.state in ("approved", "dismissed", "changes_requested"):
            latest[review.author.login.lower()] = review
    return [
        review.author.login
        for review in latest.values()
        if review.state == "approved" and review.commit_id == head_sha
    ]


def _tests(
    outcome: GateOutcome, head_sha: str | None, checks: Callable[[str], list[CommitStatus]]
) -> bool:
    """Whether every check on the head is green (notes what is missing on ``outcome``)."""
    if head_sha is None:
        outcome.pending.append("checks on the MR's head (no commit yet)")
        return False
    found = checks(head_sha)
    failing = sorted({c.context for c in found if c.state in _FAILING})
    running = sorted({c.context for c in found if c.state not in _FAILING | {CommitState.SUCCESS}})
    if failing:
        outcome.hold = f"checks failing at {_short(head_sha)}: {', '.join(failing)}"
        outcome.pending.append(f"failing checks to pass: {', '.join(failing)}")
        return False
    if running:
        outcome.pending.append(f"checks still running: {', '.join(running)}")
        return False
    if not found:
        outcome.pending.append(f"checks on {_short(head_sha)} (none reported yet)")
        return False
    return True


def _short(sha: str | None) -> str:
    return f"`{sha[:10]}`" if sha else "the head"
