"""The :class:`Forge` protocol and the value types it speaks.

A forge adapter is stateless: every call names the repository (``owner/name`` or
``group/sub/name``) and the issue or MR number explicitly. Adapters translate their
SDK's exceptions into :mod:`bot.errors` (``NotFound``, ``Forbidden``, ``RateLimited``,
``Conflict``, ``Unavailable``...). One contract suite (``tests/contract/``) runs
unchanged against every adapter.

Idempotent writes are built on the protocol here (``ensure_*``): they find the bot's
earlier write by a hidden HTML marker before creating another, so a retried job never
posts a second status comment or opens a second MR.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class Permission(IntEnum):
    """An actor's permission on a repository, on one scale for every forge.

    GitLab access levels map as Guest→READ, Reporter→TRIAGE, Developer→WRITE,
    Maintainer→MAINTAIN, Owner→ADMIN (Planner counts as TRIAGE).
    """

    NONE = 0
    READ = 10
    TRIAGE = 20
    WRITE = 30
    MAINTAIN = 40
    ADMIN = 50


class CommitState(StrEnum):
    """A commit status, as both forges understand it."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    CANCELLED = "cancelled"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class User(_Value):
    """A forge account."""

    login: str
    id: str = ""
    is_bot: bool = False


class Comment(_Value):
    """A comment (GitHub issue comment, GitLab note) on an issue or MR."""

    id: str
    body: str
    author: User
    created_at: datetime | None = None
    updated_at: datetime | None = None
    url: str | None = None


class Issue(_Value):
    """An issue."""

    number: int
    title: str
    body: str = ""
    state: str = "open"
    labels: list[str] = Field(default_factory=list)
    author: User
    url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class MergeRequest(_Value):
    """A merge (pull) request.

    ``state`` is ``open``, ``closed`` or ``merged``.
    """

    number: int
    title: str
    body: str = ""
    state: str = "open"
    draft: bool = False
    head_ref: str
    base_ref: str
    head_sha: str | None = None
    labels: list[str] = Field(default_factory=list)
    author: User
    url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Review(_Value):
    """A review or approval on an MR.

    ``state`` is one of ``approved``, ``changes_requested``, ``commented``,
    ``dismissed``. ``commit_id`` is the head the review was made on (None when the
    forge does not say): compare it with the MR's current head yourself.
    """

    id: str
    author: User
    state: str
    body: str = ""
    commit_id: str | None = None
    submitted_at: datetime | None = None


class CommitStatus(_Value):
    """A status reported on a commit by some context (CI job, the bot...)."""

    sha: str
    state: CommitState
    context: str
    description: str = ""
    target_url: str | None = None


class ReviewComment(_Value):
    """A comment on one line of an MR's diff (GitHub review comment, GitLab diff note).

    Attributes:
        id: The comment's id (GitHub review comment id, GitLab note id).
        path: The file it is on.
        line: The line in the new version (None when the forge gives none, e.g. an
            outdated comment).
        body: The text.
        author: Who wrote it.
        thread_id: The thread it belongs to (GitHub: the root comment's id; GitLab: the
            discussion id). Replies share it.
        in_reply_to: The comment it answers (None for a thread's first comment).
        review_id: The review it was submitted with, when the forge says.
        created_at: When it was written.
    """

    id: str
    path: str
    line: int | None = None
    body: str
    author: User
    thread_id: str
    in_reply_to: str | None = None
    review_id: str | None = None
    created_at: datetime | None = None


class RepoInfo(_Value):
    """A repository as the forge describes it."""

    full_name: str
    id: str = ""
    default_branch: str = "main"
    clone_url: str
    html_url: str | None = None
    private: bool = False


