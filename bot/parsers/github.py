"""GitHub webhook payloads (``X-GitHub-Event``) → :class:`bot.events.Event`.

Field reference: GitHub's webhook payload schemas (octokit/webhooks). Payloads from
older GitHub versions and from GitHub Enterprise lack some fields, so only what an
event cannot be understood without is required; everything else may be absent or
null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef, ReviewState
from bot.parsers._shape import Fields, ignored_event, push_fields
from bot.parsers.slim import Reads

_CHECK_CONCLUSIONS = {
    # "neutral" counts as passing in GitHub's own branch protection.
    "success": "success",
    "neutral": "success",
    "failure": "failure",
    "timed_out": "failure",
    "action_required": "failure",
    "startup_failure": "failure",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "stale": "skipped",
}
_CHECK_STATUSES = {
    "queued": "pending",
    "requested": "pending",
    "waiting": "pending",
    "pending": "pending",
    "in_progress": "running",
}
_COMMIT_STATES = {
    "pending": "pending",
    "success": "success",
    "failure": "failure",
    "error": "failure",
}
_REVIEW_STATES = {state.value: state for state in ReviewState}

_USER: Reads = {"login": None, "name": None, "type": None, "id": None}
_LABELS: Reads = {"name": None}
_PULL_REQUESTS: Reads = {"number": None}
_HEAD: Reads = {"ref": None, "sha": None, "repo": {"full_name": None}}
READS: Reads = {
    "action": None,
    "number": None,
    "repository": {
        "full_name": None,
        "owner": {"login": None, "name": None},
        "name": None,
        "id": None,
        "clone_url": None,
        "default_branch": None,
        "master_branch": None,
        "html_url": None,
    },
    "sender": _USER,
    "label": {"name": None},
    "issue": {
        **dict.fromkeys(("number", "title", "body", "state", "draft", "html_url", "id")),
        "updated_at": None,
        "labels": [_LABELS],
        "pull_request": {},
        "user": _USER,
    },
    "comment": {
        **dict.fromkeys(("id", "body", "html_url", "updated_at", "created_at")),
        "user": _USER,
    },
    "pull_request": {
        **dict.fromkeys(("number", "title", "body", "state", "draft", "merged", "merged_at")),
        **dict.fromkeys(("html_url", "id", "updated_at")),
        "labels": [_LABELS],
        "head": _HEAD,
        "base": _HEAD,
        "user": _USER,
    },
    "review": {
        **dict.fromkeys(("state", "body", "html_url", "id", "submitted_at")),
        "user": _USER,
    },
    **dict.fromkeys(("ref", "before", "after", "deleted", "created", "compare")),
    **dict.fromkeys(("state", "sha", "context", "target_url", "id", "updated_at")),
    "branches": [{"name": None}],
    "check_run": {
        **dict.fromkeys(("head_sha", "status", "conclusion", "name", "html_url", "id")),
        **dict.fromkeys(("updated_at", "completed_at", "started_at")),
        "pull_requests": [_PULL_REQUESTS],
        "check_suite": {"head_branch": None},
    },
    "check_suite": {
        **dict.fromkeys(("head_sha", "status", "conclusion", "id", "head_branch", "updated_at")),
        "pull_requests": [_PULL_REQUESTS],
        "app": {"name": None},
    },
    "workflow_run": {
        **dict.fromkeys(("name", "head_sha", "status", "conclusion", "html_url", "id")),
        **dict.fromkeys(("head_branch", "updated_at")),
        "pull_requests": [_PULL_REQUESTS],
    },
    "workflow": {"name": None},
    "hook": {"id": None, "updated_at": None},
    "hook_id": None,
}
"""Every field this module reads from a payload (see :mod:`bot.parsers.slim`); a test
checks it against what the parser reads from every recorded payload."""


def parse(event_name: str, payload: dict[str, Any], delivery_id: str | None) -> Event:
    """Parse one GitHub delivery.

    Args:
        event_name: The ``X-GitHub-Event`` header (``issues``, ``pull_request``...).
        payload: The decoded JSON body.
        delivery_id: The ``X-GitHub-Delivery`` header, if known.

    Returns:
        The normalised event; events the bot does not act on come back with
        ``kind == ignored`` and a ``reason``.

    Raises:
        PayloadShapeError: a handled event lacks a field it needs, or a field has
            the wrong JSON type.
    """
    name = event_name.strip().lower()
    root = Fields(payload, name or "github")
    handler = _HANDLERS.get(name)
    if handler is None:
        return _ignored(root, name, delivery_id, f"github event {name!r} is not handled")
    fields = handler(root)
    return Event(
        forge=ForgeKind.GITHUB,
        event_name=name,
        delivery_id=delivery_id,
        raw=payload,
        **fields,
    )


# --- common parts ----------------------------------------------------------------------


def _repo(root: Fields) -> RepoRef:
    repo = root.obj("repository")
    full_name = repo.opt_text("full_name")
    if full_name is None:
        # Some legacy payloads carry only owner + name.
        owner = repo.opt_obj("owner")
        login = owner.opt_text("login") or owner.opt_text("name") if owner else None
        name = repo.opt_text("name")
        if not (login and name):
            raise repo.missing("full_name")
        full_name = f"{login}/{name}"
    return RepoRef(
        full_name=full_name,
        id=repo.opt_ident("id") or "",
        clone_url=repo.opt_text("clone_url"),
        default_branch=repo.opt_text("default_branch") or repo.opt_text("master_branch"),
        html_url=repo.opt_text("html_url"),
    )


def _user(user: Fields) -> Actor:
    login = user.opt_text("login") or user.opt_text("name") or ""
    kind = user.opt_text("type")
    return Actor(
        login=login,
        id=user.opt_ident("id") or "",
        is_bot=kind == "Bot" or login.endswith("[bot]"),
        name=user.opt_text("name") if user.has("login") else None,
    )


def _actor(root: Fields, *fallbacks: Fields | None) -> Actor:
    """The sender; else the first fallback object's ``user`` (the author)."""
    sender = root.opt_obj("sender")
    if sender is not None:
        return _user(sender)
    for obj in fallbacks:
        author = obj.opt_obj("user") if obj is not None else None
        if author is not None:
            return _user(author)
    return Actor(login="")


