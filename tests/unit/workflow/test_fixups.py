"""Fix-ups: review comments answered per review, and the bounded red-pipeline loop."""

from __future__ import annotations

from agents.roles.contract import RoleResult
from bot.actions import FileChange, ReplyToReviewComment
from bot.events import Actor, EventKind, ReviewState
from bot.forge import CommitState, CommitStatus
from bot.repoconfig import AgentForgeConfig, Phase, WorkflowConfig
from bot.repoconfig.schema import FixupsConfig
from tests.unit.workflow.support import all_human, bot

BRANCH = "agentforge/issue-7"


def _fix(text: str) -> RoleResult:
    return RoleResult(
        role="developer",
        status="completed",
        changes=[FileChange(path="app/cart.py", content=text)],
        summary=f"Fixed: {text.strip()}",
        confidence=0.9,
    )


def _review_event(b, review_id: str, who: str = "alice"):
    return b.event(
        EventKind.MR_REVIEW,
        action="submitted",
        event_name="pull_request_review",
        number=b.mr_number(),
        is_mr=True,
        review_state=ReviewState.COMMENTED,
        actor=Actor(login=who),
        object_id=review_id,
    )


def test_a_review_gets_one_fix_commit_and_a_reply_in_each_thread():
    b = bot(all_human())
    b.label()
    mr = b.mr_number()
    f = b.w.forge
    doc = "docs/requirements/issue-7.md"
    one = f.add_review_comment(mr, "alice", doc, 3, "Name the currency", review_id="55")
    two = f.add_review_comment(mr, "alice", doc, 4, "AC-2 is vague", review_id="55")
    other = f.add_review_comment(mr, "mallory", "README.md", 1, "rewrite it all", review_id="56")
    b.w.roles.results["developer"] = [_fix("def total(xs):\n    return round(sum(xs), 2)\n")]
    before = len(f.branches[BRANCH])
    event = _review_event(b, "55")
    b.handle(event)
    chain = f.branches[BRANCH]
    assert len(chain) == before + 1, "one commit for the whole review"
    fix = chain[-1]
    assert fix.trailers["Agentforge-Fixup"] == "review"
    assert fix.trailers["Agentforge-Phase"] == "discovery"
    (task,) = [t for t in b.w.roles.tasks if t.role == "developer"]
    assert "Name the currency" in task.feedback and "AC-2 is vague" in task.feedback
    assert "rewrite it all" not in task.feedback
    replies = [c for c in f.review_comments[mr] if c.author.login == "agentforge-bot"]
    assert sorted(r.in_reply_to for r in replies) == sorted([one.id, two.id])
    assert all(fix.sha[:10] in r.body for r in replies)
    assert other.id not in {r.in_reply_to for r in replies}
    # The push moved the head: the approval must be given at the new head.
    assert b.run().phase.head_sha == fix.sha
    # Redelivered: nothing new.
    b.handle(event)
    assert len(f.branches[BRANCH]) == before + 1
    assert len([t for t in b.w.roles.tasks if t.role == "developer"]) == 1
    assert len([c for c in f.review_comments[mr] if c.author.login == "agentforge-bot"]) == 2


def test_a_non_approvers_review_is_not_worked():
    b = bot(all_human())
    b.label()
    mr = b.mr_number()
    b.w.forge.add_review_comment(mr, "mallory", "README.md", 1, "rewrite it", review_id="9")
    b.handle(_review_event(b, "9", who="mallory"))
    assert [t.role for t in b.w.roles.tasks] == ["analyst"]
    assert not b.w.sink.of(ReplyToReviewComment)


