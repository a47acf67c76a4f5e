"""Proposed actions: what handlers and agents *want* done on a forge.

Handlers and agents never write to a forge. They return a list of these; the policies
judge each one; a single executor in ``bot/`` applies what was allowed. Every action
names its repository and target explicitly so it can be judged and logged on its own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    repo: str
    reason: str = ""
    """Why the action is proposed (shown in the audit log)."""


class PostComment(_Action):
    """Post a comment; with ``marker_key``, create-or-edit the one marked comment."""

    type: Literal["comment"] = "comment"
    number: int
    is_mr: bool = False
    body: str
    marker_key: str | None = None


class AddLabels(_Action):
    """Add labels to an issue or MR."""

    type: Literal["add_labels"] = "add_labels"
    number: int
    is_mr: bool = False
    labels: list[str]


class RemoveLabel(_Action):
    """Remove one label from an issue or MR."""

    type: Literal["remove_label"] = "remove_label"
    number: int
    is_mr: bool = False
    label: str


class React(_Action):
    """React to an issue, MR or comment (acknowledges a command)."""

    type: Literal["react"] = "react"
    number: int
    is_mr: bool = False
    reaction: str
    comment_id: str | None = None


class FileChange(BaseModel):
    """One file written (``content`` set) or deleted (``content`` None)."""

    model_config = ConfigDict(frozen=True)

    path: str
    content: str | None


class PushCommit(_Action):
    """Commit file changes on a branch (created from ``base`` if missing) and push."""

    type: Literal["push_commit"] = "push_commit"
    branch: str
    base: str
    message: str
    changes: list[FileChange]
    trailers: dict[str, str] = Field(default_factory=dict)


class OpenMR(_Action):
    """Open an MR from ``head`` into ``base`` (idempotent: reuses an open one)."""

    type: Literal["open_mr"] = "open_mr"
    head: str
    base: str
    title: str
    body: str = ""
    draft: bool = True


class UpdateMR(_Action):
    """Change an MR's title, description or state."""

    type: Literal["update_mr"] = "update_mr"
    number: int
    title: str | None = None
    body: str | None = None
    state: str | None = None


class UpdateIssue(_Action):
    """Change an issue's title, description or state (``open`` / ``closed``).

    Fields left None are kept; applying it again once the issue is as wanted writes
    nothing.
    """

    type: Literal["update_issue"] = "update_issue"
    number: int
    title: str | None = None
    body: str | None = None
    state: Literal["open", "closed"] | None = None


class MarkReady(_Action):
    """Take an MR out of draft."""

    type: Literal["mark_ready"] = "mark_ready"
    number: int


class SetCommitStatus(_Action):
    """Report a status on a commit."""

    type: Literal["commit_status"] = "commit_status"
    sha: str
    state: str
    context: str
    description: str = ""
    target_url: str | None = None


LESSONS_PATH = ".agentforge/lessons.md"
"""The one file under ``.agentforge/`` the bot itself proposes changes to."""


class ReplyToReviewComment(_Action):
    """Reply in the thread of a line comment on an MR (idempotent with ``marker_key``:
    a reply in that thread carrying the marker is not posted again)."""

    type: Literal["reply_review_comment"] = "reply_review_comment"
    number: int
    comment_id: str
    thread_id: str | None = None
    body: str
    marker_key: str | None = None


class ProposeLesson(_Action):
    """The engine's own commit of ``.agentforge/lessons.md`` on a run's branch.

    ``.agentforge/**`` is protected from roles; this action is the one exception, and
    only for :data:`LESSONS_PATH` (the action has no path field: it cannot name
    another file). It lands on the run's branch, so it reaches the default branch only
    through a person merging the MR, like any other change.
    """

    type: Literal["propose_lesson"] = "propose_lesson"
    branch: str
    base: str
    content: str
    message: str
    trailers: dict[str, str] = Field(default_factory=dict)

    @property
    def path(self) -> str:
        """The file written: always :data:`LESSONS_PATH`."""
        return LESSONS_PATH


Action = Annotated[
    PostComment
    | AddLabels
    | RemoveLabel
    | React
    | PushCommit
    | OpenMR
    | UpdateMR
    | UpdateIssue
    | MarkReady
    | SetCommitStatus
    | ReplyToReviewComment
    | ProposeLesson,
    Field(discriminator="type"),
]
"""Any proposed action (a tagged union on ``type``)."""
