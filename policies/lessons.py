"""The engine's lessons proposal: the one write under ``.agentforge/`` that is allowed.

``.agentforge/**`` is denied to every :class:`bot.actions.PushCommit` (see
:mod:`policies.protected`). When reviewers keep giving the same feedback, the workflow
proposes a line for ``.agentforge/lessons.md`` as a :class:`bot.actions.ProposeLesson`:
its only file is :data:`bot.actions.LESSONS_PATH` (the action has no path field), and it
lands on the run's branch, so a person approves it by merging the MR. This policy
allows it explicitly — when the content holds no secret (review text is pasted by
people) — and is the reason the allowance cannot reach any other file.
"""

from __future__ import annotations

from bot.actions import LESSONS_PATH, Action, FileChange, ProposeLesson
from policies.secrets import scan
from policies.snapshot import Snapshot, diff_of_changes
from policies.verdict import Verdict

NAME = "lessons_proposal"


def lessons_proposal(action: Action, snap: Snapshot) -> Verdict:
    """Allow the engine's lessons commit (only ``.agentforge/lessons.md``), secrets refused."""
    if not isinstance(action, ProposeLesson):
        return Verdict.skip(policy=NAME)
    diff = diff_of_changes([FileChange(path=LESSONS_PATH, content=action.content)])
    findings = scan(diff)
    if findings and (snap.config is None or snap.config.policies.secret_scan):
        listed = "; ".join(str(f) for f in findings[:20])
        return Verdict.deny(f"the proposed lessons contain what looks like secrets: {listed}", NAME)
    return Verdict.allow(
        f"the engine's lessons proposal writes only {LESSONS_PATH}, on the run's branch", NAME
    )
