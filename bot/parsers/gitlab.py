"""GitLab webhook payloads (``X-Gitlab-Event``) → :class:`bot.events.Event`.

Field reference: GitLab's "Webhook events" documentation. Project hooks are routed on
the header ("Issue Hook", "Note Hook"...); a "System Hook" is routed on the body's
``object_kind`` (or ``event_name``). GitLab's ``number`` is the issue/MR ``iid``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef, ReviewState
from bot.parsers._shape import Fields, ignored_event, path_of_url, push_fields
from bot.parsers.slim import Reads

_HEADERS = {
    "issue hook": "issue",
    "confidential issue hook": "issue",
    "note hook": "note",
    "confidential note hook": "note",
    "merge request hook": "merge_request",
    "push hook": "push",
    "tag push hook": "tag_push",
    "pipeline hook": "pipeline",
    "job hook": "build",
}
_PIPELINE_STATUSES = {
    "created": "pending",
    "waiting_for_resource": "pending",
    "preparing": "pending",
    "pending": "pending",
    "scheduled": "pending",
    "running": "running",
    "success": "success",
    "failed": "failure",
    "canceled": "cancelled",
    "canceling": "cancelled",
    "skipped": "skipped",
    "manual": "skipped",
}
_ISSUE_ACTIONS = {"open": "opened", "close": "closed", "reopen": "reopened"}
_MR_ACTIONS = {"open": "opened", "close": "closed", "reopen": "reopened", "merge": "merged"}
_MR_REVIEWS = {
    # "approval" is one person approving; "approved" is the MR becoming fully approved.
    "approved": ReviewState.APPROVED,
    "approval": ReviewState.APPROVED,
    "unapproved": ReviewState.UNAPPROVED,
    "unapproval": ReviewState.UNAPPROVED,
}
_NOTE_ACTIONS = {"create": "created", "update": "edited", "delete": "deleted"}
_STATES = {"opened": "open", "reopened": "open", "locked": "open"}
# Project and group access tokens act as generated users named like this.
_TOKEN_BOT = re.compile(r"^(?:project|group)_\d+_bot")
_DRAFT_TITLE = re.compile(r"^\s*(?:\[draft\]|\(draft\)|draft:)", re.IGNORECASE)
# Bookkeeping GitLab adds to every change; they do not make a label change an "edit".
_BOOKKEEPING = {"updated_at", "updated_by_id"}

_LABELS: Reads = {"title": None}
_ISSUE: Reads = {**dict.fromkeys(("iid", "title", "description", "state")), "labels": [_LABELS]}
_MR: Reads = {
    **_ISSUE,
    **dict.fromkeys(("draft", "work_in_progress", "source_branch", "target_branch")),
    **dict.fromkeys(("source_project_id", "target_project_id")),
    "last_commit": {"id": None},
}
READS: Reads = {
    **dict.fromkeys(("object_kind", "event_name", "project_id")),
    "project": {
        **dict.fromkeys(("web_url", "homepage", "path_with_namespace", "id", "default_branch")),
        **dict.fromkeys(("git_http_url", "http_url")),
    },
    "repository": {"homepage": None, "git_http_url": None},
    "user": {"username": None, "id": None, "name": None, "bot": None},
    **dict.fromkeys(("user_id", "user_username", "user_name")),
    "labels": [_LABELS],
    "changes": None,  # read whole: a label change is told by the set of its keys
    "object_attributes": {
        **_MR,
        **dict.fromkeys(("action", "url", "id", "updated_at", "created_at", "oldrev")),
        **dict.fromkeys(("noteable_type", "note", "status", "ref", "sha", "name")),
        "finished_at": None,
    },
    "issue": _ISSUE,
    "merge_request": _MR,
    **dict.fromkeys(("ref", "before", "after", "sha")),
    "commits": [{"id": None, "url": None}],
    **dict.fromkeys(("build_status", "build_id", "build_name")),
    **dict.fromkeys(("build_finished_at", "build_started_at", "build_created_at")),
}
"""Every field this module reads from a payload (see :mod:`bot.parsers.slim`); a test
checks it against what the parser reads from every recorded payload."""


def parse(event_name: str, payload: dict[str, Any], delivery_id: str | None) -> Event:
    """Parse one GitLab delivery.

    Args:
        event_name: The ``X-Gitlab-Event`` header ("Issue Hook", "System Hook"...).
        payload: The decoded JSON body.
        delivery_id: The delivery's ``Idempotency-Key`` (or ``webhook-id``), if it had one.

    Returns:
        The normalised event; events the bot does not act on come back with
        ``kind == ignored`` and a ``reason``.

    Raises:
        PayloadShapeError: a handled event lacks a field it needs, or a field has
            the wrong JSON type.
    """
    name = event_name.strip()
    root = Fields(payload, name or "gitlab")
    header = name.lower()
    if header == "system hook":
        route = payload.get("object_kind") or payload.get("event_name")
        route = route if isinstance(route, str) else ""
    else:
        route = _HEADERS.get(header, "")
    handler = _HANDLERS.get(route)
    if handler is None:
        what = f"system hook {route!r}" if header == "system hook" else repr(name)
        return _ignored(root, name, delivery_id, f"gitlab event {what} is not handled")
    fields = handler(root)
    if isinstance(fields, str):
        return _ignored(root, name, delivery_id, fields)
    return Event(
        forge=ForgeKind.GITLAB,
        event_name=name,
        delivery_id=delivery_id,
        raw=payload,
        **fields,
    )


# --- common parts ----------------------------------------------------------------------


def _repo(root: Fields) -> RepoRef:
    project = root.opt_obj("project")
    if project is not None:
        web_url = project.opt_text("web_url") or project.opt_text("homepage")
        full_name = project.opt_text("path_with_namespace") or path_of_url(web_url)
        if full_name is None:
            raise project.missing("path_with_namespace")
        return RepoRef(
            full_name=full_name,
            id=project.opt_ident("id") or root.opt_ident("project_id") or "",
            clone_url=project.opt_text("git_http_url") or project.opt_text("http_url"),
            default_branch=project.opt_text("default_branch"),
            html_url=web_url,
        )
    # Job events carry only a "repository" object and a project_id.
    repository = root.opt_obj("repository")
    homepage = repository.opt_text("homepage") if repository else None
    full_name = path_of_url(homepage)
    if repository is None or full_name is None:
        raise root.missing("project")
    return RepoRef(
        full_name=full_name,
        id=root.opt_ident("project_id") or "",
        clone_url=repository.opt_text("git_http_url"),
        html_url=homepage,
    )


def _actor(root: Fields) -> Actor:
    user = root.opt_obj("user")
    if user is not None:
        login = user.opt_text("username") or ""
        user_id = user.opt_ident("id") or root.opt_ident("user_id") or ""
        name = user.opt_text("name")
        flagged = user.flag("bot")
    else:
        # Push events describe the pusher in flat user_* fields.
        login = root.opt_text("user_username") or ""
        user_id = root.opt_ident("user_id") or ""
        name = root.opt_text("user_name")
        flagged = None
    return Actor(
        login=login,
        id=user_id,
        is_bot=bool(flagged) or _TOKEN_BOT.match(login) is not None,
        name=name,
    )


def _labels(root: Fields, obj: Fields | None) -> list[str]:
    """Labels after the event: the payload's top level, else the object's own."""
    found = root.names("labels", "title")
    if found is None and obj is not None:
        found = obj.names("labels", "title")
    return found or []


def _state(attrs: Fields) -> str | None:
    state = attrs.opt_text("state")
    return _STATES.get(state, state) if state is not None else None


def _draft(attrs: Fields) -> bool:
    title = attrs.opt_text("title") or ""
    return (
        bool(attrs.flag("draft"))
        or bool(attrs.flag("work_in_progress"))
        or _DRAFT_TITLE.match(title) is not None
    )


def _label_change(root: Fields) -> tuple[str, str] | None:
    """``("labeled", name)`` / ``("unlabeled", name)`` when only labels changed."""
    changes = root.opt_obj("changes")
    if changes is None or set(changes.data) - _BOOKKEEPING != {"labels"}:
        return None
    labels = changes.obj("labels")
    before = labels.names("previous", "title") or []
    after = labels.names("current", "title") or []
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    if added and not removed:
        return "labeled", added[0]
    if removed and not added:
        return "unlabeled", removed[0]
    return None


def _issue_fields(root: Fields, issue: Fields) -> dict[str, Any]:
    return {
        "number": issue.integer("iid"),
        "title": issue.opt_text("title"),
        "body": issue.opt_text("description"),
        "labels": _labels(root, issue),
        "state": _state(issue),
    }


def _mr_fields(root: Fields, mr: Fields) -> dict[str, Any]:
    last_commit = mr.opt_obj("last_commit")
    return {
        **_issue_fields(root, mr),
        "is_mr": True,
        "draft": _draft(mr),
        "head_ref": mr.opt_text("source_branch"),
        "from_fork": _from_fork(mr),
        "base_ref": mr.opt_text("target_branch"),
        "head_sha": last_commit.opt_text("id") if last_commit else None,
    }


def _from_fork(mr: Fields) -> bool:
    """Whether the MR's source project is another project (a fork)."""
    source, target = mr.opt_ident("source_project_id"), mr.opt_ident("target_project_id")
    return source is not None and target is not None and source != target