def _labels(obj: Fields) -> list[str]:
    return obj.names("labels", "name") or []


def _label(root: Fields) -> str | None:
    label = root.opt_obj("label")
    return label.text("name") if label is not None else None


def _pr_number(root: Fields, pr: Fields) -> int:
    number = pr.opt_int("number")
    if number is None:
        number = root.opt_int("number")
    if number is None:
        raise pr.missing("number")
    return number


def _is_merged(pr: Fields) -> bool:
    merged = pr.flag("merged")
    if merged is None:
        return pr.has("merged_at")
    return merged


def _pr_fields(root: Fields, pr: Fields) -> dict[str, Any]:
    """What every PR-related event says about the pull request itself."""
    head = pr.opt_obj("head")
    base = pr.opt_obj("base")
    merged = _is_merged(pr)
    return {
        "number": _pr_number(root, pr),
        "is_mr": True,
        "title": pr.opt_text("title"),
        "body": pr.opt_text("body"),
        "labels": _labels(pr),
        "state": "merged" if merged else pr.opt_text("state"),
        "draft": pr.flag("draft"),
        "head_ref": head.opt_text("ref") if head else None,
        "from_fork": _from_fork(head, base),
        "head_sha": head.opt_text("sha") if head else None,
        "base_ref": base.opt_text("ref") if base else None,
        "base_sha": base.opt_text("sha") if base else None,
    }


def _from_fork(head: Fields | None, base: Fields | None) -> bool:
    """Whether the PR's head is in another repository (``head.repo`` null: a deleted
    fork)."""
    if head is None or base is None:
        return False
    head_repo, base_repo = head.opt_obj("repo"), base.opt_obj("repo")
    if head_repo is None:
        return "repo" in head.data
    if base_repo is None:
        return False
    return head_repo.opt_text("full_name") != base_repo.opt_text("full_name")


