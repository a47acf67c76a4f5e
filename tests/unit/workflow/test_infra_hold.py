"""A push the policies hold for ``approvers.infra``: the phase waits, the release, and
what happens when a released push is still held (a clear failure, never a loop)."""

from __future__ import annotations

from bot.actions import PushCommit
from bot.forge import Permission
from bot.repoconfig import AgentForgeConfig, Phase
from bot.repoconfig.schema import ApproversConfig, RepoConfig, WorkflowConfig
from handlers.services import ActionResult
from tests.unit.workflow.support import bot

LAUNCH = Phase(name="launch", role="devops", outputs=["deploy/**"], gate="mr_approval")
HELD = "deploy/app.yaml are CI or deployment files: waiting for approval by ops-lead"


def _held_bot(*, release_lands: bool = True):
    config = AgentForgeConfig(
        config=RepoConfig(approvers=ApproversConfig(infra=["ops-lead"])),
        workflow=WorkflowConfig(phases=[LAUNCH]),
    )
    b = bot(config)
    b.w.forge.permissions["ops-lead"] = Permission.TRIAGE  # listed, and may make it push
    real = b.w.sink._one
    state = {"released": False}

    def judged(action):
        # Stands in for the judge: deployment pushes are pending until released.
        if isinstance(action, PushCommit) and not (state["released"] and release_lands):
            return ActionResult(type=action.type, status="pending", detail=HELD)
        return real(action)

    b.w.sink._one = judged
    b.label()
    return b, state


def test_the_held_push_waits_for_an_infra_approver_then_lands():
    b, state = _held_bot()
    phase = b.run().phase
    assert phase.state == "needs_approval" and phase.awaiting == ["infra"]
    assert not phase.pushed and b.w.forge.branches.get("agentforge/issue-7") is None
    assert "@ops-lead (approvers.infra)" in phase.pending[0] and HELD in phase.pending[0]
    (status,) = b.status_comments()
    assert "/approve" in status.body and "deploy/app.yaml" in status.body

    b.approve("alice", on_mr=False)  # an approver, but not an infrastructure one
    assert b.run().phase.awaiting == ["infra"] and b.run().approvals == []
    (reply,) = b.bot_replies(7)
    assert "@ops-lead" in reply.body and "approvers.infra" in reply.body

    state["released"] = True
    b.approve("ops-lead", on_mr=False)
    phase = b.run().phase
    assert phase.pushed and phase.awaiting == ["mr_approval"]
    assert [c.trailers.get("Agentforge-Phase") for c in b.w.forge.branches["agentforge/issue-7"]]


def test_a_released_push_that_is_still_held_fails_the_phase_with_the_reason():
    b, state = _held_bot(release_lands=False)
    state["released"] = True
    b.approve("ops-lead", on_mr=False)
    run = b.run()
    assert run.outcome == "failed"
    assert "released by @ops-lead" in run.error and HELD in run.error


def test_the_starter_may_not_release_their_own_runs_deployment_push():
    b, _state = _held_bot()
    b.w.forge.permissions["erin"] = Permission.WRITE
    config = b.w.config.config.config.model_copy(
        update={"approvers": ApproversConfig(infra=["ops-lead", "erin"])}
    )
    b.w.config.config = b.w.config.config.model_copy(update={"config": config})
    b.approve("erin", on_mr=False)
    assert b.run().phase.awaiting == ["infra"] and b.run().approvals == []
    assert any("another infrastructure approver" in r.body for r in b.bot_replies(7))


def test_an_infra_approver_below_min_permission_is_refused_before_anything_moves():
    b, state = _held_bot()
    b.w.forge.permissions["ops-lead"] = Permission.READ
    state["released"] = True
    b.approve("ops-lead", on_mr=False)
    assert b.run().phase.awaiting == ["infra"] and b.run().approvals == []
    assert any("policies.min_permission" in r.body for r in b.bot_replies(7))
