"""GitHub's HTTP side: endpoints, one request with retries, pagination, error mapping.

Requests go through github3.py's authenticated session (it sets the token header and the
API media type); the answer is checked here and turned into a :mod:`bot.errors` class
with a message that says what was being done and, for 401/403, which scope or
permission GitHub says is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import github3
import requests

from bot.errors import Conflict, ForgeError
from bot.forges.github_auth import FORGE, AppCredentials, TokenSource
from bot.forges.resilience import (
    RetryPolicy,
    call_with_retries,
    error_for_status,
    short_detail,
    transport_error,
)


def graphql_url(base_url: str) -> str:
    """The GraphQL endpoint that belongs with a REST API root.

    github.com serves REST at ``https://api.github.com`` and GraphQL at
    ``https://api.github.com/graphql``; GitHub Enterprise Server serves REST at
    ``https://HOST/api/v3`` and GraphQL at ``https://HOST/api/graphql``.

    Args:
        base_url: The REST API root, with or without a trailing slash.
    """
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path.rstrip("/")
    if path.lower().endswith("/api/v3"):
        path = path[: -len("/v3")]
    return urlunsplit(parts._replace(path=f"{path}/graphql"))


def scope_hint(headers: Any) -> str:
    """What GitHub's headers say a refused call needed (scopes or an App permission)."""
    have = headers.get("X-OAuth-Scopes")
    need = headers.get("X-Accepted-OAuth-Scopes")
    permission = headers.get("X-Accepted-GitHub-Permissions")
    hints = []
    if need:
        hints.append(f"this call needs token scope(s) {need} (token has: {have or 'none'})")
    if permission:
        hints.append(f"this call needs permission {permission}")
    return "; ".join(hints)


def error_for_response(resp: requests.Response, operation: str) -> ForgeError:
    """The :class:`ForgeError` for a GitHub answer of 400 or more."""
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
            return Conflict(f"{operation} on github: {detail}", forge=FORGE, operation=operation)
    if resp.status_code in (401, 403):
        detail = "; ".join(filter(None, [detail, scope_hint(resp.headers)]))
    return error_for_status(
        resp.status_code,
        forge=FORGE,
        operation=operation,
        headers=dict(resp.headers),
        detail=detail,
    )


class GitHubSession:
    """An authenticated github3.py session against one REST API root.

    Args:
        base_url: REST API root (``https://api.github.com`` or ``https://host/api/v3``).
        token: A personal access token (unused for an App).
        app: App installation credentials, or None.
        policy: Retries, backoff and request timeout.
        clock: Epoch seconds, for the installation token's expiry.
        refresh_margin: Refresh the installation token this many seconds early.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        app: AppCredentials | None,
        policy: RetryPolicy,
        clock: Callable[[], float],
        refresh_margin: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.graphql_url = graphql_url(self.base_url)
        self._policy = policy
        self._gh = github3.GitHub(token=token or "")
        self._gh.session.base_url = self.base_url
        self._gh.session.default_connect_timeout = policy.timeout
        self._gh.session.default_read_timeout = policy.timeout
        self.auth = TokenSource(self._gh, token=token, app=app, clock=clock, margin=refresh_margin)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        recover: Callable[[], Any] | None = None,
        as_app: bool = False,
    ) -> Any:
        """Send one request under the retry policy; returns the response (or ``recover``'s).

        A 401 with an App token mints a new installation token and tries once more.
        ``as_app`` authenticates as the App itself (a JWT) instead of its installation.

        Raises:
            ForgeError: the mapped error once retries are exhausted or cannot help.
        """
        refreshed = False

        def once() -> requests.Response:
            nonlocal refreshed
            extra: dict[str, Any] = {}
            if as_app:
                # The session's auth would put the installation token back: skip it.
                extra = {"headers": self.auth.app_jwt_headers(), "auth": _keep_headers}
            else:
                self.auth.ensure()
            try:
                resp = self._gh.session.request(
                    method, self._url(path), json=json, params=params, **extra
                )
            except requests.RequestException as exc:
                raise transport_error(exc, forge=FORGE, operation=operation) from exc
            if resp.status_code == 401 and self.auth.uses_app and not refreshed and not as_app:
                # The installation token may have been revoked early: mint one and retry.
                refreshed = True
                self.auth.ensure(force=True)
                return once()
            if resp.status_code >= 400:
                raise error_for_response(resp, operation)
            return resp

        return call_with_retries(self._policy, once, recover=recover)

    def get(self, path: str, operation: str, **params: Any) -> Any:
        """GET ``path`` and return its JSON."""
        return self.send("GET", path, operation, params=params or None).json()

    def get_all(self, path: str, operation: str, *, key: str | None = None, **params: Any) -> list:
        """GET every page of a list (following ``Link: rel="next"``).

        ``key`` names the list inside each page's object (``check_runs``) for
        endpoints that answer ``{"total_count": N, key: [...]}``.
        """
        items: list[Any] = []
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **params}
        while url:
            resp = self.send("GET", url, operation, params=query)
            page = resp.json()
            items.extend(page[key] if key is not None else page)
            url = resp.links.get("next", {}).get("url")
            query = None  # the next link carries the query
        return items


def _keep_headers(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A requests auth hook that leaves the request's own Authorization header alone."""
    return request