def test_gitlab_diff_notes_of_one_review_make_one_batch():
    b = bot(all_human(), forge="gitlab")
    b.label()
    mr = b.mr_number()
    f = b.w.forge
    notes = [
        f.add_review_comment(mr, "alice", "app/cart.py", 1, "use Decimal"),
        f.add_review_comment(mr, "alice", "app/cart.py", 2, "and a docstring"),
    ]
    b.w.roles.results["developer"] = [_fix("from decimal import Decimal\n")]
    before = len(f.branches[BRANCH])
    for note in notes:  # one Note Hook per note, as GitLab sends them
        b.handle(
            b.event(
                EventKind.MR_COMMENT,
                action="created",
                number=mr,
                is_mr=True,
                comment=note.body,
                comment_id=note.id,
                actor=Actor(login="alice"),
                raw={"object_attributes": {"type": "DiffNote", "position": {"new_line": 1}}},
            )
        )
    assert len(f.branches[BRANCH]) == before + 1
    assert [t.role for t in b.w.roles.tasks].count("developer") == 1
    replies = [c for c in f.review_comments[mr] if c.author.login == "agentforge-bot"]
    assert sorted(r.in_reply_to for r in replies) == sorted(n.id for n in notes)


def _build_only(max_rounds: int) -> AgentForgeConfig:
    return AgentForgeConfig(
        workflow=WorkflowConfig(
            phases=[Phase(name="build", role="developer", outputs=["**"], gate="tests")],
            fixups=FixupsConfig(max_rounds=max_rounds),
        )
    )


def _red(b, log: str) -> None:
    sha = b.head()
    b.w.forge.check_logs[(sha, "ci/unit")] = log
    b.checks(CommitState.FAILURE, "ci/unit")


def test_a_red_pipeline_starts_bounded_fix_up_rounds_then_asks_a_person():
    b = bot(_build_only(max_rounds=2))
    b.label()
    assert b.run().phase.state == "needs_approval"
    b.w.roles.results["developer"] = [_fix("v2\n"), _fix("v3\n"), _fix("v4\n")]
    _red(b, "collected 3 items\nFAILED test_cart.py::test_total - assert 3 == 4\n")
    task = b.w.roles.tasks[-1]
    assert task.role == "developer" and "assert 3 == 4" in task.feedback
    assert "round 1 of 2" in task.feedback
    chain = b.w.forge.branches[BRANCH]
    assert chain[-1].trailers["Agentforge-Fixup"] == "pipeline"
    assert b.run().phase.state == "needs_approval"  # waits for the new head's checks
    _red(b, "FAILED again: ImportError\n")
    assert "ImportError" in b.w.roles.tasks[-1].feedback
    assert len(b.w.roles.tasks) == 3
    _red(b, "FAILED a third time\n")
    assert len(b.w.roles.tasks) == 3, "no third fix-up round"
    (question,) = [c for c in b.bot_replies() if "fix-up round" in c.body]
    assert "ci/unit" in question.body and "/reject" in question.body
    _red(b, "FAILED a third time\n")  # the same red head again: still one question
    assert len([c for c in b.bot_replies() if "fix-up round" in c.body]) == 1
    b.checks(CommitState.SUCCESS, "ci/unit")
    assert b.run().outcome == "succeeded"


def test_green_pipeline_starts_no_fix_up():
    b = bot(_build_only(max_rounds=2))
    b.label()
    b.checks(CommitState.SUCCESS, "ci/unit")
    assert [t.role for t in b.w.roles.tasks] == ["developer"]
    assert b.run().outcome == "succeeded"


def test_fix_up_without_a_log_says_what_the_check_reported():
    b = bot(_build_only(max_rounds=1))
    b.label()
    sha = b.head()
    b.w.forge.checks[sha] = [
        CommitStatus(sha=sha, state=CommitState.ERROR, context="lint", description="ruff: 2 errors")
    ]
    b.w.roles.results["developer"] = [_fix("v2\n")]
    b.checks(CommitState.ERROR, "lint", send=False)
    b.w.forge.checks[sha] = [
        CommitStatus(sha=sha, state=CommitState.ERROR, context="lint", description="ruff: 2 errors")
    ]
    b.handle(
        b.event(
            EventKind.PIPELINE,
            action="error",
            head_ref=BRANCH,
            head_sha=sha,
            actor=Actor(login="ci[bot]", is_bot=True),
        )
    )
    assert "ruff: 2 errors" in b.w.roles.tasks[-1].feedback
