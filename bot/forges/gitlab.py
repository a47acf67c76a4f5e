"""The GitLab adapter: the :class:`bot.forge.Forge` protocol over GitLab's REST API v4.

python-gitlab provides the client (token headers, URL building, the HTTP session,
its exception types) for gitlab.com or a self-managed base URL; a personal, project or
group access token with the ``api`` scope (plus ``write_repository`` to push). Its own
retry loop is switched off so :mod:`bot.forges.resilience` applies one bounded policy
to both forges.

Sharp edges handled here: a project is addressed by its URL-encoded full path; a draft
MR is a ``Draft:`` title prefix, so "ready" means editing the title; a note made only of
quick actions is not stored (GitLab answers 202 and acts on it); approving an MR twice
answers 401, which is not a bad token (:meth:`GitLabForge.approve_mr`); access levels
map onto :class:`bot.forge.Permission`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import gitlab
import requests

from bot.errors import (
    AuthenticationError,
    Forbidden,
    ForgeError,
    InvalidRequest,
    NotFound,
    SettingsError,
    Unavailable,
)
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
from bot.forges.resilience import RetryPolicy, call_with_retries, error_for_status, short_detail

FORGE = "gitlab"
DRAFT_RE = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s|draft\s|wip:)\s*", re.I)
_PATH_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")
_TO_GITLAB_STATE = {
    CommitState.PENDING: "pending",
    CommitState.RUNNING: "running",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
    CommitState.ERROR: "failed",
    CommitState.CANCELLED: "canceled",
}
_FROM_GITLAB_STATE = {
    "pending": CommitState.PENDING,
    "created": CommitState.PENDING,
    "running": CommitState.RUNNING,
    "success": CommitState.SUCCESS,
    "failed": CommitState.FAILURE,
    "canceled": CommitState.CANCELLED,
    "skipped": CommitState.CANCELLED,
}
# GitHub's reaction names (what handlers use) → GitLab award emoji names.
_EMOJI = {"+1": "thumbsup", "-1": "thumbsdown", "laugh": "laughing", "hooray": "tada"}
# System notes GitLab writes for review verdicts.
_VERDICTS = {
    "approved this merge request": "approved",
    "requested changes": "changes_requested",
    "left a review": "commented",
    "unapproved this merge request": "dismissed",
}
_MR_STATES = {"open": "opened", "closed": "closed", "merged": "merged", "all": "all"}


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


class GitLabForge:
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
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._bot_login = bot_login
        self._last = threading.local()
        self._gl = gitlab.Gitlab(
            self.base_url,
            private_token=token,
            timeout=self._policy.timeout,
            retry_transient_errors=False,
            keep_base_url=True,
        )
        # python-gitlab's errors carry no headers; keep the last response's for Retry-After.
        self._gl.session.hooks["response"].append(self._remember)

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

    # --- HTTP

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.headers = dict(response.headers)

    def _send(
        self,
        verb: str,
        path: str,
        operation: str,
        *,
        query: dict[str, Any] | None = None,
        post: dict[str, Any] | None = None,
        recover: Callable[[], Any] | None = None,
    ) -> Any:
        def once() -> requests.Response:
            self._last.headers = {}
            try:
                return self._gl.http_request(
                    verb,
                    path,
                    query_data=query,
                    post_data=post,
                    obey_rate_limit=False,
                    retry_transient_errors=False,
                    max_retries=0,
                )
            except gitlab.exceptions.GitlabError as exc:
                detail = short_detail(exc.error_message)
                if exc.response_code in (401, 403):
                    detail = "; ".join(filter(None, [detail, _scope_hint(exc.response_body)]))
                raise error_for_status(
                    exc.response_code or 0,
                    forge=FORGE,
                    operation=operation,
                    headers=getattr(self._last, "headers", {}),
                    detail=detail,
                    now=self._clock,
                ) from None
            except requests.RequestException as exc:
                raise Unavailable(
                    f"{operation} on gitlab: {type(exc).__name__}", forge=FORGE, operation=operation
                ) from exc

        return call_with_retries(self._policy, once, recover=recover)

    def _get(self, path: str, operation: str, **query: Any) -> Any:
        return self._send("get", path, operation, query=query or None).json()

    def _get_all(self, path: str, operation: str, **query: Any) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            resp = self._send(
                "get", path, operation, query={**query, "per_page": 100, "page": page}
            )
            items.extend(resp.json())
            following = resp.headers.get("X-Next-Page")
            if not following:
                return items
            page = int(following)

    @staticmethod
    def _pid(repo: str) -> str:
        if not _PATH_RE.fullmatch(repo or "") or {".", ".."} & set(repo.split("/")):
            raise InvalidRequest(
                f"gitlab: {repo!r} is not a group/project path",
                forge=FORGE,
                operation="checking a project path",
            )
        return "/projects/" + quote(repo, safe="")

    def _noteable(self, repo: str, number: int, is_mr: bool) -> str:
        kind = "merge_requests" if is_mr else "issues"
        return f"{self._pid(repo)}/{kind}/{int(number)}"

    def bot_login(self) -> str:
        """The bot's username: configured, or asked of ``GET /user``."""
        if self._bot_login is None:
            self._bot_login = self._get("/user", "reading the authenticated user")["username"]
        return self._bot_login

    # --- connection checks (agentforge doctor)

    def whoami(self) -> tuple[str, set[str] | None]:
        """The token's user and its scopes (None when the instance does not say)."""
        login = self._get("/user", "checking the token")["username"]
        self._bot_login = self._bot_login or login
        try:
            info = self._get("/personal_access_tokens/self", "reading the token's scopes")
        except (NotFound, Forbidden):  # older instances, or tokens that cannot see themselves
            return login, None
        return login, set(info.get("scopes") or [])

    def access_level(self, repo: str) -> int:
        """The token user's effective access level on the project (0 when none)."""
        data = self._get(self._pid(repo), f"reading project {repo}")
        perms = data.get("permissions") or {}
        levels = [
            (perms.get(kind) or {}).get("access_level") or 0
            for kind in ("project_access", "group_access")
        ]
        return max(levels)

    # --- projects and issues

    def get_repo(self, repo: str) -> RepoInfo:
        """Describe a project."""
        data = self._get(self._pid(repo), f"reading project {repo}")
        return RepoInfo(
            full_name=data["path_with_namespace"],
            id=str(data["id"]),
            default_branch=data.get("default_branch") or "main",
            clone_url=data["http_url_to_repo"],
            html_url=data.get("web_url"),
            private=data.get("visibility") != "public",
        )

    def create_issue(
        self, repo: str, title: str, body: str = "", labels: list[str] | None = None
    ) -> Issue:
        """Open an issue."""
        post = {"title": title, "description": body, "labels": ",".join(labels or [])}
        resp = self._send(
            "post", f"{self._pid(repo)}/issues", f"opening an issue on {repo}", post=post
        )
        return _issue(resp.json())

    def get_issue(self, repo: str, number: int) -> Issue:
        """Read one issue."""
        return _issue(
            self._get(f"{self._pid(repo)}/issues/{int(number)}", f"reading issue {repo}#{number}")
        )

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        """All user notes on an issue or MR, oldest first (system notes left out)."""
        data = self._get_all(
            f"{self._noteable(repo, number, is_mr)}/notes",
            f"listing notes on {repo}{'!' if is_mr else '#'}{number}",
            sort="asc",
            order_by="created_at",
        )
        return [_comment(n) for n in data if not n.get("system")]

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        """Add a note (never twice, even across retries)."""
        ref = f"{repo}{'!' if is_mr else '#'}{number}"
        operation = f"commenting on {ref}"

        def recover() -> Comment | None:
            login = self.bot_login()
            for comment in reversed(self.list_comments(repo, number, is_mr=is_mr)):
                if comment.body == body and comment.author.login == login:
                    return comment
            return None

        resp = self._send(
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
        return _comment(data)

    def edit_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, is_mr: bool = False
    ) -> Comment:
        """Replace a note's text."""
        resp = self._send(
            "put",
            f"{self._noteable(repo, number, is_mr)}/notes/{int(comment_id)}",
            f"editing note {comment_id} on {repo}",
            post={"body": body},
        )
        return _comment(resp.json())

    def _relabel(self, repo: str, number: int, is_mr: bool, key: str, labels: list[str]) -> list:
        resp = self._send(
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
        name = _EMOJI.get(reaction, reaction)
        operation = f"reacting {name} on {repo}{'!' if is_mr else '#'}{number}"

        def mine() -> bool:
            login = self.bot_login()
            return any(
                a["name"] == name and a["user"]["username"] == login
                for a in self._get_all(path, operation)
            )

        if mine():  # GitLab refuses a second identical award
            return
        self._send(
            "post", path, operation, post={"name": name}, recover=lambda: True if mine() else None
        )

    # --- merge requests

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        """Read one merge request."""
        return _mr(
            self._get(
                f"{self._pid(repo)}/merge_requests/{int(number)}",
                f"reading merge request {repo}!{number}",
            )
        )

    def list_mrs(
        self, repo: str, *, state: str = "open", head: str | None = None
    ) -> list[MergeRequest]:
        """Merge requests in a state (``open``, ``closed``, ``merged``, ``all``), by branch."""
        if state not in _MR_STATES:
            raise InvalidRequest(
                f"gitlab: unknown merge request state {state!r}",
                forge=FORGE,
                operation=f"listing merge requests of {repo}",
            )
        query: dict[str, Any] = {"state": _MR_STATES[state]}
        if head:
            query["source_branch"] = head
        data = self._get_all(
            f"{self._pid(repo)}/merge_requests", f"listing merge requests of {repo}", **query
        )
        return sorted((_mr(m) for m in data), key=lambda m: m.number)

    def open_mr(
        self, repo: str, *, head: str, base: str, title: str, body: str = "", draft: bool = False
    ) -> MergeRequest:
        """Open a merge request (a retry after an unclear failure finds the first one)."""
        if draft and not DRAFT_RE.match(title):
            title = f"Draft: {title}"
        post = {"source_branch": head, "target_branch": base, "title": title, "description": body}

        def recover() -> MergeRequest | None:
            found = [m for m in self.list_mrs(repo, state="open", head=head) if m.base_ref == base]
            return found[0] if found else None

        resp = self._send(
            "post",
            f"{self._pid(repo)}/merge_requests",
            f"opening a merge request {head} -> {base} on {repo}",
            post=post,
            recover=recover,
        )
        return resp if isinstance(resp, MergeRequest) else _mr(resp.json())

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
        if state is not None and state not in events:
            raise InvalidRequest(
                f"gitlab: a merge request can be set open or closed, not {state!r}",
                forge=FORGE,
                operation=f"updating {repo}!{number}",
            )
        post: dict[str, Any] = {}
        if title is not None:
            if self.get_mr(repo, number).draft and not DRAFT_RE.match(title):
                title = f"Draft: {title}"
            post["title"] = title
        if body is not None:
            post["description"] = body
        if state is not None:
            post["state_event"] = events[state]
        resp = self._send(
            "put",
            f"{self._pid(repo)}/merge_requests/{int(number)}",
            f"updating merge request {repo}!{number}",
            post=post,
        )
        return _mr(resp.json())

    def mark_ready(self, repo: str, number: int) -> MergeRequest:
        """Take an MR out of draft by removing the title's draft prefix."""
        data = self._get(
            f"{self._pid(repo)}/merge_requests/{int(number)}",
            f"reading merge request {repo}!{number}",
        )
        if not DRAFT_RE.match(data["title"]):
            return _mr(data)
        resp = self._send(
            "put",
            f"{self._pid(repo)}/merge_requests/{int(number)}",
            f"marking merge request {repo}!{number} ready",
            post={"title": DRAFT_RE.sub("", data["title"], count=1)},
        )
        return _mr(resp.json())

    def approve_mr(self, repo: str, number: int) -> None:
        """Approve an MR as the bot; approving again is not an error.

        GitLab answers a second approval with 401: that is read as "already approved"
        when the approvals say so, and as a bad token otherwise.
        """
        path = f"{self._pid(repo)}/merge_requests/{int(number)}"
        try:
            self._send("post", f"{path}/approve", f"approving merge request {repo}!{number}")
        except AuthenticationError:
            approvals = self._get(f"{path}/approvals", f"reading approvals of {repo}!{number}")
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
        versions = sorted(
            self._get_all(f"{path}/versions", f"reading versions of {ref}"),
            key=lambda v: v["created_at"],
        )
        notes = self._get_all(
            f"{path}/notes", f"reading notes of {ref}", sort="asc", order_by="created_at"
        )
        reviews: list[Review] = []
        previous: dict[str, Any] | None = None
        for note in notes:
            verdict = (
                _VERDICTS.get((note.get("body") or "").strip()) if note.get("system") else None
            )
            if verdict is not None:
                login = note["author"]["username"]
                summary = ""
                if (
                    previous is not None
                    and not previous.get("system")
                    and previous["author"]["username"] == login
                ):
                    summary = previous.get("body") or ""
                heads = [
                    v["head_commit_sha"] for v in versions if v["created_at"] <= note["created_at"]
                ]
                reviews.append(
                    Review(
                        id=str(note["id"]),
                        author=_user(note["author"]),
                        state=verdict,
                        body=summary,
                        commit_id=heads[-1] if heads else None,
                        submitted_at=note.get("created_at"),
                    )
                )
            previous = note
        return reviews

    def get_permission(self, repo: str, login: str) -> Permission:
        """A user's access level on the project, inherited ones included."""
        users = self._get("/users", f"looking up user {login}", username=login)
        if not users:
            self.get_repo(repo)
            return Permission.NONE
        try:
            member = self._get(
                f"{self._pid(repo)}/members/all/{int(users[0]['id'])}",
                f"reading {login}'s access to {repo}",
            )
        except NotFound:
            self.get_repo(repo)  # raises NotFound when the project is what is missing
            return Permission.NONE
        return permission_for(member.get("access_level"))

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
            "state": _TO_GITLAB_STATE[CommitState(state)],
            "name": context,
            "description": description,
        }
        if target_url:
            post["target_url"] = target_url
        resp = self._send(
            "post",
            f"{self._pid(repo)}/statuses/{sha}",
            f"setting status {context!r} on {repo}@{sha[:12]}",
            post=post,
        )
        return _status(sha, resp.json())

    def list_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """The latest status per context on a commit."""
        data = self._get_all(
            f"{self._pid(repo)}/repository/commits/{sha}/statuses",
            f"reading statuses of {repo}@{sha[:12]}",
            all="true",
        )
        latest: dict[str, CommitStatus] = {}
        for item in sorted(data, key=lambda s: (s.get("created_at") or "", s.get("id", 0))):
            latest[item["name"]] = _status(sha, item)
        return list(latest.values())

    def clone_url(self, repo: str) -> str:
        """The project's HTTPS clone URL with the token embedded (``oauth2:<token>``)."""
        url = self.get_repo(repo).clone_url
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            return url
        netloc = f"oauth2:{quote(self._token, safe='')}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))


