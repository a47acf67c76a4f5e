"""Talking to the bot: /reject, /retry, /status, /cancel, /help and unknown commands."""

from __future__ import annotations

from agents.roles.contract import RoleResult
from bot.actions import AddLabels, PushCommit, React
from tests.unit.workflow.support import all_human, bot

BRANCH = "agentforge/issue-7"


def _eyes(b, event) -> bool:
    reacts = b.w.sink.of(React)
    return any(r.comment_id == event.comment_id and r.reaction == "eyes" for r in reacts)


def test_reject_runs_the_phase_again_with_the_feedback_and_builds_on_the_rejected_commit():
    b = bot(all_human())
    b.label()
    first = b.head()
    event = b.comment("/reject the totals must round to cents", on_mr=True)
    assert _eyes(b, event)
    run = b.run()
    assert run.phase.name == "discovery" and run.phase.round == 2
    assert run.phase.state == "needs_approval"
    task = b.w.roles.tasks[-1]
    assert (task.role, task.round) == ("analyst", 2)
    assert task.feedback == "the totals must round to cents"
    assert task.previous_diff and "docs/requirements/issue-7.md" in task.previous_diff
    assert "+round 1" in task.previous_diff  # the rejected attempt's own content
    chain = b.w.forge.branches[BRANCH]
    assert chain[0].sha == first, "the rejected commit stays: no force-push"
    assert len(chain) == 2
    assert chain[-1].trailers["Agentforge-Phase"] == "discovery"
    assert chain[-1].trailers["Agentforge-Round"] == "2"
    (status,) = b.status_comments()
    assert "round 2" in status.body
    # The redelivered /reject does not make a third round.
    b.handle(event)
    assert b.run().phase.round == 2 and len(b.w.forge.branches[BRANCH]) == 2
    # Approving the new round moves on.
    b.approve()
    assert b.run().phase.name == "design"


def test_reject_needs_an_approver_and_feedback():
    b = bot(all_human())
    b.label()
    version = b.record().version
    b.comment("/reject no", who="mallory", on_mr=True)
    b.comment("/reject", who="alice", on_mr=True)
    assert b.record().version == version and b.run().phase.round == 1
    replies = [c.body for c in b.bot_replies(b.mr_number(), is_mr=True)]
    assert len(replies) == 2
    assert any("only approvers" in r for r in replies)
    assert any("/reject <feedback>" in r for r in replies)


def test_retry_after_a_failure_continues_on_the_same_branch_and_mr():
    b = bot(all_human())
    b.w.roles.results["architect"] = [
        RoleResult(role="architect", status="failed", error="the budget ran out")
    ]
    b.label()
    mr = b.mr_number()
    b.approve()
    failed = b.record()
    assert failed.state == "failed" and "budget" in (b.run().error or "")
    b.comment("/retry", who="mallory")  # not an approver: nothing
    assert b.record().id == failed.id
    event = b.comment("/retry")
    assert _eyes(b, event)
    run = b.run()
    assert run.continues == failed.id and run.outcome is None
    assert run.phase.name == "design" and run.phase.state == "needs_approval"
    assert run.phases[0].state == "approved", "approved phases stay approved"
    assert run.mr == mr and b.mr_number() == mr
    assert [t.role for t in b.w.roles.tasks] == ["analyst", "architect", "architect"]
    b.handle(event)  # redelivered: no third attempt
    assert [t.role for t in b.w.roles.tasks].count("architect") == 2


def test_retry_with_answers_passes_them_to_the_role_that_asked():
    b = bot(all_human())
    b.w.roles.results["analyst"] = [
        RoleResult(role="analyst", status="needs_human", questions=["Which currency?"])
    ]
    b.label()
    assert b.record().state == "failed"
    b.comment("/retry Euros only, rounded to cents")
    task = b.w.roles.tasks[-1]
    assert task.role == "analyst"
    assert "Which currency?" in task.feedback and "Euros only" in task.feedback
    assert b.run().phase.state == "needs_approval"


