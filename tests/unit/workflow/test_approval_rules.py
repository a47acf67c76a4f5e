"""The approval rules of a phase: required counts, self-approval, lost access,
CODEOWNERS owners and teams, each with the status comment and reply it gives."""

from __future__ import annotations

import pytest

from bot.errors import Forbidden, Unavailable
from bot.events import Actor, EventKind
from bot.forge import Permission
from bot.repoconfig import AgentForgeConfig, Phase
from bot.repoconfig.schema import ApproversConfig, RepoConfig, WorkflowConfig
from tests.unit.workflow.support import bot

DOCS = Phase(name="discovery", role="analyst", outputs=["docs/**"], gate="human")


def _config(build: dict | None = None, **approvers) -> AgentForgeConfig:
    phase = Phase(name="build", role="developer", gate="human", approvers=build or {})
    return AgentForgeConfig(
        config=RepoConfig(approvers=ApproversConfig(**approvers)),
        workflow=WorkflowConfig(phases=[phase, DOCS]),
    )


def _waiting(config: AgentForgeConfig, codeowners: str | None = None, path=".github/CODEOWNERS"):
    b = bot(config)
    if codeowners is not None:
        b.w.forge.base_tree[path] = codeowners
    b.label()  # erin starts the run
    phase = b.run().phase
    assert phase.name == "build" and phase.state == "needs_approval"
    return b


def _pending(b) -> list[str]:
    return b.run().phase.pending


def test_two_required_need_two_distinct_approvers():
    b = _waiting(_config(build={"required": 2}))
    b.approve("alice")
    assert b.run().phase.name == "build"
    assert any("1 of 2 approvals" in p for p in _pending(b))
    (status,) = b.status_comments()
    assert "1 of 2 approvals" in status.body
    b.approve("alice")  # the same person again counts once
    assert b.run().phase.name == "build" and len(b.run().approvals) == 1
    b.approve("bob")
    assert b.run().phase.name == "discovery"


def test_required_comes_from_config_when_the_phase_sets_none():
    b = _waiting(_config(required=2))
    b.approve("bob")
    assert any("1 of 2 approvals" in p for p in _pending(b))


def test_starter_may_not_approve_a_phase_that_changed_code():
    b = _waiting(_config())
    b.w.forge.permissions["erin"] = Permission.WRITE
    version = b.record().version
    b.approve("erin")
    assert b.record().version == version
    (reply,) = b.bot_replies(b.mr_number(), is_mr=True)
    assert "self_approval" in reply.body and "app/cart.py" in reply.body


def test_starter_may_approve_a_docs_only_phase():
    config = AgentForgeConfig(workflow=WorkflowConfig(phases=[DOCS]))
    b = bot(config)
    b.w.forge.permissions["erin"] = Permission.WRITE
    b.label()
    b.approve("erin")
    assert b.run().outcome == "succeeded"


def test_self_approval_allowed_and_never():
    b = _waiting(_config(self_approval="allowed"))
    b.w.forge.permissions["erin"] = Permission.WRITE
    b.approve("erin")
    assert b.run().phase.name == "discovery"
    b.approve("erin")  # the docs phase: allowed too
    assert b.run().outcome == "succeeded"

    never = AgentForgeConfig(workflow=WorkflowConfig(phases=[DOCS]))
    never = never.model_copy(
        update={"config": RepoConfig(approvers=ApproversConfig(self_approval="never"))}
    )
    n = bot(never)
    n.w.forge.permissions["erin"] = Permission.WRITE
    n.label()
    n.approve("erin")
    assert n.run().phase.state == "needs_approval"


def test_an_approver_who_lost_access_no_longer_counts():
    b = _waiting(_config(build={"required": 2}))
    b.approve("alice")
    b.w.forge.permissions["alice"] = Permission.READ  # removed from the team meanwhile
    b.approve("bob")
    assert b.run().phase.name == "build"
    pending = _pending(b)
    assert any("1 of 2 approvals" in p for p in pending)
    assert any("@alice" in p and "read permission" in p for p in pending)


def test_codeowners_user_and_team_owner_must_approve():
    b = _waiting(_config(), "* @nobody-else\napp/ @acme/cart\n")
    b.w.forge.teams["acme/cart"] = {"bob"}
    b.approve("alice")
    assert b.run().phase.name == "build"
    (item,) = [p for p in _pending(b) if "code owners" in p]
    assert "`app/`" in item and ".github/CODEOWNERS:2" in item and "@acme/cart" in item
    (status,) = b.status_comments()
    assert "code owners of `app/`" in status.body
    b.approve("bob")
    assert b.run().phase.name == "discovery"


