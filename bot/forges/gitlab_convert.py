"""GitLab REST v4 JSON → :mod:`bot.forge` value types, and the vocabularies between.

Pure functions over the JSON GitLab returns. GitLab's ``opened``/``locked`` states read
as ``open``; a draft MR is a title prefix (``Draft:``, ``[Draft]``, ``(Draft)``, and the
old ``WIP:``), which :func:`merge_request` strips from the title and reports as ``draft``.
"""

from __future__ import annotations

import re
from typing import Any

from bot.errors import ForgeError
from bot.forge import (
    Comment,
    CommitState,
    CommitStatus,
    Issue,
    MergeRequest,
    Permission,
    RepoInfo,
    User,
)

FORGE = "gitlab"
DRAFT_RE = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s|draft\s|wip:)\s*", re.I)
TO_GITLAB_STATE = {
    CommitState.PENDING: "pending",
    CommitState.RUNNING: "running",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
    CommitState.ERROR: "failed",
    CommitState.CANCELLED: "canceled",
}
FROM_GITLAB_STATE = {
    "pending": CommitState.PENDING,
    "created": CommitState.PENDING,
    "running": CommitState.RUNNING,
    "success": CommitState.SUCCESS,
    "failed": CommitState.FAILURE,
    "canceled": CommitState.CANCELLED,
    "skipped": CommitState.CANCELLED,
    # Job and pipeline states (the statuses API lists a pipeline's jobs too).
    "waiting_for_resource": CommitState.PENDING,
    "preparing": CommitState.PENDING,
    "scheduled": CommitState.PENDING,
    "manual": CommitState.PENDING,
    "waiting_for_callback": CommitState.PENDING,
    "canceling": CommitState.CANCELLED,
}
# GitHub's reaction names (what handlers use) → GitLab award emoji names.
EMOJI = {"+1": "thumbsup", "-1": "thumbsdown", "laugh": "laughing", "hooray": "tada"}
MR_STATES = {"open": "opened", "closed": "closed", "merged": "merged", "all": "all"}


def permission_for(access_level: int | None) -> Permission:
    """Map a GitLab access level (Guest 10 … Owner 50) onto :class:`Permission`."""
    level = access_level or 0
    for floor, permission in (
        (50, Permission.ADMIN),
        (40, Permission.MAINTAIN),
        (30, Permission.WRITE),
        (15, Permission.TRIAGE),  # Planner (15) and Reporter (20)
        (10, Permission.READ),
    ):
        if level >= floor:
            return permission
    return Permission.NONE


def user(data: dict[str, Any] | None) -> User:
    """A user object (None reads as ``ghost``)."""
    data = data or {}
    return User(
        login=data.get("username") or "ghost",
        id=str(data.get("id") or ""),
        is_bot=bool(data.get("bot")),
    )


def _state(value: str) -> str:
    return {"opened": "open", "locked": "open"}.get(value, value)


def repo_info(data: dict[str, Any]) -> RepoInfo:
    """A project object (anything not ``public`` counts as private)."""
    return RepoInfo(
        full_name=data["path_with_namespace"],
        id=str(data["id"]),
        default_branch=data.get("default_branch") or "main",
        clone_url=data["http_url_to_repo"],
        html_url=data.get("web_url"),
        private=data.get("visibility") != "public",
    )


def issue(data: dict[str, Any]) -> Issue:
    """An issue object (numbered by its ``iid``)."""
    return Issue(
        number=data["iid"],
        title=data["title"],
        body=data.get("description") or "",
        state=_state(data.get("state", "opened")),
        labels=list(data.get("labels") or []),
        author=user(data.get("author")),
        url=data.get("web_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def comment(data: dict[str, Any]) -> Comment:
    """A note object."""
    return Comment(
        id=str(data["id"]),
        body=data.get("body") or "",
        author=user(data["author"]),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def merge_request(data: dict[str, Any]) -> MergeRequest:
    """A merge request object, its draft prefix moved from the title to ``draft``."""
    return MergeRequest(
        number=data["iid"],
        title=DRAFT_RE.sub("", data["title"], count=1),
        body=data.get("description") or "",
        state=_state(data.get("state", "opened")),
        draft=bool(data.get("draft") or DRAFT_RE.match(data["title"])),
        head_ref=data["source_branch"],
        base_ref=data["target_branch"],
        head_sha=data.get("sha"),
        labels=list(data.get("labels") or []),
        author=user(data.get("author")),
        url=data.get("web_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def status(sha: str, data: dict[str, Any]) -> CommitStatus:
    """A commit status object, for commit ``sha``.

    Raises:
        ForgeError: GitLab reported a state this adapter does not know.
    """
    state = data.get("status") or data.get("state") or "pending"
    if state not in FROM_GITLAB_STATE:
        raise ForgeError(
            f"gitlab: unknown commit status {state!r}",
            forge=FORGE,
            operation=f"reading statuses of {sha[:12]}",
        )
    return CommitStatus(
        sha=sha,
        state=FROM_GITLAB_STATE[state],
        context=data.get("name") or "",
        description=data.get("description") or "",
        target_url=data.get("target_url"),
    )


def pipeline(sha: str, data: dict[str, Any]) -> CommitStatus:
    """A pipeline as the commit status of context ``pipeline``.

    An unknown pipeline state reads as ``error``, which never passes a gate.
    """
    state = data.get("status") or ""
    source = data.get("source") or "pipeline"
    return CommitStatus(
        sha=sha,
        state=FROM_GITLAB_STATE.get(state, CommitState.ERROR),
        context="pipeline",
        description=f"pipeline #{data.get('id')} ({source}, {data.get('ref')}): {state}",
        target_url=data.get("web_url"),
    )
