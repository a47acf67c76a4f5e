"""The workflow handlers on events parsed from real recorded webhook payloads."""

from __future__ import annotations

import copy

import pytest

from bot.events import EventKind, ReviewState
from bot.parsers import parse_event
from tests.conftest import WEBHOOKS, load_webhook
from tests.unit.workflow.support import all_human, bot

pytestmark = pytest.mark.skipif(
    not WEBHOOKS.is_dir(), reason=f"shared webhook fixtures not present at {WEBHOOKS}"
)


def _retarget(event, b):
    # The recorded payloads are from other repositories: point them at the fake one.
    return event.model_copy(update={"repo": b.event(EventKind.PING).repo})


def test_gitlab_approved_hook_parses_to_the_signal_the_engine_reads():
    payload = copy.deepcopy(load_webhook("gitlab", "merge_request_hook.update.go-gitlab.json"))
    payload["object_attributes"]["action"] = "approved"
    event = parse_event("gitlab", "Merge Request Hook", payload, "d-1")
    assert event.kind == EventKind.MR_REVIEW and event.review_state == ReviewState.APPROVED
    assert event.event_name == "Merge Request Hook" and event.head_sha

    b = bot(all_human(), forge="gitlab")
    b.label()
    mr = b.w.forge.get_mr("acme/app", b.mr_number())
    real = _retarget(event, b).model_copy(
        update={"number": mr.number, "head_ref": mr.head_ref, "head_sha": mr.head_sha}
    )
    real = real.model_copy(update={"actor": real.actor.model_copy(update={"login": "alice"})})
    b.handle(real)
    assert b.run().phase.name == "design"


def test_github_issue_comment_payload_approves_and_edited_one_does_not():
    b = bot(all_human())
    b.label()
    payload = copy.deepcopy(load_webhook("github", "issue_comment.created.variant-1.json"))
    payload["comment"]["body"] = "/approve"
    payload["issue"]["number"] = 7
    payload.get("issue", {}).pop("pull_request", None)
    payload["sender"]["login"] = "alice"
    payload["comment"]["user"]["login"] = "alice"
    payload["sender"]["type"] = "User"
    payload["comment"]["user"]["type"] = "User"
    event = _retarget(parse_event("github", "issue_comment", payload, "d-2"), b)
    assert event.kind == EventKind.ISSUE_COMMENT and event.action == "created"

    edited = event.model_copy(update={"action": "edited"})
    b.handle(edited)
    assert b.run().phase.name == "discovery"
    b.w.forge.human_comment(7, "alice", "/approve")  # so the forge knows the comment
    b.handle(event.model_copy(update={"updated_at": b.w.clock()}))
    assert b.run().phase.name == "design"
