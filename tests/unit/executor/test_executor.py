"""The executor over a real local forge: a table of actions x forge state -> outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.actions import (
    AddLabels,
    MarkReady,
    OpenMR,
    PostComment,
    React,
    RemoveLabel,
    SetCommitStatus,
    UpdateMR,
)
from bot.errors import Forbidden, InvalidRequest, NotFound, PolicyDenied, Unavailable
from bot.executor import ExecutionContext, Executor, OutcomeStatus, subject_of
from bot.forge import CommitState, markers_in
from bot.forges.local import LocalForge
from bot.store.audit import AuditLog
from bot.store.db import Database
from bot.workspace import Identity, Workspace
from policies.verdict import Verdict
from tests.unit.executor.support import REPO, Flaky

APPLIED, SKIPPED, DENIED, FAILED = (
    OutcomeStatus.APPLIED,
    OutcomeStatus.SKIPPED,
    OutcomeStatus.DENIED,
    OutcomeStatus.FAILED,
)


def push_branch(local: LocalForge, tmp_path, branch: str, files: dict[str, str]) -> str:
    ws = Workspace.open(local.clone_url(REPO), tmp_path / f"seed-{branch}")
    ws.create_branch(branch, "main", reset=True)
    for path, content in files.items():
        ws.write_file(path, content)
    sha = ws.commit(f"seed {branch}", author=Identity("Owner", "owner@example.test"))
    ws.push(branch)
    return sha


# --- forge states: each returns the number of the issue or MR it made ---------------


def issue(local: LocalForge, tmp_path) -> int:
    return local.create_issue(REPO, "Add login", "please").number


def labelled_issue(local: LocalForge, tmp_path) -> int:
    return local.create_issue(REPO, "Add login", labels=["bug", "ready"]).number


def marked_comment(local: LocalForge, tmp_path) -> int:
    n = issue(local, tmp_path)
    local.create_comment(REPO, n, "status: planning\n\n<!-- agentforge:status -->")
    return n


def draft_mr(local: LocalForge, tmp_path) -> int:
    push_branch(local, tmp_path, "feature", {"a.txt": "a\n"})
    return local.open_mr(REPO, head="feature", base="main", title="Feature", draft=True).number


def ready_mr(local: LocalForge, tmp_path) -> int:
    push_branch(local, tmp_path, "feature", {"a.txt": "a\n"})
    return local.open_mr(REPO, head="feature", base="main", title="Feature").number


def branch_only(local: LocalForge, tmp_path) -> int:
    push_branch(local, tmp_path, "feature", {"a.txt": "a\n"})
    return 0


State = Callable[[LocalForge, Any], int]
Make = Callable[[int], Any]

CASES: list[tuple[str, State, Make, OutcomeStatus, int]] = [
    # id, state, action(number), expected status, write calls made to the forge
    ("comment-new", issue, lambda n: PostComment(repo=REPO, number=n, body="hi"), APPLIED, 1),
    (
        "marked-new",
        issue,
        lambda n: PostComment(repo=REPO, number=n, body="status: planning", marker_key="status"),
        APPLIED,
        1,
    ),
    (
        "marked-same",
        marked_comment,
        lambda n: PostComment(repo=REPO, number=n, body="status: planning", marker_key="status"),
        SKIPPED,
        0,
    ),
    (
        "marked-changed",
        marked_comment,
        lambda n: PostComment(repo=REPO, number=n, body="status: design", marker_key="status"),
        APPLIED,
        1,
    ),
    (
        "labels-present",
        labelled_issue,
        lambda n: AddLabels(repo=REPO, number=n, labels=["ready", "bug"]),
        SKIPPED,
        0,
    ),
    (
        "labels-missing",
        labelled_issue,
        lambda n: AddLabels(repo=REPO, number=n, labels=["ready", "agentforge"]),
        APPLIED,
        1,
    ),
    ("unlabel-absent", issue, lambda n: RemoveLabel(repo=REPO, number=n, label="bug"), SKIPPED, 0),
    (
        "unlabel-present",
        labelled_issue,
        lambda n: RemoveLabel(repo=REPO, number=n, label="bug"),
        APPLIED,
        1,
    ),
    ("react", issue, lambda n: React(repo=REPO, number=n, reaction="eyes"), APPLIED, 1),
    (
        "mr-new",
        branch_only,
        lambda n: OpenMR(repo=REPO, head="feature", base="main", title="Feature"),
        APPLIED,
        1,
    ),
    (
        "mr-open",
        draft_mr,
        lambda n: OpenMR(repo=REPO, head="feature", base="main", title="Other title"),
        SKIPPED,
        0,
    ),
    ("ready-draft", draft_mr, lambda n: MarkReady(repo=REPO, number=n), APPLIED, 1),
    ("ready-ready", ready_mr, lambda n: MarkReady(repo=REPO, number=n), SKIPPED, 0),
    ("update-same", ready_mr, lambda n: UpdateMR(repo=REPO, number=n, title="Feature"), SKIPPED, 0),
    ("update-title", ready_mr, lambda n: UpdateMR(repo=REPO, number=n, title="New"), APPLIED, 1),
    ("comment-404", issue, lambda n: PostComment(repo=REPO, number=n + 50, body="x"), FAILED, 1),
    (
        "bad-marker",
        issue,
        lambda n: PostComment(repo=REPO, number=n, body="x", marker_key="has space"),
        FAILED,
        0,
    ),
]


@pytest.mark.parametrize(
    ("state", "make", "expected", "writes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_action_against_state(local, forge, tmp_path, state, make, expected, writes) -> None:
    number = state(local, tmp_path)
    outcome = Executor(forge).apply([make(number)])[0]
    assert outcome.status == expected, outcome.detail
    assert len(forge.writes) == writes
    if expected == FAILED:
        assert outcome.error is not None
        assert outcome.to_dict()["error"]["type"] == type(outcome.error).__name__


def test_missing_issue_fails_with_not_found(local, forge, tmp_path) -> None:
    outcome = Executor(forge).apply([PostComment(repo=REPO, number=99, body="x")])[0]
    assert isinstance(outcome.error, NotFound)


def test_bad_marker_key_is_an_invalid_request(local, forge, tmp_path) -> None:
    n = issue(local, tmp_path)
    action = PostComment(repo=REPO, number=n, body="x", marker_key="a b")
    outcome = Executor(forge).apply([action])[0]
    assert isinstance(outcome.error, InvalidRequest)
    assert local.list_comments(REPO, n) == []


def test_marked_comment_twice_leaves_one_comment(local, forge, tmp_path) -> None:
    n = issue(local, tmp_path)
    executor = Executor(forge)
    first = PostComment(repo=REPO, number=n, body="status: planning", marker_key="status")
    second = PostComment(repo=REPO, number=n, body="status: design", marker_key="status")
    statuses = [o.status for o in executor.apply([first, first, second, second])]
    assert statuses == [APPLIED, SKIPPED, APPLIED, SKIPPED]
    comments = local.list_comments(REPO, n)
    assert len(comments) == 1
    assert comments[0].body.startswith("status: design")
    assert markers_in(comments[0].body) == {"status"}


def test_only_missing_labels_are_added(local, forge, tmp_path) -> None:
    n = labelled_issue(local, tmp_path)
    Executor(forge).apply([AddLabels(repo=REPO, number=n, labels=["ready", "new", "new"])])
    assert sorted(local.get_issue(REPO, n).labels) == ["bug", "new", "ready"]


def test_commit_status_is_set_once_and_bad_state_fails(local, forge, tmp_path) -> None:
    sha = push_branch(local, tmp_path, "feature", {"a.txt": "a\n"})
    ok = SetCommitStatus(repo=REPO, sha=sha, state="success", context="agentforge/qa")
    bad = SetCommitStatus(repo=REPO, sha=sha, state="green", context="agentforge/qa")
    outcomes = Executor(forge).apply([ok, ok, bad])
    assert [o.status for o in outcomes] == [APPLIED, SKIPPED, FAILED]
    assert isinstance(outcomes[2].error, InvalidRequest)
    statuses = local.list_commit_statuses(REPO, sha)
    assert [(s.context, s.state) for s in statuses] == [("agentforge/qa", CommitState.SUCCESS)]


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        (Verdict.deny("path is protected", "protected_paths"), DENIED),
        (Verdict.needs_approval("big change"), OutcomeStatus.PENDING),
    ],
)
def test_refused_actions_write_nothing(local, forge, tmp_path, verdict, status) -> None:
    n = issue(local, tmp_path)
    actions = [
        PostComment(repo=REPO, number=n, body="hi", marker_key="status"),
        AddLabels(repo=REPO, number=n, labels=["x"]),
    ]
    outcomes = Executor(forge, judge=lambda a: verdict).apply(actions)
    assert [o.status for o in outcomes] == [status, status]
    assert outcomes[0].verdict == verdict
    assert verdict.reason in outcomes[0].detail
    assert forge.writes == []
    assert local.list_comments(REPO, n) == []


def test_judge_sees_every_action_and_can_deny_one(local, forge, tmp_path) -> None:
    n = issue(local, tmp_path)
    seen = []

    def judge(action):
        seen.append(action.type)
        if action.type == "add_labels":
            raise PolicyDenied("labels are frozen")
        return Verdict.skip()

    actions = [
        AddLabels(repo=REPO, number=n, labels=["x"]),
        PostComment(repo=REPO, number=n, body="hi"),
    ]
    outcomes = Executor(forge, judge=judge).apply(actions)
    assert seen == ["add_labels", "comment"]
    assert [o.status for o in outcomes] == [DENIED, APPLIED]
    assert local.get_issue(REPO, n).labels == []


def test_a_failure_does_not_stop_later_actions(local, tmp_path) -> None:
    n = issue(local, tmp_path)
    forge = Flaky(local, {"add_labels": Unavailable("github down", forge="local")})
    actions = [
        AddLabels(repo=REPO, number=n, labels=["x"]),
        PostComment(repo=REPO, number=n, body="still here"),
    ]
    outcomes = Executor(forge).apply(actions)
    assert [o.status for o in outcomes] == [FAILED, APPLIED]
    assert isinstance(outcomes[0].error, Unavailable)
    assert [c.body for c in local.list_comments(REPO, n)] == ["still here"]


def test_unexpected_errors_propagate(local, tmp_path) -> None:
    n = issue(local, tmp_path)
    forge = Flaky(local, {"create_comment": RuntimeError("bug in adapter")})
    with pytest.raises(RuntimeError):
        Executor(forge).apply([PostComment(repo=REPO, number=n, body="x")])


class Recorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str | None, dict | None]] = []

    def append(self, actor, action, subject=None, detail=None):
        self.rows.append((actor, action, subject, detail))


def test_audit_gets_applied_denied_and_failed_not_skipped(local, tmp_path) -> None:
    n = labelled_issue(local, tmp_path)
    forge = Flaky(local, {"create_comment": Forbidden("no scope", forge="local")})
    audit = Recorder()

    def judge(action):
        return Verdict.deny("no reactions") if action.type == "react" else Verdict.allow()

    actions = [
        AddLabels(repo=REPO, number=n, labels=["bug"]),  # skipped
        AddLabels(repo=REPO, number=n, labels=["new"]),  # applied
        React(repo=REPO, number=n, reaction="eyes"),  # denied
        PostComment(repo=REPO, number=n, body="x"),  # failed
    ]
    ctx = ExecutionContext(delivery_id="d-1", job_id=7, triggered_by="alice")
    Executor(forge, judge=judge, audit=audit).apply(actions, ctx)
    assert [row[1] for row in audit.rows] == [
        "add_labels.applied",
        "react.denied",
        "comment.failed",
    ]
    actor, _, subject, detail = audit.rows[0]
    assert (actor, subject) == ("agentforge", f"local:{REPO}#{n}")
    assert detail["delivery_id"] == "d-1"
    assert detail["job_id"] == 7
    assert detail["triggered_by"] == "alice"
    assert audit.rows[2][3]["error"]["type"] == "Forbidden"


def test_audit_log_chain_holds_after_execution(local, forge, tmp_path) -> None:
    n = issue(local, tmp_path)
    db = Database.in_memory()
    log = AuditLog(db)
    Executor(forge, audit=log).apply(
        [PostComment(repo=REPO, number=n, body="x"), AddLabels(repo=REPO, number=n, labels=["a"])]
    )
    assert log.count() == 2
    assert log.verify().ok


def test_subjects() -> None:
    assert subject_of(PostComment(repo="a/b", number=3, body="x")) == "a/b#3"
    assert subject_of(OpenMR(repo="a/b", head="f", base="main", title="t")) == "a/b@f"
    status = SetCommitStatus(repo="a/b", sha="0123456789abcdef", state="success", context="c")
    assert subject_of(status) == "a/b@0123456789ab"


def test_a_marker_in_someone_elses_comment_is_not_the_bots(local, forge, tmp_path) -> None:
    # Marker keys can be predictable (a config-error digest, a refusal reply): a person
    # who types one into their own comment must not make the bot edit (the forge would
    # refuse) or skip its reply. Only the bot's own comments carry its markers.
    n = issue(local, tmp_path)
    mallory = LocalForge(tmp_path / "forge", "mallory")
    planted = mallory.create_comment(REPO, n, "hi <!-- agentforge:reply.x -->")
    outcome = Executor(forge).apply(
        [PostComment(repo=REPO, number=n, body="the answer", marker_key="reply.x")]
    )[0]
    assert outcome.status == APPLIED and outcome.detail == "marked comment posted"
    comments = local.list_comments(REPO, n)
    assert [c.author.login for c in comments] == ["mallory", "agentforge-bot"]
    assert comments[0].body == planted.body  # untouched
    again = Executor(forge).apply(
        [PostComment(repo=REPO, number=n, body="the answer", marker_key="reply.x")]
    )[0]
    assert again.status == SKIPPED and again.result["comment_id"] == comments[1].id
