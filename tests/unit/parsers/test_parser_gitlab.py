"""GitLab parser behaviour beyond the recorded fixtures: routing, label/draft/approval
normalisation, bad shapes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.errors import PayloadShapeError
from bot.events import EventKind, ReviewState
from bot.parsers.gitlab import parse
from tests.conftest import load_webhook

ZERO = "0" * 40


def fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_webhook("gitlab", name))


def _labels(*titles: str) -> list[dict[str, Any]]:
    return [{"id": i, "title": t} for i, t in enumerate(titles)]


def _with_label_change(payload: dict[str, Any], before: list[str], after: list[str]) -> None:
    payload["object_attributes"]["action"] = "update"
    payload["labels"] = _labels(*after)
    payload["changes"] = {
        "updated_at": {"previous": "2017-12-10 16:38:25 UTC", "current": "2017-12-10 16:39:00 UTC"},
        "labels": {"previous": _labels(*before), "current": _labels(*after)},
    }


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Issue Hook", "issue hook", "Confidential Issue Hook"])
def test_issue_headers(header: str) -> None:
    event = parse(header, fixture("issue_hook.reopen.go-scm.json"), None)
    assert (event.kind, event.action, event.number) == (EventKind.ISSUE, "reopened", 1)


def test_confidential_note_hook() -> None:
    event = parse("Confidential Note Hook", fixture("note_hook.issue.go-scm.json"), None)
    assert (event.kind, event.comment) == (EventKind.ISSUE_COMMENT, "bump")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("merge_request_hook.merge.go-scm.json", EventKind.MR),
        ("note_hook.merge_request.go-scm.json", EventKind.MR_COMMENT),
        ("push_hook.docs.json", EventKind.PUSH),
        ("pipeline_hook.success.docs.json", EventKind.PIPELINE),
        ("job_hook.success.go-gitlab.json", EventKind.PIPELINE),
    ],
)
def test_system_hook_routes_on_object_kind(name: str, kind: EventKind) -> None:
    event = parse("System Hook", fixture(name), "d-9")
    assert event.kind is kind
    assert event.event_name == "System Hook"


def test_system_hook_routes_on_event_name_without_object_kind() -> None:
    payload = fixture("push_hook.docs.json")
    del payload["object_kind"]
    assert parse("System Hook", payload, None).kind is EventKind.PUSH


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (
            "System Hook",
            {"event_name": "project_create", "name": "x", "path_with_namespace": "a/x"},
        ),
        ("System Hook", {"object_kind": 5}),
        ("Wiki Page Hook", {}),
        ("Deployment Hook", {"project": "not an object"}),
        ("Emoji Hook", {"user": [], "object_attributes": {"action": "award"}}),
    ],
)
def test_unhandled_events_are_ignored_whatever_their_shape(header: str, payload: dict) -> None:
    event = parse(header, payload, None)
    assert event.kind is EventKind.IGNORED
    assert event.reason


def test_note_on_unknown_noteable_is_ignored() -> None:
    payload = fixture("note_hook.issue.go-scm.json")
    payload["object_attributes"]["noteable_type"] = "Epic"
    event = parse("Note Hook", payload, None)
    assert event.kind is EventKind.IGNORED
    assert "Epic" in event.reason


# --- issues and merge requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "action", "label"),
    [
        ([], ["bug"], "labeled", "bug"),
        (["bug", "ui"], ["ui"], "unlabeled", "bug"),
        (["bug"], ["ui"], "edited", None),
        (["bug"], ["bug"], "edited", None),
    ],
)
def test_issue_update_with_only_label_changes(before, after, action, label) -> None:
    payload = fixture("issue_hook.update.go-scm.json")
    _with_label_change(payload, before, after)
    event = parse("Issue Hook", payload, None)
    assert (event.action, event.label, event.labels) == (action, label, after)


def test_issue_update_with_labels_and_description_is_an_edit() -> None:
    payload = fixture("issue_hook.update.go-scm.json")
    _with_label_change(payload, [], ["bug"])
    payload["changes"]["description"] = {"previous": "a", "current": "b"}
    event = parse("Issue Hook", payload, None)
    assert (event.action, event.label) == ("edited", None)


def test_mr_update_without_oldrev_is_edited_or_labeled() -> None:
    payload = fixture("merge_request_hook.update.go-gitlab.json")
    del payload["object_attributes"]["oldrev"]
    assert parse("Merge Request Hook", payload, None).action == "edited"
    _with_label_change(payload, [], ["agentforge"])
    event = parse("Merge Request Hook", payload, None)
    assert (event.action, event.label) == ("labeled", "agentforge")


@pytest.mark.parametrize(
    ("raw", "state"),
    [("approved", ReviewState.APPROVED), ("approval", ReviewState.APPROVED),
     ("unapproved", ReviewState.UNAPPROVED), ("unapproval", ReviewState.UNAPPROVED)],
)  # fmt: skip
def test_mr_approvals_are_reviews(raw: str, state: ReviewState) -> None:
    payload = fixture("merge_request_hook.open.go-scm.json")
    payload["object_attributes"]["action"] = raw
    event = parse("Merge Request Hook", payload, None)
    assert (event.kind, event.review_state, event.number, event.is_mr) == (
        EventKind.MR_REVIEW, state, 1, True,
    )  # fmt: skip
    assert event.actor.login == "sytses"


@pytest.mark.parametrize(
    ("title", "flags", "draft"),
    [
        ("Draft: update readme", {}, True),
        ("[Draft] update readme", {}, True),
        ("update readme", {"draft": True}, True),
        ("update readme", {"work_in_progress": True}, True),
        ("update readme", {"draft": False, "work_in_progress": False}, False),
        ("Drafting the readme", {}, False),
    ],
)
def test_mr_draft(title: str, flags: dict, draft: bool) -> None:
    payload = fixture("merge_request_hook.open.go-scm.json")
    payload["object_attributes"].update({"title": title, "work_in_progress": False, **flags})
    assert parse("Merge Request Hook", payload, None).draft is draft


def test_unknown_mr_action_passes_through() -> None:
    payload = fixture("merge_request_hook.open.go-scm.json")
    payload["object_attributes"]["action"] = "something_new"
    event = parse("Merge Request Hook", payload, None)
    assert (event.kind, event.action) == (EventKind.MR, "something_new")


@pytest.mark.parametrize(
    ("login", "flag", "is_bot"),
    [("project_42_bot_3f9a1c", None, True), ("group_7_bot", None, True),
     ("deploy-helper", True, True), ("sytses", None, False), ("my_project_42_bot", None, False)],
)  # fmt: skip
def test_bot_actors(login: str, flag: bool | None, is_bot: bool) -> None:
    payload = fixture("note_hook.issue.go-scm.json")
    payload["user"]["username"] = login
    if flag is not None:
        payload["user"]["bot"] = flag
    assert parse("Note Hook", payload, None).actor.is_bot is is_bot


def test_push_bot_user() -> None:
    payload = fixture("push_hook.docs.json")
    payload["user_username"] = "project_15_bot_1"
    assert parse("Push Hook", payload, None).actor.is_bot is True


# --- pushes and pipelines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "action"),
    [(ZERO, "a" * 40, "created"), ("a" * 40, ZERO, "deleted"), ("a" * 40, "b" * 40, "pushed")],
)
def test_push_action(before: str, after: str, action: str) -> None:
    payload = fixture("push_hook.docs.json")
    payload.update(before=before, after=after)
    event = parse("Push Hook", payload, None)
    assert (event.action, event.base_sha, event.head_sha) == (action, before, after)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("created", "pending"), ("waiting_for_resource", "pending"), ("preparing", "pending"),
     ("pending", "pending"), ("scheduled", "pending"), ("running", "running"),
     ("success", "success"), ("failed", "failure"), ("canceled", "cancelled"),
     ("canceling", "cancelled"), ("skipped", "skipped"), ("manual", "skipped"),
     ("brand_new", None)],
)  # fmt: skip
def test_pipeline_and_job_status_normalised(status: str, expected: str | None) -> None:
    pipeline = fixture("pipeline_hook.success.docs.json")
    pipeline["object_attributes"]["status"] = status
    job = fixture("job_hook.success.go-gitlab.json")
    job["build_status"] = status
    assert parse("Pipeline Hook", pipeline, None).pipeline_status == expected
    assert parse("Job Hook", job, None).pipeline_status == expected


def test_pipeline_without_merge_request() -> None:
    payload = fixture("pipeline_hook.success.docs.json")
    payload["merge_request"] = None
    event = parse("Pipeline Hook", payload, None)
    assert (event.number, event.is_mr, event.head_sha) == (None, False, payload["commit"]["id"])


# --- bad shapes --------------------------------------------------------------------------


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


def _drop_all(*keys: str):
    def mutate(payload: dict[str, Any]) -> None:
        for key in keys:
            del payload[key]

    return mutate


SHAPE_CASES = [
    ("Issue Hook", "issue_hook.open.docs.json", _drop("object_attributes"), "object_attributes"),
    ("Issue Hook", "issue_hook.open.docs.json", _drop("object_attributes.iid"), "iid"),
    ("Issue Hook", "issue_hook.open.docs.json", _set("object_attributes.iid", "23"), "iid"),
    ("Issue Hook", "issue_hook.open.docs.json", _drop_all("project", "repository"), "project"),
    ("Issue Hook", "issue_hook.open.docs.json", _set("project", []), "project"),
    ("Issue Hook", "issue_hook.open.docs.json", _set("labels", ["x", 1]), "labels[1]"),
    ("Merge Request Hook", "merge_request_hook.open.go-scm.json",
     _drop("object_attributes.action"), "action"),
    ("Note Hook", "note_hook.merge_request.go-scm.json", _drop("merge_request"), "merge_request"),
    ("Note Hook", "note_hook.issue.go-scm.json", _drop("object_attributes.noteable_type"),
     "noteable_type"),
    ("Push Hook", "push_hook.docs.json", _drop("ref"), "ref"),
    ("Tag Push Hook", "tag_push_hook.docs.json", _set("after", None), "after"),
    ("Pipeline Hook", "pipeline_hook.success.docs.json", _drop("object_attributes.sha"), "sha"),
    ("Job Hook", "job_hook.success.go-gitlab.json", _drop("repository"), "project"),
    ("Job Hook", "job_hook.success.go-gitlab.json", _set("build_id", 1.5), "build_id"),
]  # fmt: skip


@pytest.mark.parametrize(("header", "name", "mutate", "path"), SHAPE_CASES)
def test_shape_mismatch_raises_naming_event_and_field(header, name, mutate, path) -> None:
    payload = fixture(name)
    mutate(payload)
    with pytest.raises(PayloadShapeError) as info:
        parse(header, payload, None)
    assert header in str(info.value)
    assert path in str(info.value)


def test_repository_homepage_stands_in_for_a_missing_project() -> None:
    payload = fixture("issue_hook.open.docs.json")
    del payload["project"]
    assert parse("Issue Hook", payload, None).repo.full_name == "gitlabhq/gitlab-test"


def test_payload_of_another_hook_is_a_shape_error() -> None:
    with pytest.raises(PayloadShapeError):
        parse("Merge Request Hook", fixture("push_hook.docs.json"), None)