@runtime_checkable
class Forge(Protocol):
    """What AgentForge needs from a forge. Implemented by GitHub, GitLab and Local.

    Every method raises :class:`bot.errors.ForgeError` subclasses on failure.
    """

    name: str
    """``github``, ``gitlab`` or ``local``."""

    def get_repo(self, repo: str) -> RepoInfo:
        """Describe a repository."""
        ...

    def create_issue(
        self, repo: str, title: str, body: str = "", labels: list[str] | None = None
    ) -> Issue:
        """Open an issue."""
        ...

    def get_issue(self, repo: str, number: int) -> Issue:
        """Read one issue."""
        ...

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        """All comments on an issue or MR, oldest first."""
        ...

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        """Comment on an issue or MR."""
        ...

    def edit_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, is_mr: bool = False
    ) -> Comment:
        """Replace a comment's text."""
        ...

    def add_labels(
        self, repo: str, number: int, labels: list[str], *, is_mr: bool = False
    ) -> list[str]:
        """Add labels; returns the labels now on the issue or MR."""
        ...

    def remove_label(self, repo: str, number: int, label: str, *, is_mr: bool = False) -> list[str]:
        """Remove one label (absent is fine); returns the labels now present."""
        ...

    def add_reaction(
        self,
        repo: str,
        number: int,
        reaction: str,
        *,
        comment_id: str | None = None,
        is_mr: bool = False,
    ) -> None:
        """React (``+1``, ``eyes``, ``rocket``...) to an issue/MR or one of its comments."""
        ...

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        """Read one merge request."""
        ...

    def list_mrs(
        self, repo: str, *, state: str = "open", head: str | None = None
    ) -> list[MergeRequest]:
        """Merge requests in a state (``open``, ``closed``, ``merged``, ``all``), by branch."""
        ...

    def open_mr(
        self,
        repo: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str = "",
        draft: bool = False,
    ) -> MergeRequest:
        """Open a merge request from ``head`` into ``base``."""
        ...

    def update_mr(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> MergeRequest:
        """Change an MR's title, description or state (``open`` / ``closed``)."""
        ...

    def mark_ready(self, repo: str, number: int) -> MergeRequest:
        """Take an MR out of draft."""
        ...

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Reviews and approvals on an MR, oldest first."""
        ...

    def get_permission(self, repo: str, login: str) -> Permission:
        """An account's permission on the repository (``NONE`` when not a member)."""
        ...

    def is_team_member(self, repo: str, team: str, login: str) -> bool:
        """Whether ``login`` is an active member of ``team`` (a CODEOWNERS team owner).

        Args:
            repo: The repository the question is asked for (its owner's teams).
            team: GitHub ``org/team-slug``; a GitLab group's full path
                (``group/subgroup``; inherited memberships count); a local forge team.
            login: The account.

        Returns:
            True for an active member (GitHub's pending invitations are not members).

        Raises:
            NotFound: no such team or group (or the token may not see it).
            Forbidden: the token may not read the team's members.
        """
        ...

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        state: CommitState,
        *,
        context: str,
        description: str = "",
        target_url: str | None = None,
    ) -> CommitStatus:
        """Report a status on a commit."""
        ...

    def list_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """Statuses reported on a commit, latest per context."""
        ...

    def clone_url(self, repo: str) -> str:
        """A URL git can clone from and push to, with credentials embedded if needed."""
        ...

    def whoami(self) -> User:
        """The account the adapter acts as.

        Returns:
            The bot's own account: the token's user (GitHub ``GET /user``, GitLab
            ``GET /user``), a GitHub App installation's bot user (``<slug>[bot]``, with
            ``is_bot`` set), or the local forge's acting user.
        """
        ...

    def get_file(self, repo: str, path: str, *, ref: str) -> str | None:
        """The text of one file at a ref.

        Args:
            repo: The repository.
            path: Repository-relative path (``.agentforge/config.yaml``).
            ref: A branch, tag or commit sha.

        Returns:
            The file's text, or None when the file (or the ref) does not exist.

        Raises:
            InvalidRequest: the path is a directory, a symlink or submodule, or the
                file is not UTF-8 text (binary).
            NotFound: the repository does not exist.
        """
        ...

    def list_dir(self, repo: str, path: str, *, ref: str) -> list[str]:
        """The files directly inside a directory at a ref.

        Args:
            repo: The repository.
            path: Repository-relative directory (``.agentforge/roles``; ``""`` is the root).
            ref: A branch, tag or commit sha.

        Returns:
            Repository-relative paths of the files (not subdirectories) in the
            directory, sorted; ``[]`` when the directory or the ref does not exist
            (or ``path`` names a file).

        Raises:
            NotFound: the repository does not exist.
        """
        ...

    def list_mr_files(self, repo: str, number: int) -> list[str]:
        """The paths a merge request changes (both paths of a rename), sorted.

        Raises:
            NotFound: no such repository or merge request.
        """
        ...

    def update_issue(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> Issue:
        """Change an issue's title, description or state.

        Args:
            repo: The repository.
            number: The issue's number.
            title: New title (None keeps it).
            body: New description (None keeps it).
            state: ``open`` (reopen) or ``closed`` (close); None keeps it.

        Raises:
            InvalidRequest: ``state`` is not ``open`` or ``closed``; nothing is sent.
            NotFound: no such repository or issue.
        """
        ...

    def list_issues(
        self, repo: str, *, state: str = "open", labels: list[str] | None = None
    ) -> list[Issue]:
        """Issues (never merge requests) in a state, by number.

        Args:
            repo: The repository.
            state: ``open``, ``closed`` or ``all``.
            labels: Only issues carrying every one of these labels.

        Raises:
            InvalidRequest: an unknown ``state``; nothing is sent.
            NotFound: the repository does not exist.
        """
        ...

    def list_checks(self, repo: str, sha: str) -> list[CommitStatus]:
        """Everything CI reports about a commit, latest per context, by context.

        Commit statuses plus, on GitHub, the commit's check runs (GitHub Actions
        reports there, not as statuses; a check run's context is its name) and, on
        GitLab, the commit's newest pipeline (context ``pipeline``) besides its
        statuses and jobs. States map onto :class:`CommitState`: queued → pending,
        in progress → running, success/neutral/skipped → success,
        failure/timed out/action required → failure, cancelled → cancelled,
        stale → pending.

        Raises:
            NotFound: the repository does not exist.
        """
        ...

    def list_review_comments(
        self, repo: str, number: int, review_id: str | None = None
    ) -> list[ReviewComment]:
        """Line comments on an MR's diff, oldest first (only one review's, if given)."""
        ...

    def reply_to_review_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, thread_id: str | None = None
    ) -> Comment:
        """Reply in the thread of review comment ``comment_id`` (GitLab: its discussion,
        ``thread_id`` when known)."""
        ...

    def get_check_log(self, repo: str, sha: str, name: str) -> str | None:
        """The log (or output text) of the check ``name`` on ``sha``, tail-truncated to
        :data:`CHECK_LOG_CHARS`; None when the forge keeps none for it."""
        ...


