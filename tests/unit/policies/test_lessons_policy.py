"""The lessons proposal: allowed explicitly for .agentforge/lessons.md, nothing else."""

from __future__ import annotations

from bot.actions import FileChange, ProposeLesson, PushCommit
from bot.forge import Permission
from bot.repoconfig import RepoConfig
from policies.judge import build_judge
from policies.snapshot import Snapshot, diff_of_changes
from policies.verdict import Decision


def _snap(permission=Permission.WRITE, diff=()):
    return Snapshot(actor="alice", permission=permission, config=RepoConfig(), diff=diff)


def _lesson(content="# Lessons\n\n- add type hints\n"):
    return ProposeLesson(
        repo="acme/app", branch="agentforge/issue-1", base="main", content=content, message="m"
    )


def test_the_lessons_proposal_is_allowed_by_name():
    verdict = build_judge(_snap())(_lesson())
    assert verdict.decision == Decision.ALLOW and "lessons_proposal" in verdict.policy


def test_a_push_of_the_same_file_is_still_denied():
    push = PushCommit(
        repo="acme/app",
        branch="agentforge/issue-1",
        base="main",
        message="m",
        changes=[FileChange(path=".agentforge/lessons.md", content="# mine\n")],
    )
    diff = diff_of_changes(push.changes)
    assert build_judge(_snap(diff=diff))(push).decision == Decision.DENY


def test_lessons_holding_a_secret_are_denied():
    secret = "- use the key AKIAIOSFODNN7EXAMPLF for the bucket\n"
    assert build_judge(_snap())(_lesson("# Lessons\n\n" + secret)).decision == Decision.DENY


def test_the_proposal_needs_the_actors_permission():
    assert build_judge(_snap(permission=Permission.READ))(_lesson()).decision == Decision.DENY
