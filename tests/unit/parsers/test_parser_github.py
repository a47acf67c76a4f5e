"""GitHub parser behaviour beyond the recorded fixtures: bad shapes, edge values, dedupe."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.errors import MalformedPayload, PayloadError, PayloadShapeError
from bot.events import EventKind, ReviewState
from bot.parsers import decode_body, parse_event
from bot.parsers.github import parse
from tests.conftest import load_webhook

ZERO = "0" * 40


def fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_webhook("github", name))


def _drop(path: str):
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


def _set(path: str, value: Any):
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


# --- bad shapes --------------------------------------------------------------------------

SHAPE_CASES = [
    ("issues", "issues.opened.json", _drop("issue"), "issue"),
    ("issues", "issues.opened.json", _drop("issue.number"), "issue.number"),
    ("issues", "issues.opened.json", _set("issue.number", "1"), "issue.number"),
    ("issues", "issues.opened.json", _drop("repository"), "repository"),
    ("issues", "issues.opened.json", _set("repository", ["x"]), "repository"),
    ("issues", "issues.opened.json", _drop("action"), "action"),
    ("issues", "issues.opened.json", _set("issue.labels", [5]), "issue.labels[0]"),
    ("issues", "issues.opened.json", _set("issue.labels", [{"id": 1}]), "issue.labels[0].name"),
    ("issues", "issues.opened.json", _set("issue.title", 42), "issue.title"),
    ("issue_comment", "issue_comment.edited.json", _drop("comment"), "comment"),
    ("issue_comment", "issue_comment.edited.json", _drop("comment.id"), "comment.id"),
    ("pull_request", "pull_request.opened.json", _drop("pull_request"), "pull_request"),
    ("pull_request", "pull_request.opened.json", _set("pull_request.head", "x"), "head"),
    ("pull_request_review", "pull_request_review.dismissed.json", _drop("review"), "review"),
    ("pull_request_review", "pull_request_review.dismissed.json", _drop("review.state"), "state"),
    ("pull_request_review_comment", "pull_request_review_comment.created.json",
     _drop("pull_request"), "pull_request"),
    ("push", "push.branch.dco.json", _drop("ref"), "ref"),
    ("push", "push.branch.dco.json", _set("after", 7), "after"),
    ("status", "status.success.json", _drop("sha"), "sha"),
    ("check_run", "check_run.completed.json", _drop("check_run"), "check_run"),
    ("check_run", "check_run.completed.json", _drop("check_run.head_sha"), "head_sha"),
    ("check_suite", "check_suite.requested.json", _set("check_suite.pull_requests", {}),
     "pull_requests"),
    ("workflow_run", "workflow_run.completed.json", _drop("workflow_run.id"), "workflow_run.id"),
]  # fmt: skip


@pytest.mark.parametrize(("event", "name", "mutate", "path"), SHAPE_CASES)
def test_shape_mismatch_raises_naming_event_and_field(event, name, mutate, path) -> None:
    payload = fixture(name)
    mutate(payload)
    with pytest.raises(PayloadShapeError) as info:
        parse(event, payload, None)
    assert event in str(info.value)
    assert path in str(info.value)


def test_payload_of_another_event_is_a_shape_error() -> None:
    with pytest.raises(PayloadShapeError):
        parse("issues", fixture("push.branch.dco.json"), None)
    with pytest.raises(PayloadShapeError):
        parse("pull_request", fixture("issues.opened.json"), None)


@pytest.mark.parametrize(
    "body",
    [b'{"action": "opened", "issue": {', b"\xff\xfe{}", b"[1, 2]", b"", b'"text"', b"null"],
)
def test_undecodable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        decode_body(body)
    with pytest.raises(MalformedPayload):
        parse_event("github", "issues", body)


def test_unknown_forge_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        parse_event("bitbucket", "issues", b"{}")


# --- ignored events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [{}, {"repository": "not an object"}, {"sender": []}, {"action": 3, "repository": {}}],
)
def test_unknown_event_is_ignored_whatever_its_shape(payload: dict[str, Any]) -> None:
    event = parse("sponsorship", payload, "d-1")
    assert event.kind is EventKind.IGNORED
    assert event.reason
    assert event.delivery_id == "d-1"


def test_installation_without_repository_is_ignored_with_sender() -> None:
    event = parse("installation", fixture("installation.deleted.json"), None)
    assert event.kind is EventKind.IGNORED
    assert event.action == "deleted"
    assert event.repo.full_name == ""
    assert event.actor.login == "octocat"


def test_header_case_and_spaces_do_not_matter() -> None:
    event = parse(" Issues ", fixture("issues.opened.json"), None)
    assert event.kind is EventKind.ISSUE
    assert event.event_name == "issues"


def test_unlisted_action_passes_through() -> None:
    payload = fixture("issues.opened.json")
    payload["action"] = "typed"
    event = parse("issues", payload, None)
    assert (event.kind, event.action) == (EventKind.ISSUE, "typed")


# --- field normalisation -----------------------------------------------------------------


def test_closed_pull_request_is_merged_only_when_merged() -> None:
    payload = fixture("pull_request.closed.with-organization.json")
    assert parse("pull_request", payload, None).action == "closed"
    payload["pull_request"]["merged"] = True
    event = parse("pull_request", payload, None)
    assert (event.action, event.state) == ("merged", "merged")
    # Some trimmed payloads carry only merged_at.
    payload["pull_request"]["merged"] = None
    payload["pull_request"]["merged_at"] = "2019-05-15T15:21:18Z"
    assert parse("pull_request", payload, None).action == "merged"


def test_pull_request_with_null_optional_fields() -> None:
    payload = fixture("pull_request.opened.json")
    pr = payload["pull_request"]
    pr.update(body=None, labels=None, draft=None, head=None)
    event = parse("pull_request", payload, None)
    assert (event.body, event.labels, event.draft, event.head_sha) == (None, [], None, None)
    assert event.number == 2


def test_number_falls_back_to_top_level() -> None:
    payload = fixture("pull_request.opened.json")
    del payload["pull_request"]["number"]
    assert parse("pull_request", payload, None).number == payload["number"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("APPROVED", ReviewState.APPROVED), ("changes_requested", ReviewState.CHANGES_REQUESTED),
     ("Commented", ReviewState.COMMENTED), ("dismissed", ReviewState.DISMISSED),
     ("pending", None)],
)  # fmt: skip
def test_review_state_is_lowercased_and_mapped(raw: str, expected) -> None:
    payload = fixture("pull_request_review.submitted.approved.owners-bot.json")
    payload["review"]["state"] = raw
    event = parse("pull_request_review", payload, None)
    assert event.kind is EventKind.MR_REVIEW
    assert event.review_state == expected


def test_review_body_is_the_comment() -> None:
    event = parse(
        "pull_request_review", fixture("pull_request_review.submitted.commented.deploynaut.json"),
        None,
    )  # fmt: skip
    assert event.comment == "/deploy please"
    assert event.is_mr and event.number == 551


@pytest.mark.parametrize(
    ("before", "after", "flags", "action"),
    [
        (ZERO, "a" * 40, {}, "created"),
        ("a" * 40, ZERO, {}, "deleted"),
        ("a" * 40, "b" * 40, {}, "pushed"),
        ("a" * 40, "b" * 40, {"created": True}, "created"),
        ("a" * 40, "b" * 40, {"deleted": True}, "deleted"),
    ],
)
def test_push_action(before: str, after: str, flags: dict, action: str) -> None:
    payload = fixture("push.branch.dco.json")
    payload.update({"before": before, "after": after, "created": False, "deleted": False, **flags})
    event = parse("push", payload, None)
    assert event.action == action
    assert (event.base_sha, event.head_sha, event.object_id) == (before, after, after)


def test_push_of_other_ref_keeps_full_name() -> None:
    payload = fixture("push.branch.dco.json")
    payload["ref"] = "refs/notes/commits"
    assert parse("push", payload, None).head_ref == "refs/notes/commits"


@pytest.mark.parametrize(
    ("status", "conclusion", "expected"),
    [("queued", None, "pending"), ("requested", None, "pending"), ("waiting", None, "pending"),
     ("in_progress", None, "running"), ("completed", "success", "success"),
     ("completed", "neutral", "success"), ("completed", "failure", "failure"),
     ("completed", "timed_out", "failure"), ("completed", "action_required", "failure"),
     ("completed", "cancelled", "cancelled"), ("completed", "skipped", "skipped"),
     ("completed", "stale", "skipped"), ("completed", None, None),
     ("completed", "something_new", None)],
)  # fmt: skip
def test_check_run_status_normalised(status: str, conclusion: str | None, expected) -> None:
    payload = fixture("check_run.completed.json")
    payload["check_run"].update(status=status, conclusion=conclusion)
    assert parse("check_run", payload, None).pipeline_status == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [("pending", "pending"), ("success", "success"), ("failure", "failure"), ("error", "failure")],
)
def test_commit_status_normalised(state: str, expected: str) -> None:
    payload = fixture("status.success.json")
    payload["state"] = state
    event = parse("status", payload, None)
    assert (event.action, event.pipeline_status) == (state, expected)


def test_pipeline_number_only_for_exactly_one_pull_request() -> None:
    payload = fixture("check_run.completed.json")
    pr = payload["check_run"]["pull_requests"][0]
    payload["check_run"]["pull_requests"] = [pr, {**pr, "number": 3}]
    event = parse("check_run", payload, None)
    assert (event.number, event.is_mr) == (None, False)


@pytest.mark.parametrize(
    ("login", "kind", "is_bot"),
    [("renovate[bot]", "User", True), ("ci-app", "Bot", True), ("octocat", "User", False)],
)
def test_bot_actors(login: str, kind: str, is_bot: bool) -> None:
    payload = fixture("issues.opened.json")
    payload["sender"].update(login=login, type=kind)
    assert parse("issues", payload, None).actor.is_bot is is_bot


def test_missing_sender_falls_back_to_comment_author() -> None:
    payload = fixture("issue_comment.created.variant-1.json")
    del payload["sender"]
    event = parse("issue_comment", payload, None)
    assert event.actor.login == payload["comment"]["user"]["login"]


def test_repository_full_name_from_owner_and_name() -> None:
    payload = fixture("issues.opened.json")
    del payload["repository"]["full_name"]
    assert parse("issues", payload, None).repo.full_name == "Codertocat/Hello-World"


def test_ping_without_repository() -> None:
    event = parse("ping", fixture("ping.app.legacy.json"), None)
    assert event.kind is EventKind.PING
    assert (event.repo.full_name, event.actor.login) == ("", "")


# --- dedupe keys -------------------------------------------------------------------------


def test_redelivery_has_same_content_key() -> None:
    payload = fixture("issue_comment.created.variant-1.json")
    first = parse("issue_comment", payload, "delivery-a")
    again = parse("issue_comment", copy.deepcopy(payload), "delivery-b")
    assert first.content_key() == again.content_key()


def test_edit_changes_content_key() -> None:
    created = parse("issue_comment", fixture("issue_comment.created.with-organization.json"), None)
    edited = parse("issue_comment", fixture("issue_comment.edited.json"), None)
    assert created.object_id == edited.object_id
    assert created.content_key() != edited.content_key()


def test_same_commit_pushed_to_two_branches_has_distinct_keys() -> None:
    payload = fixture("push.branch-created.json")
    other = copy.deepcopy(payload)
    other["ref"] = "refs/heads/feature"
    assert parse("push", payload, None).content_key() != parse("push", other, None).content_key()


def test_labeling_two_labels_gives_two_keys() -> None:
    payload = fixture("issues.labeled.json")
    other = copy.deepcopy(payload)
    other["label"]["name"] = "help wanted"
    assert (
        parse("issues", payload, None).content_key() != parse("issues", other, None).content_key()
    )
