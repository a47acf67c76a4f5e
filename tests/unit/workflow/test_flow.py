"""The main road: an issue labelled ``agentforge`` to a ready MR, gate by gate."""

from __future__ import annotations

from bot.actions import MarkReady, OpenMR, PushCommit, React
from bot.forge import CommitState
from tests.unit.workflow.support import all_human, bot


def test_every_gate_passed_by_approve_ends_in_a_ready_mr():
    b = bot(all_human())
    b.label()
    assert b.phase_states()[:2] == ["needs_approval", "waiting"]
    mr = b.mr_number()
    assert mr is not None and b.w.forge.get_mr("acme/app", mr).draft
    for _ in range(6):
        b.approve()
    run = b.run()
    assert run.outcome == "succeeded" and b.record().state == "succeeded"
    assert all(p.state == "approved" for p in run.phases)
    # One status comment, edited in place; one draft MR, marked ready once at the end.
    assert len(b.status_comments()) == 1
    assert len({a.marker_key for a in b.status_posts()}) == 1
    opened = [r for a, r in b.w.sink.log if isinstance(a, OpenMR) and r.status == "applied"]
    assert len(opened) == 1 and b.w.sink.of(OpenMR)[0].draft
    assert "Closes #7" in b.w.forge.get_mr("acme/app", mr).body
    assert len(b.w.sink.of(MarkReady)) == 1 and not b.w.forge.get_mr("acme/app", mr).draft
    assert isinstance(b.w.sink.log[-1][0], type(b.status_posts()[-1]))
    # Six pushes, each with the run/phase/role trailers, on the one branch.
    pushes = b.w.sink.of(PushCommit)
    assert [p.trailers["Agentforge-Phase"] for p in pushes] == [p.name for p in run.phases]
    assert {p.branch for p in pushes} == {"agentforge/issue-7"}
    assert all(p.trailers["Agentforge-Run"] == run.run_id for p in pushes)
    assert [p.trailers["Agentforge-Role"] for p in pushes][:2] == ["analyst", "architect"]
    assert len(b.w.forge.branches["agentforge/issue-7"]) == 6
    # Each accepted /approve got 👀.
    assert sum(1 for r in b.w.sink.of(React) if r.reaction == "eyes") == 6
    # The marker in the status comment carries the same state.
    assert b.marker_state().outcome == "succeeded"
    # MR description: summaries, criteria with coverage, uncovered flagged, artifacts.
    body = b.w.forge.get_mr("acme/app", mr).body
    assert "analyst did the discovery work." in body
    assert "AC-1" in body and "tests/test_cart.py::test_total" in body
    assert "AC-2" in body and "not covered" in body
    assert "docs/requirements/issue-7.md" in body
    assert b.w.heartbeats, "the role's progress kept the job's lease alive"


def test_default_workflow_with_tests_and_review_gates():
    b = bot()
    b.label()
    b.approve()  # discovery: human
    b.approve()  # design: human
    assert b.run().phase.name == "build"
    assert b.run().phase.state == "needs_approval"  # tests: nothing reported yet
    b.checks(CommitState.SUCCESS)
    assert b.run().phase.name == "validate"
    b.checks(CommitState.SUCCESS)
    assert b.run().phase.name == "launch"
    b.approve()  # /approve does not pass an mr_approval gate
    assert b.run().phase.name == "launch"
    b.review("bob")
    assert b.run().phase.name == "document"
    b.approve()
    assert b.run().outcome == "succeeded"


def test_failing_tests_gate_holds_the_build_and_says_so():
    from bot.repoconfig import AgentForgeConfig, WorkflowConfig
    from bot.repoconfig.schema import FixupsConfig

    # No fix-up rounds: the red build is held for a person (tests/unit/workflow/
    # test_fixups.py covers the fix-up loop).
    b = bot(AgentForgeConfig(workflow=WorkflowConfig(fixups=FixupsConfig(max_rounds=0))))
    b.label()
    b.approve()
    b.approve()
    b.checks(CommitState.FAILURE, "ci/unit")
    run = b.run()
    assert run.phase.name == "build" and run.phase.state == "needs_approval"
    assert "ci/unit" in (run.phase.hold or "")
    (status,) = b.status_comments()
    assert "held" in status.body and "ci/unit" in status.body
    b.approve()  # a human cannot wave a red build through
    assert b.run().phase.name == "build"
    b.checks(CommitState.SUCCESS, "ci/unit")
    assert b.run().phase.name == "validate"