def test_retry_on_a_run_that_did_not_fail_says_so():
    b = bot(all_human())
    b.label()
    version = b.record().version
    b.comment("/retry")
    assert b.record().version == version
    (reply,) = b.bot_replies()
    assert "nothing to retry" in reply.body


def test_cancel_ends_the_run_and_a_later_approve_does_nothing_but_say_so():
    b = bot(all_human())
    b.label()
    pushes = len(b.w.sink.of(PushCommit))
    b.comment("/cancel")
    record = b.record()
    assert record.state == "cancelled" and b.run().outcome == "cancelled"
    assert "agentforge:cancelled" in b.w.forge.issues[7].labels
    assert len(b.w.sink.of(AddLabels)) == 1
    (status,) = b.status_comments()
    assert "cancelled" in status.body
    event = b.approve()
    assert b.record().version == record.version
    assert len(b.w.sink.of(PushCommit)) == pushes and len(b.w.roles.tasks) == 1
    replies = b.bot_replies(b.mr_number(), is_mr=True)
    assert len(replies) == 1 and "cancelled" in replies[0].body
    b.handle(event)  # redelivered: still one reply
    assert len(b.bot_replies(b.mr_number(), is_mr=True)) == 1
    b.comment("/cancel", who="bob")
    assert b.record().version == record.version


def test_cancel_needs_an_approver():
    b = bot(all_human())
    b.label()
    b.comment("/cancel", who="mallory")
    assert b.record().state == "waiting"
    (reply,) = b.bot_replies()
    assert "only approvers" in reply.body


def test_status_answers_anyone_and_changes_nothing():
    b = bot(all_human())
    b.label()
    before = b.record()
    event = b.comment("/status", who="mallory")
    after = b.record()
    assert after.version == before.version and after.data == before.data
    (reply,) = b.bot_replies()
    assert "discovery" in reply.body and "needs_approval" in reply.body
    assert "feature" in reply.body
    assert _eyes(b, event)
    b.handle(event)
    assert len(b.bot_replies()) == 1


def test_unknown_namespaced_command_gets_the_command_list_once():
    b = bot(all_human())
    b.label()
    version = b.record().version
    event = b.comment("/agentforge frobnicate", who="mallory")
    (reply,) = b.bot_replies()
    assert "/agentforge frobnicate" in reply.body and "not an AgentForge command" in reply.body
    for usage in ("/approve", "/reject <feedback>", "/retry", "/status", "/cancel", "/help"):
        assert usage in reply.body
    assert "✅ now" in reply.body
    b.handle(event)
    assert len(b.bot_replies()) == 1 and b.record().version == version


def test_bare_unknown_command_alone_gets_help_only_where_the_bot_runs():
    b = bot(all_human())
    b.comment("/frobnicate")  # no run on the issue yet: prose, not for us
    assert b.bot_replies() == []
    b.label()
    for text in ("see /frobnicate for that", "/tmp/frobnicate", "/frobnicate\nmore text"):
        b.comment(text)
    assert b.bot_replies() == []
    b.comment("/frobnicate now")
    (reply,) = b.bot_replies()
    assert "`/frobnicate`" in reply.body


def test_help_lists_who_may_use_each_command():
    b = bot(all_human())
    b.label()
    b.comment("/help", who="mallory")
    (reply,) = b.bot_replies()
    assert "| `/status`" in reply.body and "everyone" in reply.body
    assert "approvers" in reply.body


def test_status_comment_offers_reject_while_a_gate_waits():
    b = bot(all_human())
    b.label()
    (status,) = b.status_comments()
    assert "/reject" in status.body and "/cancel" in status.body


def test_cancel_while_the_role_works_lands_no_commit():
    b = bot(all_human())
    roles = b.w.roles
    original = roles.run

    def run_and_get_cancelled(task, **kw):
        result = original(task, **kw)
        b.comment("/cancel")  # another job handles a /cancel while the role works
        return result

    roles.run = run_and_get_cancelled
    b.label()
    assert b.record().state == "cancelled"
    assert "agentforge/issue-7" not in b.w.forge.branches
    assert not b.w.sink.of(PushCommit)