def _ignored(root: Fields, name: str, delivery_id: str | None, reason: str) -> Event:
    attrs = root.data.get("object_attributes")
    return ignored_event(
        ForgeKind.GITLAB,
        root,
        name,
        delivery_id,
        reason,
        action=attrs.get("action") if isinstance(attrs, dict) else None,
        repo_of=_repo,
        actor_of=_actor,
    )


# --- one function per kind of object ---------------------------------------------------


def _issue(root: Fields) -> dict[str, Any]:
    attrs = root.obj("object_attributes")
    raw_action = attrs.text("action")
    label = None
    if raw_action == "update":
        action, label = _label_change(root) or ("edited", None)
    else:
        action = _ISSUE_ACTIONS.get(raw_action, raw_action)
    return {
        "kind": EventKind.ISSUE,
        "action": action,
        "repo": _repo(root),
        "actor": _actor(root),
        **_issue_fields(root, attrs),
        "label": label,
        "url": attrs.opt_text("url"),
        "object_id": attrs.ident("id"),
        "updated_at": attrs.timestamp("updated_at"),
    }


def _merge_request(root: Fields) -> dict[str, Any]:
    attrs = root.obj("object_attributes")
    raw_action = attrs.text("action")
    kind, label, review = EventKind.MR, None, _MR_REVIEWS.get(raw_action)
    if review is not None:
        kind, action = EventKind.MR_REVIEW, review.value
    elif raw_action == "update" and attrs.has("oldrev"):
        # oldrev is only sent when the update pushed new commits.
        action = "updated"
    elif raw_action == "update":
        action, label = _label_change(root) or ("edited", None)
    else:
        action = _MR_ACTIONS.get(raw_action, raw_action)
    return {
        "kind": kind,
        "action": action,
        "repo": _repo(root),
        "actor": _actor(root),
        **_mr_fields(root, attrs),
        "label": label,
        "review_state": review,
        "url": attrs.opt_text("url"),
        "object_id": attrs.ident("id"),
        "updated_at": attrs.timestamp("updated_at"),
    }