def test_gitlab_section_count_and_optional_section():
    owners = "[App][2] @alice @bob\napp/\n^[Docs] @carol\ndocs/\n"
    b = bot(_config(), forge="gitlab")
    b.w.forge.base_tree["CODEOWNERS"] = owners
    b.label()
    b.approve("alice")
    assert any("2 needed" in p and "(1 so far)" in p for p in _pending(b))
    b.approve("bob")
    assert b.run().phase.name == "discovery"


def test_unknown_team_denies_with_the_reason():
    b = _waiting(_config(), "app/ @acme/ghosts\n")
    b.approve("alice")
    assert b.run().phase.name == "build"
    (item,) = [p for p in _pending(b) if "code owners" in p]
    assert "@acme/ghosts could not be read" in item and "NotFound" in item


def test_malformed_codeowners_names_file_and_line_and_nothing_passes():
    b = _waiting(_config(), "# owners\napp/ alice\n")
    b.approve("alice")
    b.approve("bob")
    assert b.run().phase.name == "build"
    (item,) = [p for p in _pending(b) if "CODEOWNERS" in p]
    assert ".github/CODEOWNERS:2" in item and "'alice'" in item


def test_codeowners_off_ignores_the_file():
    b = _waiting(_config(codeowners=False), "app/ @acme/ghosts\n")
    b.approve("alice")
    assert b.run().phase.name == "discovery"


def test_refusal_names_permission_listed_users_and_code_owners():
    b = _waiting(_config(users=["dana"]), "app/ @bob\n")
    b.approve("mallory")
    (reply,) = b.bot_replies(b.mr_number(), is_mr=True)
    body = reply.body
    assert "**write**" in body and "@dana" in body and "code owners of `app/`" in body
    assert b.run().approvals == []


def test_mr_approval_gate_counts_distinct_reviews():
    phase = Phase(name="build", role="developer", gate="mr_approval", approvers={"required": 2})
    b = bot(AgentForgeConfig(workflow=WorkflowConfig(phases=[phase])))
    b.label()
    b.review("alice")
    assert any("1 of 2 approvals" in p for p in _pending(b))
    b.review("bob")
    assert b.run().outcome == "succeeded"


def test_starter_review_does_not_count_for_code():
    phase = Phase(name="build", role="developer", gate="mr_approval")
    b = bot(AgentForgeConfig(workflow=WorkflowConfig(phases=[phase])))
    b.w.forge.permissions["erin"] = Permission.WRITE
    b.label()
    b.review("erin")
    assert b.run().outcome is None
    assert any("not counted: @erin" in p for p in _pending(b))


def test_actor_is_the_payload_sender_not_a_name_in_text():
    b = _waiting(_config())
    event = b.comment("/approve\n\napproved on behalf of @alice", who="mallory", on_mr=True)
    assert event.actor == Actor(login="mallory")
    assert b.run().approvals == [] and b.run().phase.name == "build"
    assert event.kind == EventKind.MR_COMMENT


def test_a_forbidden_team_lookup_denies_and_says_why():
    b = _waiting(_config(), "app/ @acme/cart\n")

    def forbidden(repo, team, login):
        raise Forbidden("reading team acme/cart needs read:org", forge="github")

    b.w.forge.is_team_member = forbidden
    b.approve("alice")
    assert b.run().phase.name == "build"
    (item,) = [p for p in _pending(b) if "code owners" in p]
    assert "could not be read" in item and "read:org" in item


def test_a_transient_team_lookup_error_is_retried_then_counts():
    b = _waiting(_config(), "app/ @acme/cart\n")
    b.w.forge.teams["acme/cart"] = {"alice"}
    real = b.w.forge.is_team_member

    def down(repo, team, login):
        raise Unavailable("the forge is down", forge="github")

    b.w.forge.is_team_member = down
    event = b.comment("/approve", who="alice", on_mr=True, send=False)
    with pytest.raises(Unavailable):
        b.handle(event)  # the queue retries the job
    assert not any("could not be read" in p for p in _pending(b))
    b.w.forge.is_team_member = real
    b.handle(event, attempt=2)
    assert b.run().phase.name == "discovery"