def _issue_fields(issue: Fields) -> dict[str, Any]:
    return {
        "number": issue.integer("number"),
        "title": issue.opt_text("title"),
        "body": issue.opt_text("body"),
        "labels": _labels(issue),
        "state": issue.opt_text("state"),
    }


def _only_pull_request(obj: Fields) -> int | None:
    """The PR number when a check/workflow payload lists exactly one pull request."""
    prs = obj.objects("pull_requests")
    return prs[0].integer("number") if len(prs) == 1 else None


def _ignored(root: Fields, name: str, delivery_id: str | None, reason: str) -> Event:
    return ignored_event(
        ForgeKind.GITHUB,
        root,
        name,
        delivery_id,
        reason,
        action=root.data.get("action"),
        repo_of=_repo,
        actor_of=_actor,
    )


# --- one function per event ------------------------------------------------------------


def _issues(root: Fields) -> dict[str, Any]:
    issue = root.obj("issue")
    return {
        "kind": EventKind.ISSUE,
        "action": root.text("action"),
        "repo": _repo(root),
        "actor": _actor(root, issue),
        **_issue_fields(issue),
        "label": _label(root),
        "url": issue.opt_text("html_url"),
        "object_id": issue.ident("id"),
        "updated_at": issue.timestamp("updated_at"),
    }


def _comment_fields(comment: Fields) -> dict[str, Any]:
    comment_id = comment.ident("id")
    return {
        "comment": comment.opt_text("body") or "",
        "comment_id": comment_id,
        "url": comment.opt_text("html_url"),
        "object_id": comment_id,
        "updated_at": comment.timestamp("updated_at") or comment.timestamp("created_at"),
    }


def _issue_comment(root: Fields) -> dict[str, Any]:
    issue = root.obj("issue")
    comment = root.obj("comment")
    # GitHub treats a PR as an issue: a conversation comment on a PR arrives as
    # issue_comment, told apart only by issue.pull_request.
    is_mr = issue.has("pull_request")
    return {
        "kind": EventKind.MR_COMMENT if is_mr else EventKind.ISSUE_COMMENT,
        "action": root.text("action"),
        "repo": _repo(root),
        "actor": _actor(root, comment),
        **_issue_fields(issue),
        "is_mr": is_mr,
        "draft": issue.flag("draft") if is_mr else None,
        **_comment_fields(comment),
    }


def _pull_request(root: Fields) -> dict[str, Any]:
    pr = root.obj("pull_request")
    action = root.text("action")
    fields = _pr_fields(root, pr)
    if action == "synchronize":
        action = "updated"
    elif action == "closed" and fields["state"] == "merged":
        action = "merged"
    return {
        "kind": EventKind.MR,
        "action": action,
        "repo": _repo(root),
        "actor": _actor(root, pr),
        **fields,
        "label": _label(root),
        "url": pr.opt_text("html_url"),
        "object_id": pr.ident("id"),
        "updated_at": pr.timestamp("updated_at"),
    }


def _pull_request_review(root: Fields) -> dict[str, Any]:
    pr = root.obj("pull_request")
    review = root.obj("review")
    state = review.text("state").lower()
    return {
        "kind": EventKind.MR_REVIEW,
        "action": root.text("action"),
        "repo": _repo(root),
        "actor": _actor(root, review),
        **_pr_fields(root, pr),
        "comment": review.opt_text("body"),
        "review_state": _REVIEW_STATES.get(state),
        "url": review.opt_text("html_url"),
        "object_id": review.ident("id"),
        "updated_at": review.timestamp("submitted_at"),
    }


def _pull_request_review_comment(root: Fields) -> dict[str, Any]:
    pr = root.obj("pull_request")
    comment = root.obj("comment")
    return {
        "kind": EventKind.MR_COMMENT,
        "action": root.text("action"),
        "repo": _repo(root),
        "actor": _actor(root, comment),
        **_pr_fields(root, pr),
        **_comment_fields(comment),
    }


