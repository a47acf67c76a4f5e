"""GitHub REST JSON → :mod:`bot.forge` value types, and the state vocabularies between.

Pure functions over the JSON GitHub returns (the shapes of its documented examples);
missing optional fields fall back to empty values, a deleted account reads as
``ghost``.
"""

from __future__ import annotations

from typing import Any

from bot.forge import (
    Comment,
    CommitState,
    CommitStatus,
    Issue,
    MergeRequest,
    Permission,
    RepoInfo,
    Review,
    User,
)

ROLES = {
    "admin": Permission.ADMIN,
    "maintain": Permission.MAINTAIN,
    "write": Permission.WRITE,
    "triage": Permission.TRIAGE,
    "read": Permission.READ,
    "none": Permission.NONE,
}
TO_GITHUB_STATE = {
    CommitState.PENDING: "pending",
    CommitState.RUNNING: "pending",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failure",
    CommitState.ERROR: "error",
    CommitState.CANCELLED: "error",
}
REVIEW_STATES = {
    "APPROVED": "approved",
    "CHANGES_REQUESTED": "changes_requested",
    "COMMENTED": "commented",
    "DISMISSED": "dismissed",
}


def permission(data: dict[str, Any]) -> Permission:
    """A collaborator-permission answer → :class:`Permission` (``role_name`` first)."""
    role = data.get("role_name") or data.get("permission") or "none"
    return ROLES.get(role, ROLES.get(data.get("permission", "none"), Permission.NONE))


def user(data: dict[str, Any] | None) -> User:
    """A user object (None, for a deleted account, reads as ``ghost``)."""
    data = data or {}
    return User(
        login=data.get("login") or "ghost",
        id=str(data.get("id") or ""),
        is_bot=data.get("type") == "Bot",
    )


def labels(data: dict[str, Any]) -> list[str]:
    """The label names of an issue or pull request."""
    return [label["name"] for label in data.get("labels") or []]


def repo_info(data: dict[str, Any]) -> RepoInfo:
    """A repository object."""
    return RepoInfo(
        full_name=data["full_name"],
        id=str(data["id"]),
        default_branch=data.get("default_branch") or "main",
        clone_url=data["clone_url"],
        html_url=data.get("html_url"),
        private=bool(data.get("private")),
    )


def issue(data: dict[str, Any]) -> Issue:
    """An issue object (a pull request read through the issues API works too)."""
    return Issue(
        number=data["number"],
        title=data["title"],
        body=data.get("body") or "",
        state=data.get("state", "open"),
        labels=labels(data),
        author=user(data["user"]),
        url=data.get("html_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def comment(data: dict[str, Any]) -> Comment:
    """An issue comment object."""
    return Comment(
        id=str(data["id"]),
        body=data.get("body") or "",
        author=user(data["user"]),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
        url=data.get("html_url"),
    )


def merge_request(data: dict[str, Any]) -> MergeRequest:
    """A pull request object (``merged`` when it has ``merged_at``)."""
    state = "merged" if data.get("merged_at") else data.get("state", "open")
    return MergeRequest(
        number=data["number"],
        title=data["title"],
        body=data.get("body") or "",
        state=state,
        draft=bool(data.get("draft")),
        head_ref=data["head"]["ref"],
        base_ref=data["base"]["ref"],
        head_sha=data["head"].get("sha"),
        labels=labels(data),
        author=user(data["user"]),
        url=data.get("html_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def review(data: dict[str, Any]) -> Review:
    """A submitted review (its state must be one of :data:`REVIEW_STATES`)."""
    return Review(
        id=str(data["id"]),
        author=user(data["user"]),
        state=REVIEW_STATES[data["state"]],
        body=data.get("body") or "",
        commit_id=data.get("commit_id"),
        submitted_at=data.get("submitted_at"),
    )


def status(sha: str, data: dict[str, Any]) -> CommitStatus:
    """A commit status object, for commit ``sha``."""
    return CommitStatus(
        sha=sha,
        state=CommitState(data["state"]),
        context=data.get("context") or "default",
        description=data.get("description") or "",
        target_url=data.get("target_url"),
    )


# Check runs: GitHub Actions (and other Apps) report here, not as commit statuses.
CHECK_STATUS = {
    "queued": CommitState.PENDING,
    "requested": CommitState.PENDING,
    "waiting": CommitState.PENDING,
    "pending": CommitState.PENDING,
    "in_progress": CommitState.RUNNING,
}
CHECK_CONCLUSION = {
    "success": CommitState.SUCCESS,
    "neutral": CommitState.SUCCESS,
    "skipped": CommitState.SUCCESS,
    "failure": CommitState.FAILURE,
    "timed_out": CommitState.FAILURE,
    "action_required": CommitState.FAILURE,
    "startup_failure": CommitState.FAILURE,
    "cancelled": CommitState.CANCELLED,
    "stale": CommitState.PENDING,
}


def check_run(sha: str, data: dict[str, Any]) -> CommitStatus:
    """A check run as a :class:`CommitStatus` (its context is the check's name).

    A completed run with a conclusion this adapter does not know reads as ``error``
    and an unknown status as ``pending``: neither ever passes a gate.
    """
    if data.get("status") == "completed":
        state = CHECK_CONCLUSION.get(data.get("conclusion") or "", CommitState.ERROR)
    else:
        state = CHECK_STATUS.get(data.get("status") or "", CommitState.PENDING)
    output = data.get("output") or {}
    return CommitStatus(
        sha=sha,
        state=state,
        context=data.get("name") or "check",
        description=output.get("title") or data.get("conclusion") or data.get("status") or "",
        target_url=data.get("details_url") or data.get("html_url"),
    )


def check_time(data: dict[str, Any]) -> str:
    """When a status or check run last changed (ISO text; compares in time order)."""
    return data.get("completed_at") or data.get("started_at") or data.get("updated_at") or ""