# --- JSON → value types --------------------------------------------------------------


def _scope_hint(body: Any) -> str:
    import json

    try:
        data = json.loads(body) if isinstance(body, bytes | str) and body else {}
    except ValueError:
        return ""
    if isinstance(data, dict) and data.get("error") == "insufficient_scope":
        return f"the token needs the {data.get('scope', 'api')!r} scope"
    return ""


def _user(data: dict[str, Any] | None) -> User:
    data = data or {}
    return User(
        login=data.get("username") or "ghost",
        id=str(data.get("id") or ""),
        is_bot=bool(data.get("bot")),
    )


def _state(value: str) -> str:
    return {"opened": "open", "locked": "open"}.get(value, value)


def _issue(data: dict[str, Any]) -> Issue:
    return Issue(
        number=data["iid"],
        title=data["title"],
        body=data.get("description") or "",
        state=_state(data.get("state", "opened")),
        labels=list(data.get("labels") or []),
        author=_user(data.get("author")),
        url=data.get("web_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def _comment(data: dict[str, Any]) -> Comment:
    return Comment(
        id=str(data["id"]),
        body=data.get("body") or "",
        author=_user(data["author"]),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def _mr(data: dict[str, Any]) -> MergeRequest:
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
        author=_user(data.get("author")),
        url=data.get("web_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def _status(sha: str, data: dict[str, Any]) -> CommitStatus:
    state = data.get("status") or data.get("state") or "pending"
    if state not in _FROM_GITLAB_STATE:
        raise ForgeError(
            f"gitlab: unknown commit status {state!r}",
            forge=FORGE,
            operation=f"reading statuses of {sha[:12]}",
        )
    return CommitStatus(
        sha=sha,
        state=_FROM_GITLAB_STATE[state],
        context=data.get("name") or "",
        description=data.get("description") or "",
        target_url=data.get("target_url"),
    )
