"""Who may pass a gate, and what does not pass one."""

from __future__ import annotations

import threading

from bot.actions import PushCommit, React
from bot.events import EventKind
from bot.forge import CommitState
from bot.repoconfig import Phase
from tests.unit.workflow.support import all_human, bot, workflow


def _waiting_on_discovery():
    b = bot(all_human())
    b.label()
    assert b.run().phase.name == "discovery" and b.run().phase.state == "needs_approval"
    return b


def _handle_at_once(b, events) -> list[Exception]:
    """Handle ``events`` in one thread each, released together; the errors raised."""
    barrier = threading.Barrier(len(events))
    errors: list[Exception] = []

    def go(event):
        try:
            barrier.wait()
            b.handle(event)
        except Exception as exc:  # returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_approve_without_permission_changes_nothing_and_gets_one_reply():
    b = _waiting_on_discovery()
    before = b.w.runs.get(b.record().id).version
    event = b.approve("mallory")
    assert b.run().phase.name == "discovery"
    assert b.w.runs.get(b.record().id).version == before
    (reply,) = b.bot_replies(b.mr_number(), is_mr=True)
    assert "only approvers" in reply.body and "write" in reply.body
    assert not [r for r in b.w.sink.of(React) if r.comment_id == event.comment_id]
    b.handle(event)  # redelivered: still one reply
    assert len(b.bot_replies(b.mr_number(), is_mr=True)) == 1


def test_approvers_users_list_counts_without_permission():
    from bot.repoconfig import AgentForgeConfig
    from bot.repoconfig.schema import ApproversConfig, RepoConfig

    cfg = all_human()
    cfg = AgentForgeConfig(
        config=RepoConfig(approvers=ApproversConfig(users=["mallory"])), workflow=cfg.workflow
    )
    b = bot(cfg)
    b.label()
    b.approve("mallory")
    assert b.run().phase.name == "design"


def test_quoted_edited_mid_sentence_and_code_approvals_do_nothing():
    b = _waiting_on_discovery()
    version = b.record().version
    for body in (
        "> /approve",
        "ok, /approve",
        "`/approve`",
        "```\n/approve\n```",
        "<!-- /approve -->",
    ):
        b.comment(body, on_mr=True)
    b.comment("/approve", on_mr=True, action="edited")
    assert b.record().version == version
    assert b.run().phase.name == "discovery"
    assert not b.w.sink.of(React)


def test_bots_own_comments_and_other_bots_are_ignored():
    b = _waiting_on_discovery()
    version = b.record().version
    b.comment("/approve", who="agentforge-bot")
    b.comment("/approve", who="renovate[bot]", is_bot=True)
    assert b.record().version == version


def test_commands_on_a_closed_mr_are_ignored():
    b = _waiting_on_discovery()
    mr = b.mr_number()
    b.w.forge.mrs[mr] = b.w.forge.mrs[mr].model_copy(update={"state": "closed"})
    b.approve()
    assert b.run().phase.name == "discovery"


def test_approve_on_the_issue_works_too():
    b = _waiting_on_discovery()
    b.approve(on_mr=False)
    assert b.run().phase.name == "design"


def test_duplicate_delivery_has_one_effect():
    b = _waiting_on_discovery()
    event = b.approve()
    assert b.run().phase.name == "design"
    pushes = len(b.w.sink.of(PushCommit))
    b.approve()  # a second, real approval moves design on
    assert b.run().phase.name == "build"
    b.handle(event)  # the first one redelivered: nothing
    b.handle(event)
    assert b.run().phase.name == "build"
    assert len(b.w.sink.of(PushCommit)) == pushes + 1


def test_stale_approving_review_after_a_human_push_does_not_pass():
    b = bot(workflow(Phase(name="build", role="developer", gate="mr_approval")))
    b.label()
    old = b.head()
    b.human_push()
    assert b.head() != old
    b.review("bob", sha=old)
    assert b.run().phase.state == "needs_approval"
    b.review("bob")  # at the new head
    assert b.run().outcome == "succeeded"


def test_review_by_a_non_approver_does_not_pass_mr_approval():
    b = bot(workflow(Phase(name="build", role="developer", gate="mr_approval")))
    b.label()
    b.review("mallory")
    assert b.run().phase.state == "needs_approval"


def test_human_push_needs_a_new_approval():
    b = bot(workflow(Phase(name="build", role="developer", gate=["tests", "human"])))
    b.label()
    b.approve()
    assert b.run().approvals  # recorded, but tests are still missing
    b.human_push()
    b.checks(CommitState.SUCCESS)
    assert b.run().phase.state == "needs_approval", "the approval was for the old head"
    assert "human" in b.run().phase.awaiting
    b.approve()
    assert b.run().outcome == "succeeded"