def _note(root: Fields) -> dict[str, Any] | str:
    attrs = root.obj("object_attributes")
    noteable = attrs.text("noteable_type")
    raw_action = attrs.opt_text("action") or "create"
    note_id = attrs.ident("id")
    fields: dict[str, Any] = {
        "action": _NOTE_ACTIONS.get(raw_action, raw_action),
        "comment": attrs.opt_text("note") or "",
        "comment_id": note_id,
        "url": attrs.opt_text("url"),
        "object_id": note_id,
        "updated_at": attrs.timestamp("updated_at") or attrs.timestamp("created_at"),
    }
    if noteable == "Issue":
        issue = root.obj("issue")
        fields.update(kind=EventKind.ISSUE_COMMENT, **_issue_fields(root, issue))
    elif noteable == "MergeRequest":
        mr = root.obj("merge_request")
        fields.update(kind=EventKind.MR_COMMENT, **_mr_fields(root, mr))
    else:
        return f"comments on a {noteable} are not handled"
    return {"repo": _repo(root), "actor": _actor(root), **fields}


def _push(root: Fields) -> dict[str, Any]:
    return push_fields(root, repo_of=_repo, actor_of=_actor, url_of=_commit_url, read_flags=False)


def _commit_url(root: Fields, sha: str) -> str | None:
    """The web page of the pushed head commit, when the payload lists it."""
    return next(
        (c.opt_text("url") for c in root.objects("commits") if c.opt_text("id") == sha),
        None,
    )


def _pipeline(root: Fields) -> dict[str, Any]:
    attrs = root.obj("object_attributes")
    status = attrs.text("status")
    mr = root.opt_obj("merge_request")
    return {
        "kind": EventKind.PIPELINE,
        "action": status,
        "repo": _repo(root),
        "actor": _actor(root),
        "number": mr.integer("iid") if mr else None,
        "is_mr": mr is not None,
        "title": mr.opt_text("title") if mr else None,
        "head_ref": attrs.opt_text("ref"),
        "head_sha": attrs.text("sha"),
        "pipeline_status": _PIPELINE_STATUSES.get(status),
        "pipeline_name": attrs.opt_text("name"),
        "url": attrs.opt_text("url"),
        "object_id": attrs.ident("id"),
        "updated_at": attrs.timestamp("finished_at") or attrs.timestamp("created_at"),
    }


def _job(root: Fields) -> dict[str, Any]:
    status = root.text("build_status")
    job_id = root.ident("build_id")
    repo = _repo(root)
    return {
        "kind": EventKind.PIPELINE,
        "action": status,
        "repo": repo,
        "actor": _actor(root),
        "head_ref": root.opt_text("ref"),
        "head_sha": root.text("sha"),
        "pipeline_status": _PIPELINE_STATUSES.get(status),
        "pipeline_name": root.opt_text("build_name"),
        "url": f"{repo.html_url.rstrip('/')}/-/jobs/{job_id}" if repo.html_url else None,
        "object_id": job_id,
        "updated_at": (
            root.timestamp("build_finished_at")
            or root.timestamp("build_started_at")
            or root.timestamp("build_created_at")
        ),
    }


_HANDLERS: dict[str, Callable[[Fields], dict[str, Any] | str]] = {
    "issue": _issue,
    "work_item": _issue,
    "note": _note,
    "merge_request": _merge_request,
    "push": _push,
    "tag_push": _push,
    "pipeline": _pipeline,
    "build": _job,
}