def _push(root: Fields) -> dict[str, Any]:
    return push_fields(
        root,
        repo_of=_repo,
        actor_of=_actor,
        url_of=lambda r, _after: r.opt_text("compare"),
        read_flags=True,
    )


def _check_status(status: str | None, conclusion: str | None) -> str | None:
    """Normalise a check run/suite or workflow run to the pipeline status vocabulary.

    Unknown values give None rather than a guess, so a gate waiting for ``success``
    never passes on a state it does not understand.
    """
    if conclusion is not None:
        return _CHECK_CONCLUSIONS.get(conclusion)
    if status is None:
        return None
    return _CHECK_STATUSES.get(status)


def _pipeline(root: Fields, obj: Fields, name: str | None, url: str | None) -> dict[str, Any]:
    number = _only_pull_request(obj)
    return {
        "kind": EventKind.PIPELINE,
        "action": root.text("action"),
        "repo": _repo(root),
        "actor": _actor(root),
        "number": number,
        "is_mr": number is not None,
        "head_sha": obj.text("head_sha"),
        "pipeline_status": _check_status(obj.opt_text("status"), obj.opt_text("conclusion")),
        "pipeline_name": name,
        "url": url,
        "object_id": obj.ident("id"),
    }


def _check_run(root: Fields) -> dict[str, Any]:
    run = root.obj("check_run")
    suite = run.opt_obj("check_suite")
    fields = _pipeline(root, run, run.opt_text("name"), run.opt_text("html_url"))
    fields["head_ref"] = suite.opt_text("head_branch") if suite else None
    fields["updated_at"] = (
        run.timestamp("updated_at") or run.timestamp("completed_at") or run.timestamp("started_at")
    )
    return fields


def _check_suite(root: Fields) -> dict[str, Any]:
    suite = root.obj("check_suite")
    app = suite.opt_obj("app")
    fields = _pipeline(root, suite, app.opt_text("name") if app else None, None)
    fields["head_ref"] = suite.opt_text("head_branch")
    fields["updated_at"] = suite.timestamp("updated_at")
    return fields


def _workflow_run(root: Fields) -> dict[str, Any]:
    run = root.obj("workflow_run")
    workflow = root.opt_obj("workflow")
    name = run.opt_text("name") or (workflow.opt_text("name") if workflow else None)
    fields = _pipeline(root, run, name, run.opt_text("html_url"))
    fields["head_ref"] = run.opt_text("head_branch")
    fields["updated_at"] = run.timestamp("updated_at")
    return fields


def _status(root: Fields) -> dict[str, Any]:
    state = root.text("state")
    branches = root.objects("branches")
    return {
        "kind": EventKind.PIPELINE,
        "action": state,
        "repo": _repo(root),
        "actor": _actor(root),
        "head_sha": root.text("sha"),
        "head_ref": branches[0].opt_text("name") if len(branches) == 1 else None,
        "pipeline_status": _COMMIT_STATES.get(state),
        "pipeline_name": root.opt_text("context"),
        "url": root.opt_text("target_url"),
        "object_id": root.ident("id"),
        "updated_at": root.timestamp("updated_at"),
    }


def _ping(root: Fields) -> dict[str, Any]:
    # App-level pings carry neither a repository nor a sender.
    hook = root.opt_obj("hook")
    return {
        "kind": EventKind.PING,
        "repo": _repo(root) if root.has("repository") else RepoRef(full_name=""),
        "actor": _actor(root),
        "object_id": root.opt_ident("hook_id") or (hook.opt_ident("id") if hook else None),
        "updated_at": hook.timestamp("updated_at") if hook else None,
    }


_HANDLERS: dict[str, Callable[[Fields], dict[str, Any]]] = {
    "issues": _issues,
    "issue_comment": _issue_comment,
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "pull_request_review_comment": _pull_request_review_comment,
    "push": _push,
    "status": _status,
    "check_run": _check_run,
    "check_suite": _check_suite,
    "workflow_run": _workflow_run,
    "ping": _ping,
}