def test_gitlab_approved_hook_passes_a_human_gate_and_is_bound_to_sha():
    b = bot(all_human(), forge="gitlab")
    b.label()
    b.gitlab_approval("alice", sha="f" * 40)  # an approval of another head
    assert b.run().phase.name == "discovery"
    b.gitlab_approval("mallory")  # a Developer-like non-approver
    assert b.run().phase.name == "discovery"
    assert any("does not pass" in c.body for c in b.bot_replies(b.mr_number(), is_mr=True))
    event = b.gitlab_approval("alice")
    assert b.run().phase.name == "design"
    b.handle(event)  # redelivered
    assert b.run().phase.name == "design"


def test_auto_gate_passes_when_confident_and_becomes_human_when_not():
    from agents.roles.contract import RoleResult
    from bot.actions import FileChange

    b = bot(
        workflow(
            Phase(name="one", role="analyst", gate="auto"),
            Phase(name="two", role="developer", gate="auto", confidence_threshold=0.95),
        )
    )
    b.w.roles.results["developer"] = [
        RoleResult(
            role="developer",
            status="completed",
            changes=[FileChange(path="a.py", content="a\n")],
            summary="unsure",
            confidence=0.5,
        )
    ]
    b.label()
    run = b.run()
    assert run.phases[0].state == "approved"
    assert run.phases[1].state == "needs_approval" and "human" in run.phases[1].awaiting
    b.approve()
    assert b.run().outcome == "succeeded"


def test_two_approvals_both_recorded_before_either_advances_make_one_advance(monkeypatch):
    # The interleaving a loaded machine produces: both /approve are recorded while
    # discovery still waits, then both drive the run. One advance, design runs once.
    from handlers.workflow import approvals, commands_table

    b = _waiting_on_discovery()
    events = [b.comment("/approve", who=w, on_mr=True, send=False) for w in ("alice", "bob")]
    both_recorded = threading.Barrier(2, timeout=30)
    real = approvals.record

    def record_then_wait(engine, run, signal):
        outcome = real(engine, run, signal)
        both_recorded.wait()
        return outcome

    monkeypatch.setattr(commands_table.approvals, "record", record_then_wait)
    assert not _handle_at_once(b, events)
    run = b.run()
    assert sorted(a.by for a in run.approvals if a.phase == "discovery") == ["alice", "bob"]
    assert run.phases[0].state == "approved" and run.phase.name == "design"
    assert [t.phase for t in b.w.roles.tasks] == ["discovery", "design"]
    assert len(b.bot_replies(b.mr_number(), is_mr=True)) <= 1
    assert len(b.status_comments()) == 1


def test_approval_written_while_the_phase_ran_does_not_apply():
    b = _waiting_on_discovery()
    b.approve()  # discovery approved; design ran and now waits
    early = b.comment("/approve", on_mr=True, send=False)
    # The comment was written before design finished: pretend the queue held it.
    record = b.record()
    data = b.run()
    data.phase.waiting_since = b.w.clock()
    b.w.runs.runs[record.id] = record.model_copy(update={"data": data.to_data()})
    b.handle(early)
    assert b.run().phase.name == "design"
    assert any("before" in c.body for c in b.bot_replies(b.mr_number(), is_mr=True))


def test_approval_in_the_same_second_the_phase_started_waiting_applies():
    # Forges stamp comments in whole seconds (GitHub: 2024-05-01T10:00:05Z) while the
    # bot's clock has microseconds: an /approve written in the second the phase began
    # waiting must not look "early".
    b = _waiting_on_discovery()
    record = b.record()
    data = b.run()
    started = data.phase.waiting_since.replace(microsecond=600_000)
    data.phase.waiting_since = started
    b.w.runs.runs[record.id] = record.model_copy(update={"data": data.to_data()})
    event = b.comment("/approve", on_mr=True, send=False)
    b.handle(event.model_copy(update={"updated_at": started.replace(microsecond=0)}))
    assert b.run().phases[0].state == "approved"


def test_two_approvals_at_once_make_one_advance():
    b = _waiting_on_discovery()
    events = [b.comment("/approve", who=w, on_mr=True, send=False) for w in ("alice", "bob")]
    assert not _handle_at_once(b, events)
    run = b.run()
    assert run.phases[0].state == "approved" and run.phase.name == "design"
    # Both may be recorded (each landed while discovery waited); each approver once.
    approvers = [a.by for a in run.approvals if a.phase == "discovery"]
    assert approvers and len(approvers) == len(set(approvers)) <= 2
    assert [t.phase for t in b.w.roles.tasks] == ["discovery", "design"]
    # The loser's approval is never applied to design: at most one reply tells them so
    # (whether design was still running or already waiting when it re-read the run).
    assert len(b.bot_replies(b.mr_number(), is_mr=True)) <= 1
    assert len(b.status_comments()) == 1


def test_pipeline_events_from_ci_bots_are_read():
    b = bot(workflow(Phase(name="build", role="developer", gate="tests")))
    b.label()
    b.checks(CommitState.PENDING)
    assert b.run().phase.state == "needs_approval"
    b.checks(CommitState.SUCCESS)
    assert b.run().outcome == "succeeded"
    assert EventKind.PIPELINE
