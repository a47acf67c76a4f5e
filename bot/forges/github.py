"""The GitHub adapter: the :class:`bot.forge.Forge` protocol over GitHub's REST API.

github3.py provides the authenticated session: a personal access token, or a GitHub
App (app id + private key → installation token, refreshed before it expires), against
github.com or a GitHub Enterprise base URL (``https://ghe.example.com/api/v3``).
Requests go through that session and the JSON is read into our value types:
github3.py's models are strict about fields and its last release is from 2023, so they
stay out of the way (see STYLE.md, "known sharp edges"). The adapter class is here;
its helpers are :mod:`bot.forges.github_auth` (token or App installation token),
:mod:`bot.forges.github_contents` (files at a ref, MR files, issue lists, check runs),
:mod:`bot.forges.github_http` (endpoints, retries, pagination, error mapping) and
:mod:`bot.forges.github_convert` (JSON → value types).

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
from urllib.parse import quote

from bot.errors import Forbidden, InvalidRequest, NotFound
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
from bot.forges import github_convert as convert
from bot.forges import github_threads as threads
from bot.forges._common import (
    LIST_STATES,
    SET_STATES,
    check_path,
    open_mr_between,
    own_comment,
    require_state,
    with_credentials,
)
from bot.forges.github_auth import FORGE, credentials, private_key_from_settings
from bot.forges.github_contents import GitHubContents
from bot.forges.github_http import GitHubSession
from bot.forges.resilience import RetryPolicy, short_detail

_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_READY_MUTATION = (
    "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
    "{ pullRequest { isDraft number } } }"
)


class GitHubForge(GitHubContents):
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
        app = credentials(token, app_id, private_key, installation_id)
        self.base_url = base_url.rstrip("/")
        self._bot_login = bot_login
        self._http = GitHubSession(
            self.base_url,
            token=token,
            app=app,
            policy=policy or RetryPolicy(),
            clock=clock,
            refresh_margin=refresh_margin,
        )

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> GitHubForge:
        """Build the adapter from :class:`bot.settings.Settings` (kwargs override)."""
        options: dict[str, Any] = {
            "token": settings.github_token.get_secret_value() if settings.github_token else None,
            "base_url": settings.github_url,
            "app_id": settings.github_app_id,
            "private_key": private_key_from_settings(settings),
            "installation_id": settings.github_app_installation_id,
            "bot_login": settings.bot_login,
        }
        options.update(kwargs)
        return cls(**options)

    @property
    def http(self) -> GitHubSession:
        """The authenticated REST session, for calls outside the Forge protocol
        (handing a job to GitHub Actions, :mod:`bot.jobs.ci_dispatch`)."""
        return self._http

    @property
    def uses_app(self) -> bool:
        """Whether the adapter authenticates as a GitHub App installation."""
        return self._http.auth.uses_app

    @property
    def graphql_url(self) -> str:
        """Where the GraphQL mutation is sent (``/api/graphql`` on GitHub Enterprise)."""
        return self._http.graphql_url

    def current_token(self) -> str:
        """The token requests are sent with (an installation token is refreshed first)."""
        return self._http.auth.current()

    @staticmethod
    def _check(repo: str) -> str:
        return check_path(repo, _REPO_RE, forge=FORGE, what="an owner/name repository")

    def bot_login(self) -> str | None:
        """The bot's login: configured, or asked of ``GET /user`` (tokens only)."""
        if self._bot_login is None and not self.uses_app:
            self._bot_login = self._http.get("/user", "reading the authenticated user")["login"]
        return self._bot_login

    # --- connection checks (agentforge doctor)

    def check_credentials(self) -> tuple[str, set[str] | None]:
        """Who the credentials act as, and the classic token's scopes (for ``doctor``).

        Returns:
            The login (for an App: the configured bot login, or ``"app installation"``)
            and the ``X-OAuth-Scopes`` set, or None when GitHub does not report scopes
            (fine-grained tokens and App installations carry permissions instead).
        """
        if self.uses_app:
            self._http.auth.ensure()
            return self._bot_login or "app installation", None
        resp = self._http.send("GET", "/user", "checking the token")
        header = resp.headers.get("X-OAuth-Scopes")
        scopes = None if header is None else {x.strip() for x in header.split(",") if x.strip()}
        self._bot_login = self._bot_login or resp.json()["login"]
        return resp.json()["login"], scopes

    def repo_permissions(self, repo: str) -> dict[str, bool] | None:
        """The ``permissions`` flags (``push``, ``triage``...) the token has on ``repo``."""
        data = self._http.get(f"/repos/{self._check(repo)}", f"reading repository {repo}")
        flags = data.get("permissions")
        return dict(flags) if isinstance(flags, dict) else None

    # --- repositories and issues

    def get_repo(self, repo: str) -> RepoInfo:
        """Describe a repository."""
        return convert.repo_info(
            self._http.get(f"/repos/{self._check(repo)}", f"reading repository {repo}")
        )

    def create_issue(
        self, repo: str, title: str, body: str = "", labels: list[str] | None = None
    ) -> Issue:
        """Open an issue."""
        payload = {"title": title, "body": body, "labels": list(labels or [])}
        data = self._http.send(
            "POST",
            f"/repos/{self._check(repo)}/issues",
            f"opening an issue on {repo}",
            json=payload,
        ).json()
        return convert.issue(data)

    def get_issue(self, repo: str, number: int) -> Issue:
        """Read one issue."""
        return convert.issue(
            self._http.get(
                f"/repos/{self._check(repo)}/issues/{int(number)}", f"reading issue {repo}#{number}"
            )
        )

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        """All comments on an issue or pull request, oldest first."""
        data = self._http.get_all(
            f"/repos/{self._check(repo)}/issues/{int(number)}/comments",
            f"listing comments on {repo}#{number}",
        )
        return [convert.comment(c) for c in data]

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        """Comment on an issue or pull request (never twice, even across retries)."""
        path = f"/repos/{self._check(repo)}/issues/{int(number)}/comments"

        def recover() -> Comment | None:
            return own_comment(self.list_comments(repo, number), body, self.bot_login())

        resp = self._http.send(
            "POST", path, f"commenting on {repo}#{number}", json={"body": body}, recover=recover
        )
        return resp if isinstance(resp, Comment) else convert.comment(resp.json())

    def edit_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, is_mr: bool = False
    ) -> Comment:
        """Replace a comment's text."""
        data = self._http.send(
            "PATCH",
            f"/repos/{self._check(repo)}/issues/comments/{int(comment_id)}",
            f"editing comment {comment_id} on {repo}#{number}",
            json={"body": body},
        ).json()
        return convert.comment(data)

    def add_labels(
        self, repo: str, number: int, labels: list[str], *, is_mr: bool = False
    ) -> list[str]:
        """Add labels; returns the labels now present."""
        data = self._http.send(
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
            data = self._http.send("DELETE", path, f"removing label {label!r} from {repo}#{number}")
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
        self._http.send(
            "POST", path, f"reacting {reaction} on {repo}#{number}", json={"content": reaction}
        )

    # --- pull requests

    def get_mr(self, repo: str, number: int) -> MergeRequest:
        """Read one pull request."""
        return convert.merge_request(
            self._http.get(
                f"/repos/{self._check(repo)}/pulls/{int(number)}",
                f"reading pull request {repo}#{number}",
            )
        )

    def list_mrs(
        self, repo: str, *, state: str = "open", head: str | None = None
    ) -> list[MergeRequest]:
        """Pull requests in a state (``open``, ``closed``, ``merged``, ``all``), by branch."""
        require_state(state, LIST_STATES, forge=FORGE, operation=f"listing pull requests of {repo}")
        params: dict[str, Any] = {"state": "closed" if state == "merged" else state}
        if head:
            # Without the owner prefix GitHub ignores the filter and lists everything.
            params["head"] = f"{self._check(repo).split('/')[0]}:{head}"
        data = self._http.get_all(
            f"/repos/{self._check(repo)}/pulls", f"listing pull requests of {repo}", **params
        )
        mrs = [convert.merge_request(p) for p in data]
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
            return open_mr_between(self.list_mrs(repo, state="open", head=head), base)

        resp = self._http.send(
            "POST",
            f"/repos/{self._check(repo)}/pulls",
            f"opening a pull request {head} -> {base} on {repo}",
            json=payload,
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
        """Change a pull request's title, description or state (``open``/``closed``)."""
        if state is not None:
            require_state(state, SET_STATES, forge=FORGE, operation=f"updating {repo}#{number}")
        payload = {
            k: v for k, v in {"title": title, "body": body, "state": state}.items() if v is not None
        }
        data = self._http.send(
            "PATCH",
            f"/repos/{self._check(repo)}/pulls/{int(number)}",
            f"updating pull request {repo}#{number}",
            json=payload,
        ).json()
        return convert.merge_request(data)

    def mark_ready(self, repo: str, number: int) -> MergeRequest:
        """Take a pull request out of draft through GraphQL (REST cannot)."""
        data = self._http.get(
            f"/repos/{self._check(repo)}/pulls/{int(number)}",
            f"reading pull request {repo}#{number}",
        )
        if not data.get("draft"):
            return convert.merge_request(data)
        operation = f"marking pull request {repo}#{number} ready for review"
        answer = self._http.send(
            "POST",
            self.graphql_url,
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
        data = self._http.get_all(
            f"/repos/{self._check(repo)}/pulls/{int(number)}/reviews",
            f"listing reviews of {repo}#{number}",
        )
        return [convert.review(r) for r in data if r.get("state") in convert.REVIEW_STATES]

    def get_permission(self, repo: str, login: str) -> Permission:
        """An account's role on the repository (``NONE`` when it has none)."""
        path = f"/repos/{self._check(repo)}/collaborators/{quote(login, safe='')}/permission"
        try:
            data = self._http.get(path, f"reading {login}'s permission on {repo}")
        except NotFound:
            self.get_repo(repo)  # raises NotFound when the repository is what is missing
            return Permission.NONE
        return convert.permission(data)

    def is_team_member(self, repo: str, team: str, login: str) -> bool:
        """Whether ``login`` is an active member of team ``org/slug``.

        GitHub answers 404 both for "not a member" and for "no such team", so a 404 is
        followed by reading the team itself: that 404 is the team's :class:`NotFound`.
        """
        self._check(repo)
        org, slug = _team_parts(team)
        base = f"/orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}"
        try:
            data = self._http.get(
                f"{base}/memberships/{quote(login, safe='')}",
                f"reading {login}'s membership of team {team}",
            )
        except NotFound:
            self._http.get(base, f"reading team {team}")  # NotFound: no such team
            return False
        return data.get("state") == "active"

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
            "state": convert.TO_GITHUB_STATE[CommitState(state)],
            "context": context,
            "description": description[:140],
        }
        if target_url:
            payload["target_url"] = target_url
        data = self._http.send(
            "POST",
            f"/repos/{self._check(repo)}/statuses/{sha}",
            f"setting status {context!r} on {repo}@{sha[:12]}",
            json=payload,
        ).json()
        return convert.status(sha, data)

    def list_commit_statuses(self, repo: str, sha: str) -> list[CommitStatus]:
        """The latest status per context on a commit."""
        data = self._http.get(
            f"/repos/{self._check(repo)}/commits/{sha}/status",
            f"reading statuses of {repo}@{sha[:12]}",
        )
        return [convert.status(sha, s) for s in data.get("statuses", [])]

    def clone_url(self, repo: str) -> str:
        """The repository's clone URL, with the token embedded for http(s)."""
        url = self.get_repo(repo).clone_url
        return with_credentials(url, "x-access-token", self.current_token())

    # --- review threads and check logs (bot/forges/github_threads.py)

    def list_review_comments(
        self, repo: str, number: int, review_id: str | None = None
    ) -> list[ReviewComment]:
        """Line comments on a pull request, oldest first (only one review's, if given)."""
        return threads.list_review_comments(self._http, self._check(repo), number, review_id)

    def reply_to_review_comment(
        self, repo: str, number: int, comment_id: str, body: str, *, thread_id: str | None = None
    ) -> Comment:
        """Reply in the thread of review comment ``comment_id`` (GitHub needs no thread id)."""
        return threads.reply(self._http, self._check(repo), number, comment_id, body)

    def get_check_log(self, repo: str, sha: str, name: str) -> str | None:
        """The log of check run ``name`` on ``sha`` (Actions job log, else its output)."""
        return threads.check_log(self._http, self._check(repo), sha, name)


def _team_parts(team: str) -> tuple[str, str]:
    """``org/slug`` split; anything else is refused before a request is sent."""
    org, _, slug = team.strip("@").partition("/")
    if not org or not slug or "/" in slug:
        raise InvalidRequest(f"team {team!r} must look like org/team-slug", forge=FORGE)
    return org, slug
