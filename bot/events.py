"""The forge-neutral :class:`Event`: what every handler sees, whatever forge sent it.

GitHub, GitLab and the local forge all produce these (parsers live in
:mod:`bot.parsers`). Handlers cannot tell which forge an event came from except by
reading :attr:`Event.forge`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BOT_BRANCH_PREFIX = "agentforge/issue-"
"""The bot's branch for issue N is ``agentforge/issue-N`` (see :func:`bot_branch`)."""

_BOT_BRANCH = re.compile(r"agentforge/issue-([1-9][0-9]*)")


def bot_branch(issue_number: int) -> str:
    """The one branch the bot works on for an issue: ``agentforge/issue-<N>``."""
    return f"{BOT_BRANCH_PREFIX}{int(issue_number)}"


def issue_of_branch(branch: str | None) -> int | None:
    """The issue number of a bot branch name (``agentforge/issue-7`` -> 7), else None."""
    if not branch:
        return None
    if branch.startswith("refs/heads/"):
        branch = branch[len("refs/heads/") :]
    match = _BOT_BRANCH.fullmatch(branch)
    return int(match.group(1)) if match else None


class ForgeKind(StrEnum):
    """Which forge an event or a repository belongs to."""

    GITHUB = "github"
    GITLAB = "gitlab"
    LOCAL = "local"


class EventKind(StrEnum):
    """What happened, independent of the forge's own event names.

    ``action`` on the :class:`Event` refines the kind (``opened``, ``merged``...).
    """

    ISSUE = "issue"
    """An issue was opened, edited, labeled, unlabeled, closed, reopened..."""
    ISSUE_COMMENT = "issue_comment"
    """A comment on an issue was created, edited or deleted."""
    MR = "merge_request"
    """A merge (pull) request was opened, updated, closed, merged, reopened..."""
    MR_COMMENT = "mr_comment"
    """A comment on a merge request (conversation or line comment)."""
    MR_REVIEW = "mr_review"
    """A review was submitted / an approval given or revoked."""
    PUSH = "push"
    """Commits or a tag were pushed, or a ref was created or deleted."""
    PIPELINE = "pipeline"
    """A CI pipeline, job, check run/suite or commit status changed."""
    CONTINUE = "continue"
    """Internal: drive an issue's run in a heavy job, as a light job asked
    (:mod:`bot.jobs.followups`); never parsed from a webhook."""
    PING = "ping"
    """The forge tests the webhook."""
    RECONCILE = "reconcile"
    """Synthetic, from the bot itself: sweep one repository's runs (missed events, stuck
    runs). See :mod:`bot.jobs.reconcile`."""
    IGNORED = "ignored"
    """Anything the bot does not act on; :attr:`Event.reason` says why."""


class ReviewState(StrEnum):
    """The verdict of a merge-request review."""

    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    COMMENTED = "commented"
    DISMISSED = "dismissed"
    UNAPPROVED = "unapproved"


class RepoRef(BaseModel):
    """The repository an event concerns.

    Attributes:
        full_name: ``owner/name`` (GitHub) or ``group/subgroup/name`` (GitLab).
        id: The forge's numeric id, as a string (``""`` when the payload has none).
        clone_url: HTTPS (or file) URL to clone from.
        default_branch: The default branch, where config is read from.
        html_url: Web URL of the repository.
    """

    model_config = ConfigDict(frozen=True)

    full_name: str
    id: str = ""
    clone_url: str | None = None
    default_branch: str | None = None
    html_url: str | None = None


class Actor(BaseModel):
    """Who caused the event.

    Attributes:
        login: Username (GitHub login, GitLab username).
        id: The forge's numeric user id, as a string.
        is_bot: True for apps, bots and service accounts.
        name: Display name when the payload carries one.
    """

    model_config = ConfigDict(frozen=True)

    login: str
    id: str = ""
    is_bot: bool = False
    name: str | None = None


