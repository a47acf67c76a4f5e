"""The GitLab adapter: the :class:`bot.forge.Forge` protocol over GitLab's REST API v4.

python-gitlab provides the client (token headers, URL building, the HTTP session,
its exception types) for gitlab.com or a self-managed base URL; a personal, project or
group access token with the ``api`` scope (plus ``write_repository`` to push). Its own
retry loop is switched off so :mod:`bot.forges.resilience` applies one bounded policy
to both forges. The adapter class is here; its helpers are :mod:`bot.forges.gitlab_http`
(requests, retries, pagination, error mapping), :mod:`bot.forges.gitlab_convert`
(JSON → value types), :mod:`bot.forges.gitlab_reviews` (system notes → reviews) and
:mod:`bot.forges.gitlab_contents` (files at a ref, MR files, issue lists, pipelines).

Sharp edges handled here: a project is addressed by its URL-encoded full path; a draft
MR is a ``Draft:`` title prefix, so "ready" means editing the title; a note made only of
quick actions is not stored (GitLab answers 202 and acts on it); approving an MR twice
answers 401, which is not a bad token (:meth:`GitLabForge.approve_mr`); access levels
map onto :class:`bot.forge.Permission`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from bot.errors import AuthenticationError, Forbidden, InvalidRequest, NotFound, SettingsError
from bot.forge import (
    Comment,
    CommitState,
    CommitStatus,
    Issue,
    MergeRequest,
    Permission,
    RepoInfo,
    Review,
    ReviewComment,
)
from bot.forges import gitlab_convert as convert
from bot.forges import gitlab_threads as threads
from bot.forges._common import (
    LIST_STATES,
    SET_STATES,
    check_path,
    open_mr_between,
    own_comment,
    require_state,
    with_credentials,
)
from bot.forges.gitlab_contents import GitLabContents
from bot.forges.gitlab_convert import DRAFT_RE, permission_for
from bot.forges.gitlab_http import FORGE, GitLabSession
from bot.forges.gitlab_reviews import reviews_from
from bot.forges.resilience import RetryPolicy

__all__ = ["DRAFT_RE", "FORGE", "GitLabForge", "permission_for"]

_PATH_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")


class GitLabForge(GitLabContents):
    """GitLab (gitlab.com or self-managed) through an access token.

    Args:
        token: A personal, project or group access token.
        base_url: The instance, e.g. ``https://gitlab.com`` (no ``/api/v4``).
        bot_login: The account the bot writes as (asked of ``GET /user`` if unset).
        policy: Retries, backoff and request timeout.
        clock: Epoch seconds, for ``RateLimit-Reset``.
    """

    name = FORGE

    def __init__(
        self,
        *,
        token: str | None,
        base_url: str = "https://gitlab.com",
        bot_login: str | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise SettingsError(
                "gitlab: set AGENTFORGE_GITLAB_TOKEN (an access token with the api scope)",
                variable="AGENTFORGE_GITLAB_TOKEN",
            )
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._bot_login = bot_login
        self._http = GitLabSession(
            self.base_url, token, policy=policy or RetryPolicy(), clock=clock
        )

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> GitLabForge:
        """Build the adapter from :class:`bot.settings.Settings` (kwargs override)."""
        options: dict[str, Any] = {
            "token": settings.gitlab_token.get_secret_value() if settings.gitlab_token else None,
            "base_url": settings.gitlab_url,
            "bot_login": settings.bot_login,
        }
        options.update(kwargs)
        return cls(**options)

    @property
    def http(self) -> GitLabSession:
        """The authenticated API session, for calls outside the Forge protocol
        (handing a job to a pipeline trigger, :mod:`bot.jobs.ci_dispatch`)."""
        return self._http

    def project_path(self, repo: str) -> str:
        """The API path of a project (``/projects/<url-encoded path>``)."""
        return self._pid(repo)

    @staticmethod
    def _pid(repo: str) -> str:
        check_path(repo, _PATH_RE, forge=FORGE, what="a group/project path")
        return "/projects/" + quote(repo, safe="")

    def _noteable(self, repo: str, number: int, is_mr: bool) -> str:
        kind = "merge_requests" if is_mr else "issues"
        return f"{self._pid(repo)}/{kind}/{int(number)}"

    def bot_login(self) -> str:
        """The bot's username: configured, or asked of ``GET /user``."""
        if self._bot_login is None:
            self._bot_login = self._http.get("/user", "reading the authenticated user")["username"]
        return self._bot_login

    # --- connection checks (agentforge doctor)

    def check_credentials(self) -> tuple[str, set[str] | None]:
        """The token's user and its scopes, None when the instance does not say (``doctor``)."""
        login = self._http.get("/user", "checking the token")["username"]
        self._bot_login = self._bot_login or login
        try:
            info = self._http.get("/personal_access_tokens/self", "reading the token's scopes")
        except (NotFound, Forbidden):  # older instances, or tokens that cannot see themselves
            return login, None
        return login, set(info.get("scopes") or [])

    def access_level(self, repo: str) -> int:
        """The token user's effective access level on the project (0 when none)."""
        data = self._http.get(self._pid(repo), f"reading project {repo}")
        perms = data.get("permissions") or {}
        levels = [
            (perms.get(kind) or {}).get("access_level") or 0
            for kind in ("project_access", "group_access")
        ]
        return max(levels)

    # --- projects and issues

    def get_repo(self, repo: str) -> RepoInfo:
        """Describe a project."""
        return convert.repo_info(self._http.get(self._pid(repo), f"reading project {repo}"))

    def create_issue(
        self, repo: str, title: str, body: str = "", labels: list[str] | None = None
    ) -> Issue:
        """Open an issue."""
        post = {"title": title, "description": body, "labels": ",".join(labels or [])}
        resp = self._http.send(
            "post", f"{self._pid(repo)}/issues", f"opening an issue on {repo}", post=post
        )
        return convert.issue(resp.json())

    def get_issue(self, repo: str, number: int) -> Issue:
        """Read one issue."""
        return convert.issue(
            self._http.get(
                f"{self._pid(repo)}/issues/{int(number)}", f"reading issue {repo}#{number}"
            )
        )

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        """All user notes on an issue or MR, oldest first (system notes left out)."""
        data = self._http.get_all(
            f"{self._noteable(repo, number, is_mr)}/notes",
            f"listing notes on {repo}{'!' if is_mr else '#'}{number}",
            sort="asc",
            order_by="created_at",
        )
        return [convert.comment(n) for n in data if not n.get("system")]

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        """Add a note (never twice, even across retries)."""
        ref = f"{repo}{'!' if is_mr else '#'}{number}"
        operation = f"commenting on {ref}"

        def recover() -> Comment | None:
            comments = self.list_comments(repo, number, is_mr=is_mr)
            return own_comment(comments, body, self.bot_login())

        resp = self._http.send(
            "post",
            f"{self._noteable(repo, number, is_mr)}/notes",
            operation,
            post={"body": body},
            recover=recover,
        )
        if isinstance(resp, Comment):
            return resp
        data = resp.json()
        if resp.status_code == 202 or "id" not in data:
            raise InvalidRequest(
                f"{operation} on gitlab: the text holds only quick actions, which GitLab ran "
                "instead of storing a note",
                forge=FORGE,
                operation=operation,
            )
        return convert.comment(data)

    def edit_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, is_mr: bool = False
    ) -> Comment:
        """Replace a note's text."""
        resp = self._http.send(
            "put",
            f"{self._noteable(repo, number, is_mr)}/notes/{int(comment_id)}",
            f"editing note {comment_id} on {repo}",
            post={"body": body},
        )
        return convert.comment(resp.json())

    def _relabel(self, repo: str, number: int, is_mr: bool, key: str, labels: list[str]) -> list:
        resp = self._http.send(
            "put",
            self._noteable(repo, number, is_mr),
            f"changing labels of {repo}{'!' if is_mr else '#'}{number}",
            post={key: ",".join(labels)},
        )
        return list(resp.json().get("labels") or [])

    def add_labels(
        self, repo: str, number: int, labels: list[str], *, is_mr: bool = False
    ) -> list[str]:
        """Add labels; returns the labels now present."""
        return self._relabel(repo, number, is_mr, "add_labels", labels)

    def remove_label(self, repo: str, number: int, label: str, *, is_mr: bool = False) -> list[str]:
        """Remove one label (absent is fine); returns the labels now present."""
        return self._relabel(repo, number, is_mr, "remove_labels", [label])

    def add_reaction(
        self,
        repo: str,
        number: int,
        reaction: str,
        *,
        comment_id: str | None = None,
        is_mr: bool = False,
    ) -> None:
        """Award an emoji (GitHub reaction names are translated), once."""
        path = self._noteable(repo, number, is_mr)
        if comment_id is not None:
            path += f"/notes/{int(comment_id)}"
        path += "/award_emoji"
        name = convert.EMOJI.get(reaction, reaction)
        operation = f"reacting {name} on {repo}{'!' if is_mr else '#'}{number}"

        def mine() -> bool:
            login = self.bot_login()
            return any(
                a["name"] == name and a["user"]["username"] == login
                for a in self._http.get_all(path, operation)
            )

        if mine():  # GitLab refuses a second identical award
            return
        self._http.send(
            "post", path, operation, post={"name": name}, recover=lambda: True if mine() else None
        )

    # --- merge requests

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        """Read one merge request."""
        return convert.merge_request(
            self._http.get(
                f"{self._pid(repo)}/merge_requests/{int(number)}",
                f"reading merge request {repo}!{number}",
            )
        )

    def list_mrs(
        self, repo: str, *, state: str = "open", head: str | None = None
    ) -> list[MergeRequest]:
        """Merge requests in a state (``open``, ``closed``, ``merged``, ``all``), by branch."""
        require_state(
            state, LIST_STATES, forge=FORGE, operation=f"listing merge requests of {repo}"
        )
        query: dict[str, Any] = {"state": convert.MR_STATES[state]}
        if head:
            query["source_branch"] = head
        data = self._http.get_all(
            f"{self._pid(repo)}/merge_requests", f"listing merge requests of {repo}", **query
        )
        return sorted((convert.merge_request(m) for m in data), key=lambda m: m.number)

    def open_mr(
        self, repo: str, *, head: str, base: str, title: str, body: str = "", draft: bool = False
    ) -> MergeRequest:
        """Open a merge request (a retry after an unclear failure finds the first one)."""
        if draft and not DRAFT_RE.match(title):
            title = f"Draft: {title}"
        post = {"source_branch": head, "target_branch": base, "title": title, "description": body}

        def recover() -> MergeRequest | None:
            return open_mr_between(self.list_mrs(repo, state="open", head=head), base)

        resp = self._http.send(
            "post",
            f"{self._pid(repo)}/merge_requests",
            f"opening a merge request {head} -> {base} on {repo}",
            post=post,
            recover=recover,
        )
        return resp if isinstance(resp, MergeRequest) else convert.merge_request(resp.json())

    def update_mr(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> MergeRequest:
        """Change an MR's title (a draft stays a draft), description or state."""
        events = {"open": "reopen", "closed": "close"}
        if state is not None:
            require_state(state, SET_STATES, forge=FORGE, operation=f"updating {repo}!{number}")
        post: dict[str, Any] = {}
        if title is not None:
            if self.get_mr(repo, number).draft and not DRAFT_RE.match(title):
                title = f"Draft: {title}"
            post["title"] = title
        if body is not None:
            post["description"] = body
        if state is not None:
            post["state_event"] = events[state]
        resp = self._http.send(
            "put",
            f"{self._pid(repo)}/merge_requests/{int(number)}",
            f"updating merge request {repo}!{number}",
            post=post,
        )
        return convert.merge_request(resp.json())

    def mark_ready(self, repo: str, number: int) -> MergeRequest:
        """Take an MR out of draft by removing the title's draft prefix."""
        data = self._http.get(
            f"{self._pid(repo)}/merge_requests/{int(number)}",
            f"reading merge request {repo}!{number}",
        )
        if not DRAFT_RE.match(data["title"]):
            return convert.merge_request(data)
        resp = self._http.send(
            "put",
            f"{self._pid(repo)}/merge_requests/{int(number)}",
            f"marking merge request {repo}!{number} ready",
            post={"title": DRAFT_RE.sub("", data["title"], count=1)},
        )
        return convert.merge_request(resp.json())

    def approve_mr(self, repo: str, number: int) -> None:
        """Approve an MR as the bot; approving again is not an error.

        GitLab answers a second approval with 401: that is read as "already approved"
        when the approvals say so, and as a bad token otherwise.
        """
        path = f"{self._pid(repo)}/merge_requests/{int(number)}"
        try:
            self._http.send("post", f"{path}/approve", f"approving merge request {repo}!{number}")
        except AuthenticationError:
            approvals = self._http.get(f"{path}/approvals", f"reading approvals of {repo}!{number}")
            if not approvals.get("user_has_approved"):
                raise

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Review verdicts, oldest first, each with the head it was given on.

        GitLab records a verdict as a system note ("approved this merge request",
        "requested changes"...) and keeps no commit id on it, so the commit is the head
        of the MR's diff version current when the note was written; the body is the
        reviewer's summary note written just before the verdict.
        """
        path = f"{self._pid(repo)}/merge_requests/{int(number)}"
        ref = f"{repo}!{number}"
        versions = self._http.get_all(f"{path}/versions", f"reading versions of {ref}")
        notes = self._http.get_all(
            f"{path}/notes", f"reading notes of {ref}", sort="asc", order_by="created_at"
        )
        return reviews_from(notes, versions)

    def get_permission(self, repo: str, login: str) -> Permission:
        """A user's access level on the project, inherited ones included."""
        users = self._http.get("/users", f"looking up user {login}", username=login)
        if not users:
            self.get_repo(repo)
            return Permission.NONE
        try:
            member = self._http.get(
                f"{self._pid(repo)}/members/all/{int(users[0]['id'])}",
                f"reading {login}'s access to {repo}",
            )
        except NotFound:
            self.get_repo(repo)  # raises NotFound when the project is what is missing
            return Permission.NONE
        return permission_for(member.get("access_level"))

    def is_team_member(self, repo: str, team: str, login: str) -> bool:
        """Whether ``login`` is an active member of group ``team`` (its full path),
        memberships inherited from parent groups included."""
        self._pid(repo)
        group = "/groups/" + quote(team.strip("@"), safe="")
        users = self._http.get("/users", f"looking up user {login}", username=login)
        if not users:
            self._http.get(group, f"reading group {team}")  # NotFound: no such group
            return False
        try:
            member = self._http.get(
                f"{group}/members/all/{int(users[0]['id'])}",
                f"reading {login}'s membership of group {team}",
            )
        except NotFound:
            self._http.get(group, f"reading group {team}")  # NotFound: no such group
            return False
        # An invitation not yet accepted is ``membership_state: awaiting``.
        return member.get("membership_state", "active") == "active"

    # --- commit statuses

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
        """Report a commit status (``error`` is ``failed`` on GitLab)."""
        post = {
            "state": convert.TO_GITLAB_STATE[CommitState(state)],
            "name": context,
            "description": description,
        }
        if target_url:
            post["target_url"] = target_url
        resp = self._http.send(
            "post",
            f"{self._pid(repo)}/statuses/{sha}",
            f"setting status {context!r} on {repo}@{sha[:12]}",
            post=post,
        )
        return convert.status(sha, resp.json())

    def list_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """The latest status per context on a commit."""
        data = self._http.get_all(
            f"{self._pid(repo)}/repository/commits/{sha}/statuses",
            f"reading statuses of {repo}@{sha[:12]}",
            all="true",
        )
        latest: dict[str, CommitStatus] = {}
        for item in sorted(data, key=lambda s: (s.get("created_at") or "", s.get("id", 0))):
            latest[item["name"]] = convert.status(sha, item)
        return list(latest.values())

    def clone_url(self, repo: str) -> str:
        """The project's HTTPS clone URL with the token embedded (``oauth2:<token>``)."""
        url = self.get_repo(repo).clone_url
        return with_credentials(url, "oauth2", self._token)

    # --- diff-note threads and job logs (bot/forges/gitlab_threads.py)

    def list_review_comments(
        self, repo: str, number: int, review_id: str | None = None
    ) -> list[ReviewComment]:
        """Diff notes on an MR, oldest first (GitLab keeps no review ids: a review id
        matches nothing)."""
        path = self._noteable(repo, number, True)
        discussions = self._http.get_all(
            f"{path}/discussions", f"reading discussions of {repo}!{number}"
        )
        comments = threads.review_comments(discussions)
        return comments if review_id is None else [c for c in comments if c.review_id == review_id]

    def reply_to_review_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, thread_id: str | None = None
    ) -> Comment:
        """Reply in the discussion of diff note ``comment_id`` (``thread_id`` saves a read)."""
        discussion = thread_id or threads.discussion_of(
            self.list_review_comments(repo, number), comment_id
        )
        path = self._noteable(repo, number, True)
        return threads.reply(self._http, path, f"{repo}!{number}", discussion, body)

    def get_check_log(self, repo: str, sha: str, name: str) -> str | None:
        """The trace of job ``name`` in the commit's newest pipeline (tail-truncated)."""
        return threads.check_log(self._http, self._pid(repo), repo, sha, name)
