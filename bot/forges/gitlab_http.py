"""GitLab's HTTP side: one request with retries, pagination, error mapping.

python-gitlab builds the URLs and sends the token; its own retry loop is switched off
so :mod:`bot.forges.resilience` applies one bounded policy to both forges. Its errors
carry no response headers, so the last response's headers are kept (per thread) for
``Retry-After`` and ``RateLimit-Reset``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import gitlab
import requests

from bot.forges.resilience import (
    RetryPolicy,
    call_with_retries,
    error_for_status,
    short_detail,
    transport_error,
)

FORGE = "gitlab"


def scope_hint(body: Any) -> str:
    """The scope a 401/403 body says the token lacks (``insufficient_scope``), or ``""``."""
    try:
        data = json.loads(body) if isinstance(body, bytes | str) and body else {}
    except ValueError:
        return ""
    if isinstance(data, dict) and data.get("error") == "insufficient_scope":
        return f"the token needs the {data.get('scope', 'api')!r} scope"
    return ""


class GitLabSession:
    """A python-gitlab client against one instance, under one retry policy.

    Args:
        base_url: The instance, e.g. ``https://gitlab.com`` (no ``/api/v4``).
        token: A personal, project or group access token.
        policy: Retries, backoff and request timeout.
        clock: Epoch seconds, for ``RateLimit-Reset``.
    """

    def __init__(
        self, base_url: str, token: str, *, policy: RetryPolicy, clock: Callable[[], float]
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._last = threading.local()
        self._gl = gitlab.Gitlab(
            base_url,
            private_token=token,
            timeout=policy.timeout,
            retry_transient_errors=False,
            keep_base_url=True,
        )
        self._gl.session.hooks["response"].append(self._remember)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.headers = dict(response.headers)

    def send(
        self,
        verb: str,
        path: str,
        operation: str,
        *,
        query: dict[str, Any] | None = None,
        post: dict[str, Any] | None = None,
        recover: Callable[[], Any] | None = None,
    ) -> Any:
        """Send one request under the retry policy; returns the response (or ``recover``'s).

        Raises:
            ForgeError: the mapped error once retries are exhausted or cannot help.
        """

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
                    detail = "; ".join(filter(None, [detail, scope_hint(exc.response_body)]))
                raise error_for_status(
                    exc.response_code or 0,
                    forge=FORGE,
                    operation=operation,
                    headers=getattr(self._last, "headers", {}),
                    detail=detail,
                    now=self._clock,
                ) from None
            except requests.RequestException as exc:
                raise transport_error(exc, forge=FORGE, operation=operation) from exc

        return call_with_retries(self._policy, once, recover=recover)

    def get(self, path: str, operation: str, /, **query: Any) -> Any:
        """GET ``path`` and return its JSON."""
        return self.send("get", path, operation, query=query or None).json()

    def get_all(self, path: str, operation: str, /, **query: Any) -> list[Any]:
        """GET every page of a list (following ``X-Next-Page``)."""
        items: list[Any] = []
        page = 1
        while True:
            resp = self.send("get", path, operation, query={**query, "per_page": 100, "page": page})
            items.extend(resp.json())
            following = resp.headers.get("X-Next-Page")
            if not following:
                return items
            page = int(following)