class Event(BaseModel):
    """One thing that happened on a forge, normalised.

    Attributes:
        forge: Which forge sent it.
        kind: What kind of thing happened.
        action: Refinement of ``kind`` (``opened``, ``created``, ``merged``, ``success``...).
        event_name: The forge's own event name (``X-GitHub-Event`` / ``X-Gitlab-Event``).
        delivery_id: The forge's delivery id, when known.
        repo: The repository.
        actor: Who caused it.
        number: Issue number or MR number/iid, or None.
        is_mr: True when ``number`` names a merge request (also for MR comments).
        title: Issue or MR title.
        body: Issue or MR description.
        comment: Comment text (for comment kinds), else None.
        comment_id: Comment id, as a string.
        labels: Labels on the issue or MR after the event.
        label: The label added or removed (for ``labeled`` / ``unlabeled``).
        state: ``open``, ``closed`` or ``merged`` for issues and MRs.
        draft: Whether the MR is a draft.
        head_ref: MR source branch, or the pushed ref's branch/tag name.
        from_fork: The MR's source branch lives in another repository (a fork, or a
            deleted one); its branch name says nothing about the bot's runs.
        base_ref: MR target branch.
        head_sha: MR head commit, the pushed ``after`` commit, or the pipeline's commit.
        base_sha: MR base commit, or the pushed ``before`` commit.
        ref: Full pushed ref (``refs/heads/main``) for pushes.
        review_state: Verdict for review events.
        pipeline_status: Normalised status for pipeline events
            (``pending``, ``running``, ``success``, ``failure``, ``cancelled``, ``skipped``).
        pipeline_name: Check, workflow, job or status context name.
        url: Web URL of the issue, MR, comment or pipeline.
        object_id: Id of the changed object (comment, issue, MR, review, pipeline, commit).
        updated_at: When that object last changed, as the forge reported it.
        reason: Why the event is ignored (only for ``kind == ignored``).
        raw: The payload as received.
    """

    model_config = ConfigDict(frozen=True)

    forge: ForgeKind
    kind: EventKind
    action: str = ""
    event_name: str = ""
    delivery_id: str | None = None
    repo: RepoRef
    actor: Actor
    number: int | None = None
    is_mr: bool = False
    title: str | None = None
    body: str | None = None
    comment: str | None = None
    comment_id: str | None = None
    labels: list[str] = Field(default_factory=list)
    label: str | None = None
    state: str | None = None
    draft: bool | None = None
    head_ref: str | None = None
    from_fork: bool = False
    base_ref: str | None = None
    head_sha: str | None = None
    base_sha: str | None = None
    ref: str | None = None
    review_state: ReviewState | None = None
    pipeline_status: str | None = None
    pipeline_name: str | None = None
    url: str | None = None
    object_id: str | None = None
    updated_at: datetime | str | None = None
    reason: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    def content_key(self) -> str:
        """A key that is equal for the same change delivered twice.

        The same change can reach the bot under different delivery ids (a repository
        webhook and an App webhook, or a person pressing "Redeliver" on a copy), so
        dedupe also keys on what changed: forge, repository, object, its update time,
        the kind of change, and (for pushes) the ref.
        """
        parts = [
            self.forge.value,
            self.repo.id or self.repo.full_name,
            self.event_name,
            self.kind.value,
            self.action,
            self.object_id or "",
            str(self.updated_at or ""),
            self.label or "",
            # Pushes: the same commit can be pushed to (or a ref deleted from) several refs.
            self.ref or "",
            self.head_sha or "",
            self.pipeline_status or "",
            (self.review_state.value if self.review_state else ""),
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def subject(self) -> str | None:
        """The serialisation key for ordering: jobs with the same subject run one at a time.

        An issue and the bot's MR for it share one subject: an MR, push or pipeline
        event on the bot's branch ``agentforge/issue-<N>`` gets the subject of issue N
        (events that carry only an MR number are mapped by :mod:`bot.jobs.subjects`).
        ``None`` when the event concerns no issue or MR (other pushes, pings), which
        may run in parallel with anything.
        """
        issue = self.bot_branch_issue()
        if issue is not None:
            return f"{self.forge.value}:{self.repo.full_name}:issue:{issue}"
        if self.number is None:
            return None
        kind = "mr" if self.is_mr else "issue"
        return f"{self.forge.value}:{self.repo.full_name}:{kind}:{self.number}"

    def bot_branch_issue(self) -> int | None:
        """The issue whose bot branch this MR, review, push or pipeline event is on."""
        if self.kind not in _BRANCH_KINDS:
            return None
        if self.kind == EventKind.PUSH and self.ref and not self.ref.startswith("refs/heads/"):
            return None  # a tag that happens to look like a bot branch
        return issue_of_branch(self.head_ref)

    def summary(self) -> dict[str, Any]:
        """The event as plain JSON-able data, without the raw payload."""
        return self.model_dump(mode="json", exclude={"raw"})


_BRANCH_KINDS = frozenset(
    {EventKind.MR, EventKind.MR_COMMENT, EventKind.MR_REVIEW, EventKind.PUSH, EventKind.PIPELINE}
)
