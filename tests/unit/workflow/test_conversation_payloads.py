"""The conversation handlers on events parsed from real recorded webhook payloads."""

from __future__ import annotations

import copy

import pytest

from agents.roles.contract import RoleResult
from bot.actions import FileChange
from bot.events import EventKind
from bot.parsers import parse_event
from handlers.workflow.review_batch import is_line_comment
from tests.conftest import WEBHOOKS, load_webhook
from tests.unit.workflow.support import all_human, bot

pytestmark = pytest.mark.skipif(
    not WEBHOOKS.is_dir(), reason=f"shared webhook fixtures not present at {WEBHOOKS}"
)


def test_a_gitlab_diff_note_is_a_line_comment_and_a_plain_note_is_not():
    diff = parse_event(
        "gitlab",
        "Note Hook",
        load_webhook("gitlab", "note_hook.merge_request.diff-note.go-scm.json"),
    )
    plain = parse_event(
        "gitlab", "Note Hook", load_webhook("gitlab", "note_hook.merge_request.go-scm.json")
    )
    assert diff.kind == EventKind.MR_COMMENT and is_line_comment(diff)
    assert plain.kind == EventKind.MR_COMMENT and not is_line_comment(plain)


def test_a_github_review_submitted_payload_gets_its_comments_answered():
    b = bot(all_human())
    b.label()
    mr = b.mr_number()
    payload = copy.deepcopy(
        load_webhook("github", "pull_request_review.submitted.approved.owners-bot.json")
    )
    payload["pull_request"]["number"] = mr
    payload["pull_request"]["head"]["ref"] = "agentforge/issue-7"
    payload["review"]["state"] = "commented"
    for who in (payload["review"]["user"], payload["sender"]):
        who.update(login="alice", type="User")
    event = parse_event("github", "pull_request_review", payload, "d-r")
    event = event.model_copy(update={"repo": b.event(EventKind.PING).repo})
    assert event.kind == EventKind.MR_REVIEW and event.action == "submitted"
    b.w.forge.add_review_comment(
        mr, "alice", "app/cart.py", 1, "round it", review_id=event.object_id
    )
    b.w.roles.results["developer"] = [
        RoleResult(
            role="developer",
            status="completed",
            changes=[FileChange(path="app/cart.py", content="round\n")],
            summary="Rounded.",
        )
    ]
    b.handle(event)
    replies = [c for c in b.w.forge.review_comments[mr] if c.author.login == "agentforge-bot"]
    assert len(replies) == 1 and "Rounded." in replies[0].body