CHECK_LOG_CHARS = 20_000
"""How much of a check's log :meth:`Forge.get_check_log` returns (the tail: failures
are at the end)."""


def tail(text: str, limit: int = CHECK_LOG_CHARS) -> str:
    """The last ``limit`` characters of ``text``, marked when cut."""
    if len(text) <= limit:
        return text
    return "[... earlier output cut ...]\n" + text[-limit:]


# --- idempotent writes built on the protocol ----------------------------------------

_MARKER_RE = re.compile(r"<!--\s*agentforge:([A-Za-z0-9_.:/-]+)\s*-->")


def marker(key: str) -> str:
    """A hidden HTML comment that identifies one bot-written comment or MR body."""
    if not re.fullmatch(r"[A-Za-z0-9_.:/-]+", key):
        raise ValueError(f"marker key {key!r} may only hold letters, digits and _.:/-")
    return f"<!-- agentforge:{key} -->"


def markers_in(text: str | None) -> set[str]:
    """Every marker key found in ``text``."""
    return set(_MARKER_RE.findall(text or ""))


def find_comment(
    forge: Forge,
    repo: str,
    number: int,
    key: str,
    *,
    is_mr: bool = False,
    author: str | None = None,
) -> Comment | None:
    """The first comment carrying marker ``key``, or None.

    Args:
        author: Only comments by this login count (case-insensitive). The bot passes
            its own login: a marker typed or copied into someone else's comment must
            never make the bot edit (or skip) that person's comment.
    """
    want = author.lower() if author else None
    for comment in forge.list_comments(repo, number, is_mr=is_mr):
        if want is not None and comment.author.login.lower() != want:
            continue
        if key in markers_in(comment.body):
            return comment
    return None


def ensure_comment(
    forge: Forge, repo: str, number: int, key: str, body: str, *, is_mr: bool = False
) -> Comment:
    """Create the comment marked ``key``, or edit it in place if it exists.

    The marker is appended to ``body`` if missing, so the next call finds it.
    """
    if key not in markers_in(body):
        body = f"{body}\n\n{marker(key)}"
    existing = find_comment(forge, repo, number, key, is_mr=is_mr)
    if existing is None:
        return forge.create_comment(repo, number, body, is_mr=is_mr)
    if existing.body == body:
        return existing
    return forge.edit_comment(repo, number, existing.id, body, is_mr=is_mr)


def ensure_mr(
    forge: Forge,
    repo: str,
    *,
    head: str,
    base: str,
    title: str,
    body: str = "",
    draft: bool = False,
) -> MergeRequest:
    """Open an MR from ``head`` into ``base`` unless an open one already exists."""
    for mr in forge.list_mrs(repo, state="open", head=head):
        if mr.head_ref == head and mr.base_ref == base:
            return mr
    return forge.open_mr(repo, head=head, base=base, title=title, body=body, draft=draft)
