"""The GitHub adapter: the :class:`bot.forge.Forge` protocol over GitHub's REST API.

github3.py provides the authenticated session: a personal access token, or a GitHub
App (app id + private key → installation token, refreshed before it expires), against
github.com or a GitHub Enterprise base URL (``https://ghe.example.com/api/v3``).
Requests go through that session, and the JSON is read into our value types here:
github3.py's models are strict about fields and its last release is from 2023, so they
stay out of the way (see STYLE.md, "known sharp edges").

Sharp edges handled here: a draft pull request is taken out of draft only by the
GraphQL mutation ``markPullRequestReadyForReview`` (``PATCH draft=false`` is ignored);
``GET /pulls?head=`` filters only with ``owner:branch``; commit statuses (not check
runs) are used, since only an App may write check runs; a review's ``commit_id`` is
passed through for the caller to compare with the current head.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import github3
import jwt
import requests

from bot.errors import (
    AuthenticationError,
    Conflict,
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

FORGE = "github"
_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_ROLES = {
    "admin": Permission.ADMIN,
    "maintain": Permission.MAINTAIN,
    "write": Permission.WRITE,
    "triage": Permission.TRIAGE,
    "read": Permission.READ,
    "none": Permission.NONE,
}
_TO_GITHUB_STATE = {
    CommitState.PENDING: "pending",
    CommitState.RUNNING: "pending",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failure",
    CommitState.ERROR: "error",
    CommitState.CANCELLED: "error",
}
_REVIEW_STATES = {
    "APPROVED": "approved",
    "CHANGES_REQUESTED": "changes_requested",
    "COMMENTED": "commented",
    "DISMISSED": "dismissed",
}
_READY_MUTATION = (
    "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
    "{ pullRequest { isDraft number } } }"
)


class GitHubForge:
    """GitHub (github.com or Enterprise) through a token or a GitHub App installation.

    Args:
        token: A personal access token (classic or fine-grained).
        base_url: REST API root: ``https://api.github.com`` or ``https://host/api/v3``.
        app_id: GitHub App id (with ``private_key`` and ``installation_id``).
        private_key: The App's PEM private key.
        installation_id: The App installation to act as.
        bot_login: The account the bot writes as (used to recognise its own comments).
        policy: Retries, backoff and request timeout.
        clock: Epoch seconds; tests advance it to force an installation-token refresh.
        refresh_margin: Refresh the installation token this many seconds before expiry.
    """

    name = FORGE

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str = "https://api.github.com",
        app_id: str | None = None,
        private_key: bytes | str | None = None,
        installation_id: int | None = None,
        bot_login: str | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 300.0,
    ) -> None:
        self._app = None
        if app_id and private_key and installation_id:
            key = private_key.encode() if isinstance(private_key, str) else private_key
            # PyJWT 2.10+ insists on a string "iss": github3.py passes what it is given.
            self._app = (key, str(app_id), int(installation_id))
        elif not token:
            raise SettingsError(
                "github: set AGENTFORGE_GITHUB_TOKEN, or AGENTFORGE_GITHUB_APP_ID with "
                "AGENTFORGE_GITHUB_APP_PRIVATE_KEY(_PATH) and "
                "AGENTFORGE_GITHUB_APP_INSTALLATION_ID",
                variable="AGENTFORGE_GITHUB_TOKEN",
            )
        self.base_url = base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._margin = refresh_margin
        self._token = token or ""
        self._expires_at: float | None = None
        self._bot_login = bot_login
        self._gh = github3.GitHub(token=token or "")
        self._gh.session.base_url = self.base_url
        self._gh.session.default_connect_timeout = self._policy.timeout
        self._gh.session.default_read_timeout = self._policy.timeout

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> GitHubForge:
        """Build the adapter from :class:`bot.settings.Settings` (kwargs override)."""
        key = None
        if settings.github_app_private_key is not None:
            key = settings.github_app_private_key.get_secret_value()
        elif settings.github_app_private_key_path is not None:
            try:
                key = settings.github_app_private_key_path.read_bytes()
            except OSError as exc:
                raise SettingsError(
                    f"AGENTFORGE_GITHUB_APP_PRIVATE_KEY_PATH: cannot read "
                    f"{settings.github_app_private_key_path}: {exc.strerror}",
                    variable="AGENTFORGE_GITHUB_APP_PRIVATE_KEY_PATH",
                ) from exc
        options: dict[str, Any] = {
            "token": settings.github_token.get_secret_value() if settings.github_token else None,
            "base_url": settings.github_url,
            "app_id": settings.github_app_id,
            "private_key": key,
            "installation_id": settings.github_app_installation_id,
            "bot_login": settings.bot_login,
        }
        options.update(kwargs)
        return cls(**options)

    # --- authentication

    @property
    def uses_app(self) -> bool:
        """Whether the adapter authenticates as a GitHub App installation."""
        return self._app is not None

    def _ensure_token(self, *, force: bool = False) -> None:
        if self._app is None:
            return
        fresh = self._expires_at is not None and self._clock() < self._expires_at - self._margin
        if fresh and not force:
            return
        key, app_id, installation = self._app
        operation = f"creating an installation token for app {app_id}"
        try:
            self._gh.login_as_app_installation(key, app_id, installation)
        except github3.exceptions.GitHubError as exc:
            resp = exc.response
            raise error_for_status(
                exc.code or 0,
                forge=FORGE,
                operation=operation,
                headers=dict(resp.headers) if resp is not None else {},
                detail=str(exc.msg or ""),
            ) from None
        except requests.RequestException as exc:
            raise Unavailable(
                f"{operation} on github: {type(exc).__name__}", forge=FORGE, operation=operation
            ) from exc
        except (ValueError, TypeError, jwt.PyJWTError) as exc:  # a malformed PEM key
            raise AuthenticationError(
                f"{operation} on github: the App private key cannot be used ({exc})",
                forge=FORGE,
                operation=operation,
            ) from None
        auth = self._gh.session.auth
        self._token = auth.token
        # Expiry is measured on our clock: the forge's lifetime, from now.
        lifetime = auth.expires_at.timestamp() - time.time()
        self._expires_at = self._clock() + lifetime

    def current_token(self) -> str:
        """The token requests are sent with (an installation token is refreshed first)."""
        self._ensure_token()
        return self._token

    # --- HTTP

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def _graphql_url(self) -> str:
        if self.base_url.endswith("/api/v3"):
            return self.base_url[: -len("/v3")] + "/graphql"
        return f"{self.base_url}/graphql"

    def _error(self, resp: requests.Response, operation: str) -> ForgeError:
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        detail = short_detail(body)
        errors = body.get("errors") if isinstance(body, dict) else None
        if resp.status_code == 422 and isinstance(errors, list):
            messages = [e.get("message", "") for e in errors if isinstance(e, dict)]
            detail = "; ".join(filter(None, [detail, *messages]))
            if any("already exists" in m for m in messages):
                return Conflict(
                    f"{operation} on github: {detail}", forge=FORGE, operation=operation
                )
        if resp.status_code in (401, 403):
            detail = "; ".join(filter(None, [detail, _scope_hint(resp.headers)]))
        return error_for_status(
            resp.status_code,
            forge=FORGE,
            operation=operation,
            headers=dict(resp.headers),
            detail=detail,
        )

    def _send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        recover: Callable[[], Any] | None = None,
    ) -> requests.Response:
        refreshed = False

        def once() -> requests.Response:
            nonlocal refreshed
            self._ensure_token()
            try:
                resp = self._gh.session.request(method, self._url(path), json=json, params=params)
            except requests.RequestException as exc:
                raise Unavailable(
                    f"{operation} on github: {type(exc).__name__}", forge=FORGE, operation=operation
                ) from exc
            if resp.status_code == 401 and self._app is not None and not refreshed:
                # The installation token may have been revoked early: mint one and retry.
                refreshed = True
                self._ensure_token(force=True)
                return once()
            if resp.status_code >= 400:
                raise self._error(resp, operation)
            return resp

        return call_with_retries(self._policy, once, recover=recover)

    def _get(self, path: str, operation: str, **params: Any) -> Any:
        return self._send("GET", path, operation, params=params or None).json()

    def _get_all(self, path: str, operation: str, **params: Any) -> list[Any]:
        items: list[Any] = []
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **params}
        while url:
            resp = self._send("GET", url, operation, params=query)
            items.extend(resp.json())
            url = resp.links.get("next", {}).get("url")
            query = None  # the next link carries the query
        return items

    # --- helpers

    @staticmethod
    def _check(repo: str) -> str:
        if not _REPO_RE.fullmatch(repo or "") or {".", ".."} & set(repo.split("/")):
            raise InvalidRequest(
                f"github: {repo!r} is not an owner/name repository",
                forge=FORGE,
                operation="checking a repository name",
            )
        return repo

    def bot_login(self) -> str | None:
        """The bot's login: configured, or asked of ``GET /user`` (tokens only)."""
        if self._bot_login is None and self._app is None:
            self._bot_login = self._get("/user", "reading the authenticated user")["login"]
        return self._bot_login

    # --- connection checks (agentforge doctor)

    def whoami(self) -> tuple[str, set[str] | None]:
        """Who the credentials act as, and the classic token's scopes.

        Returns:
            The login (for an App: the configured bot login, or ``"app installation"``)
            and the ``X-OAuth-Scopes`` set, or None when GitHub does not report scopes
            (fine-grained tokens and App installations carry permissions instead).
        """
        if self._app is not None:
            self._ensure_token()
            return self._bot_login or "app installation", None
        resp = self._send("GET", "/user", "checking the token")
        header = resp.headers.get("X-OAuth-Scopes")
        scopes = None if header is None else {x.strip() for x in header.split(",") if x.strip()}
        self._bot_login = self._bot_login or resp.json()["login"]
        return resp.json()["login"], scopes

    def repo_permissions(self, repo: str) -> dict[str, bool] | None:
        """The ``permissions`` flags (``push``, ``triage``...) the token has on ``repo``."""
        data = self._get(f"/repos/{self._check(repo)}", f"reading repository {repo}")
        flags = data.get("permissions")
        return dict(flags) if isinstance(flags, dict) else None

    # --- repositories and issues

    def get_repo(self, repo: str) -> RepoInfo:
        """Describe a repository."""
        data = self._get(f"/repos/{self._check(repo)}", f"reading repository {repo}")
        return RepoInfo(
            full_name=data["full_name"],
            id=str(data["id"]),
            default_branch=data.get("default_branch") or "main",
            clone_url=data["clone_url"],
            html_url=data.get("html_url"),
            private=bool(data.get("private")),
        )

    def create_issue(
        self, repo: str, title: str, body: str = "", labels: list[str] | None = None
    ) -> Issue:
        """Open an issue."""
        payload = {"title": title, "body": body, "labels": list(labels or [])}
        data = self._send(
            "POST",
            f"/repos/{self._check(repo)}/issues",
            f"opening an issue on {repo}",
            json=payload,
        ).json()
        return _issue(data)

    def get_issue(self, repo: str, number: int) -> Issue:
        """Read one issue."""
        return _issue(
            self._get(
                f"/repos/{self._check(repo)}/issues/{int(number)}", f"reading issue {repo}#{number}"
            )
        )

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        """All comments on an issue or pull request, oldest first."""
        data = self._get_all(
            f"/repos/{self._check(repo)}/issues/{int(number)}/comments",
            f"listing comments on {repo}#{number}",
        )
        return [_comment(c) for c in data]

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        """Comment on an issue or pull request (never twice, even across retries)."""
        path = f"/repos/{self._check(repo)}/issues/{int(number)}/comments"

        def recover() -> Comment | None:
            login = self.bot_login()
            for comment in reversed(self.list_comments(repo, number)):
                if comment.body == body and (login is None or comment.author.login == login):
                    return comment
            return None

        resp = self._send(
            "POST", path, f"commenting on {repo}#{number}", json={"body": body}, recover=recover
        )
        return resp if isinstance(resp, Comment) else _comment(resp.json())

    def edit_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, is_mr: bool = False
    ) -> Comment:
        """Replace a comment's text."""
        data = self._send(
            "PATCH",
            f"/repos/{self._check(repo)}/issues/comments/{int(comment_id)}",
            f"editing comment {comment_id} on {repo}#{number}",
            json={"body": body},
        ).json()
        return _comment(data)

    def add_labels(
        self, repo: str, number: int, labels: list[str], *, is_mr: bool = False
    ) -> list[str]:
        """Add labels; returns the labels now present."""
        data = self._send(
            "POST",
            f"/repos/{self._check(repo)}/issues/{int(number)}/labels",
            f"labelling {repo}#{number}",
            json={"labels": list(labels)},
        ).json()
        return [label["name"] for label in data]

    def remove_label(self, repo: str, number: int, label: str, *, is_mr: bool = False) -> list[str]:
        """Remove one label (absent is fine); returns the labels now present."""
        path = f"/repos/{self._check(repo)}/issues/{int(number)}/labels/{quote(label, safe='')}"
        try:
            data = self._send("DELETE", path, f"removing label {label!r} from {repo}#{number}")
        except NotFound:
            # 404 means either "label not on the issue" or "no such issue": tell them apart.
            return self.get_issue(repo, number).labels
        return [item["name"] for item in data.json()]

    def add_reaction(
        self,
        repo: str,
        number: int,
        reaction: str,
        *,
        comment_id: str | None = None,
        is_mr: bool = False,
    ) -> None:
        """React to an issue/pull request or one of its comments (GitHub dedupes)."""
        self._check(repo)
        if comment_id is None:
            path = f"/repos/{repo}/issues/{int(number)}/reactions"
        else:
            path = f"/repos/{repo}/issues/comments/{int(comment_id)}/reactions"
        self._send(
            "POST", path, f"reacting {reaction} on {repo}#{number}", json={"content": reaction}
        )

    # --- pull requests

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        """Read one pull request."""
        return _mr(
            self._get(
                f"/repos/{self._check(repo)}/pulls/{int(number)}",
                f"reading pull request {repo}#{number}",
            )
        )

    def list_mrs(
        self, repo: str, *, state: str = "open", head: str | None = None
    ) -> list[MergeRequest]:
        """Pull requests in a state (``open``, ``closed``, ``merged``, ``all``), by branch."""
        if state not in {"open", "closed", "merged", "all"}:
            raise InvalidRequest(
                f"github: unknown pull request state {state!r}",
                forge=FORGE,
                operation=f"listing pull requests of {repo}",
            )
        params: dict[str, Any] = {"state": "closed" if state == "merged" else state}
        if head:
            # Without the owner prefix GitHub ignores the filter and lists everything.
            params["head"] = f"{self._check(repo).split('/')[0]}:{head}"
        data = self._get_all(
            f"/repos/{self._check(repo)}/pulls", f"listing pull requests of {repo}", **params
        )
        mrs = [_mr(p) for p in data]
        if state in {"merged", "closed"}:
            mrs = [m for m in mrs if m.state == state]
        if head:
            mrs = [m for m in mrs if m.head_ref == head]
        return sorted(mrs, key=lambda m: m.number)

    def open_mr(
        self, repo: str, *, head: str, base: str, title: str, body: str = "", draft: bool = False
    ) -> MergeRequest:
        """Open a pull request (a retry after an unclear failure finds the first one)."""
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}

        def recover() -> MergeRequest | None:
            found = [m for m in self.list_mrs(repo, state="open", head=head) if m.base_ref == base]
            return found[0] if found else None

        resp = self._send(
            "POST",
            f"/repos/{self._check(repo)}/pulls",
            f"opening a pull request {head} -> {base} on {repo}",
            json=payload,
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
        """Change a pull request's title, description or state (``open``/``closed``)."""
        if state is not None and state not in {"open", "closed"}:
            raise InvalidRequest(
                f"github: a pull request can be set open or closed, not {state!r}",
                forge=FORGE,
                operation=f"updating {repo}#{number}",
            )
        payload = {
            k: v for k, v in {"title": title, "body": body, "state": state}.items() if v is not None
        }
        data = self._send(
            "PATCH",
            f"/repos/{self._check(repo)}/pulls/{int(number)}",
            f"updating pull request {repo}#{number}",
            json=payload,
        ).json()
        return _mr(data)

    def mark_ready(self, repo: str, number: int) -> MergeRequest:
        """Take a pull request out of draft through GraphQL (REST cannot)."""
        data = self._get(
            f"/repos/{self._check(repo)}/pulls/{int(number)}",
            f"reading pull request {repo}#{number}",
        )
        if not data.get("draft"):
            return _mr(data)
        operation = f"marking pull request {repo}#{number} ready for review"
        answer = self._send(
            "POST",
            self._graphql_url(),
            operation,
            json={"query": _READY_MUTATION, "variables": {"id": data["node_id"]}},
        ).json()
        errors = answer.get("errors") or []
        if errors:
            kind = errors[0].get("type", "")
            cls = {"NOT_FOUND": NotFound, "FORBIDDEN": Forbidden}.get(kind, InvalidRequest)
            raise cls(
                f"{operation} on github: {short_detail(errors[0])}",
                forge=FORGE,
                operation=operation,
            )
        return self.get_mr(repo, number)

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Submitted reviews, oldest first (pending drafts are left out)."""
        data = self._get_all(
            f"/repos/{self._check(repo)}/pulls/{int(number)}/reviews",
            f"listing reviews of {repo}#{number}",
        )
        return [_review(r) for r in data if r.get("state") in _REVIEW_STATES]

    def get_permission(self, repo: str, login: str) -> Permission:
        """An account's role on the repository (``NONE`` when it has none)."""
        path = f"/repos/{self._check(repo)}/collaborators/{quote(login, safe='')}/permission"
        try:
            data = self._get(path, f"reading {login}'s permission on {repo}")
        except NotFound:
            self.get_repo(repo)  # raises NotFound when the repository is what is missing
            return Permission.NONE
        role = data.get("role_name") or data.get("permission") or "none"
        return _ROLES.get(role, _ROLES.get(data.get("permission", "none"), Permission.NONE))

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
        """Report a commit status (``running`` is ``pending``, ``cancelled`` is ``error``)."""
        payload = {
            "state": _TO_GITHUB_STATE[CommitState(state)],
            "context": context,
            "description": description[:140],
        }
        if target_url:
            payload["target_url"] = target_url
        data = self._send(
            "POST",
            f"/repos/{self._check(repo)}/statuses/{sha}",
            f"setting status {context!r} on {repo}@{sha[:12]}",
            json=payload,
        ).json()
        return _status(sha, data)

    def list_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """The latest status per context on a commit."""
        data = self._get(
            f"/repos/{self._check(repo)}/commits/{sha}/status",
            f"reading statuses of {repo}@{sha[:12]}",
        )
        return [_status(sha, s) for s in data.get("statuses", [])]

    def clone_url(self, repo: str) -> str:
        """The repository's clone URL, with the token embedded for http(s)."""
        url = self.get_repo(repo).clone_url
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            return url
        netloc = f"x-access-token:{quote(self.current_token(), safe='')}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))


# --- JSON → value types --------------------------------------------------------------


def _scope_hint(headers: Any) -> str:
    have = headers.get("X-OAuth-Scopes")
    need = headers.get("X-Accepted-OAuth-Scopes")
    permission = headers.get("X-Accepted-GitHub-Permissions")
    hints = []
    if need:
        hints.append(f"this call needs token scope(s) {need} (token has: {have or 'none'})")
    if permission:
        hints.append(f"this call needs permission {permission}")
    return "; ".join(hints)


def _user(data: dict[str, Any] | None) -> User:
    data = data or {}
    return User(
        login=data.get("login") or "ghost",
        id=str(data.get("id") or ""),
        is_bot=data.get("type") == "Bot",
    )


def _labels(data: dict[str, Any]) -> list[str]:
    return [label["name"] for label in data.get("labels") or []]


def _issue(data: dict[str, Any]) -> Issue:
    return Issue(
        number=data["number"],
        title=data["title"],
        body=data.get("body") or "",
        state=data.get("state", "open"),
        labels=_labels(data),
        author=_user(data["user"]),
        url=data.get("html_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def _comment(data: dict[str, Any]) -> Comment:
    return Comment(
        id=str(data["id"]),
        body=data.get("body") or "",
        author=_user(data["user"]),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
        url=data.get("html_url"),
    )


def _mr(data: dict[str, Any]) -> MergeRequest:
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
        labels=_labels(data),
        author=_user(data["user"]),
        url=data.get("html_url"),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def _review(data: dict[str, Any]) -> Review:
    return Review(
        id=str(data["id"]),
        author=_user(data["user"]),
        state=_REVIEW_STATES[data["state"]],
        body=data.get("body") or "",
        commit_id=data.get("commit_id"),
        submitted_at=data.get("submitted_at"),
    )


def _status(sha: str, data: dict[str, Any]) -> CommitStatus:
    return CommitStatus(
        sha=sha,
        state=CommitState(data["state"]),
        context=data.get("context") or "default",
        description=data.get("description") or "",
        target_url=data.get("target_url"),
    )
