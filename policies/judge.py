"""The judge: every policy's verdict on one action in the context of one snapshot.

A *policy* is a pure function ``policy(action, snapshot) -> Verdict``.
:func:`build_judge` closes over a snapshot and returns a
:data:`policies.verdict.Judge` (``judge(action) -> Verdict``), the shape the executor
calls, so the executor never sees snapshots. The worst verdict wins; an action every
policy skips is allowed. An allow verdict names the policies that allowed, so the audit
log says who let an action through.

The shipped policies, in order (:data:`DEFAULT_POLICIES`):

==================  ===================================================================
actor_permission    code-changing actions need ``policies.min_permission``; a lookup
                    that failed denies them (fail closed)
protected_paths     no push outside the repository, into ``.agentforge/``, CI files
                    (unless ``ci_writers``), ``protected_paths`` or ``policies.deny_paths``
infra_approval      pushes to CI or deployment files wait for ``approvers.infra``
secret_scan         no push whose added lines hold a secret
lessons_proposal    the engine's ``ProposeLesson`` may write ``.agentforge/lessons.md``
                    (and nothing else), unless the lessons hold a secret
==================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.actions import Action
from policies.lessons import lessons_proposal
from policies.permission import actor_permission
from policies.protected import infra_approval, protected_paths
from policies.secrets import secret_scan
from policies.snapshot import Snapshot
from policies.verdict import Decision, Judge, Verdict, worst

Policy = Callable[[Action, Snapshot], Verdict]
"""A pure function judging one action against a snapshot."""

DEFAULT_POLICIES: tuple[Policy, ...] = (
    actor_permission,
    protected_paths,
    infra_approval,
    secret_scan,
    lessons_proposal,
)


def judge_action(action: Action, snapshot: Snapshot, policies: Sequence[Policy]) -> Verdict:
    """The combined verdict of ``policies`` on ``action``."""
    snap = snapshot.for_action(action)
    verdicts = [policy(action, snap) for policy in policies]
    verdict = worst(verdicts)
    if verdict.decision > Decision.ALLOW:
        return verdict
    allowed = [v for v in verdicts if v.decision == Decision.ALLOW]
    if not allowed:
        return Verdict.allow("no policy applies to this action", "policies")
    return Verdict.allow(
        "; ".join(v.reason for v in allowed if v.reason),
        ",".join(v.policy for v in allowed),
    )


def build_judge(snapshot: Snapshot, policies: Sequence[Policy] = DEFAULT_POLICIES) -> Judge:
    """A judge for the executor that asks ``policies`` in the context of ``snapshot``."""
    chosen = tuple(policies)

    def judge(action: Action) -> Verdict:
        return judge_action(action, snapshot, chosen)

    return judge
