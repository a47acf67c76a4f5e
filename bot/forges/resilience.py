"""Retries, backoff and HTTP error mapping shared by the GitHub and GitLab adapters.

Both adapters send their requests through their SDK's authenticated session and hand
the outcome to this module, which

* turns an HTTP status (plus the forge's rate-limit headers) into a
  :class:`bot.errors.ForgeError` subclass with a message that says what was being
  done and, for 401/403, which scope or permission is missing;
* retries :class:`~bot.errors.Unavailable` (5xx, timeouts, connection errors) and
  :class:`~bot.errors.RateLimited` with exponential backoff and full jitter, honouring
  ``Retry-After`` / reset headers, within a bounded number of attempts and a bounded
  total wait (:class:`RetryPolicy`);
* before retrying a write whose outcome is unknown (the forge may have applied it and
  then failed), asks a ``recover`` callback whether the write already happened, so a
  retry never posts a second comment or opens a second merge request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import tenacity

from bot.errors import (
    AuthenticationError,
    Conflict,
    Forbidden,
    ForgeError,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unavailable,
)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard an adapter tries before giving up.

    Attributes:
        attempts: Most tries per operation, the first one included.
        backoff_base: First backoff step in seconds (doubles each retry, full jitter).
        backoff_max: Longest single backoff in seconds (not applied to Retry-After).
        max_total_wait: Bound on the seconds slept across all retries of one operation;
            a ``Retry-After`` that would exceed it ends the retries at once.
        timeout: Seconds one HTTP request may take (connect and read).
        sleep: How to wait; tests pass a recorder instead of :func:`time.sleep`.
    """

    attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_total_wait: float = 60.0
    timeout: float = 15.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


def retry_after_seconds(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds the forge asks us to wait, from its rate-limit headers, or None.

    ``Retry-After`` (seconds or an HTTP date) wins; then GitHub's ``X-RateLimit-Reset``
    and GitLab's ``RateLimit-Reset`` (both epoch seconds).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now())
            except (TypeError, ValueError):
                pass
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        if lowered.get(name):
            try:
                return max(0.0, float(lowered[name]) - now())
            except ValueError:
                continue
    return None


def _is_rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    if status == 429:
        return True
    # GitHub answers a primary rate limit with 403 and X-RateLimit-Remaining: 0, and a
    # secondary one with 403 and Retry-After; any other 403 is a real permission error.
    return status == 403 and (
        lowered.get("x-ratelimit-remaining") == "0" or "retry-after" in lowered
    )


def error_for_status(
    status: int,
    *,
    forge: str,
    operation: str,
    headers: Mapping[str, str] | None = None,
    detail: str = "",
    now: Callable[[], float] = time.time,
) -> ForgeError:
    """The :class:`ForgeError` subclass for a non-2xx answer.

    Args:
        status: HTTP status code.
        forge: ``github`` or ``gitlab``.
        operation: What was being done, e.g. ``"reading issue acme/app#3"``.
        headers: Response headers (rate-limit and scope headers are read).
        detail: The forge's own short explanation (its ``message`` field) or a hint
            naming the missing scope; never a token.
        now: Wall clock in epoch seconds, for reset headers.
    """
    headers = headers or {}
    suffix = f": {detail}" if detail else ""
    where = f"{operation} on {forge}"
    if _is_rate_limited(status, headers):
        wait = retry_after_seconds(headers, now=now)
        return RateLimited(
            f"rate limited while {where}{suffix}",
            forge=forge,
            operation=operation,
            retry_after=wait,
        )
    kinds: dict[int, tuple[type[ForgeError], str]] = {
        401: (AuthenticationError, "the token was rejected (missing, wrong or expired)"),
        403: (Forbidden, "the token lacks a scope or permission"),
        404: (NotFound, "not found (or not visible to this token)"),
        409: (Conflict, "conflicts with existing state"),
        410: (NotFound, "gone"),
        400: (InvalidRequest, "the forge refused the request"),
        422: (InvalidRequest, "the forge refused the request"),
    }
    if status in kinds:
        cls, what = kinds[status]
        return cls(f"{where}: {what}{suffix}", forge=forge, operation=operation)
    if status >= 500:
        return Unavailable(
            f"{where}: the forge answered {status}{suffix}", forge=forge, operation=operation
        )
    return ForgeError(
        f"{where}: unexpected HTTP {status}{suffix}", forge=forge, operation=operation
    )


def transport_error(exc: Exception, *, forge: str, operation: str) -> Unavailable:
    """The :class:`Unavailable` for a request that got no HTTP answer (timeout, reset).

    Only the exception's type is named: its text can hold the URL, and so a token.
    """
    return Unavailable(
        f"{operation} on {forge}: {type(exc).__name__}", forge=forge, operation=operation
    )


class _Wait(tenacity.wait.wait_base):
    """Retry-After when the forge gave one, else exponential backoff with full jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = tenacity.wait_random_exponential(
            multiplier=policy.backoff_base, max=policy.backoff_max
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return self._jitter(retry_state)


class _Stop(tenacity.stop.stop_base):
    """Stop after the attempt budget, or when the next sleep would break the wait bound."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if retry_state.attempt_number >= self._policy.attempts:
            return True
        return retry_state.idle_for + retry_state.upcoming_sleep > self._policy.max_total_wait


def call_with_retries(
    policy: RetryPolicy,
    fn: Callable[[], T],
    *,
    recover: Callable[[], T | None] | None = None,
) -> T:
    """Run ``fn``, retrying transient forge failures under ``policy``.

    Args:
        policy: Attempts, backoff and the total-wait bound.
        fn: One attempt; raises :class:`ForgeError` subclasses.
        recover: For writes that are not idempotent on the forge (creating a comment or
            a merge request): called before a retry that follows an ambiguous failure
            (5xx or timeout, where the forge may have applied the write); a non-None
            result is returned instead of writing again.

    Returns:
        What ``fn`` (or ``recover``) returned.

    Raises:
        ForgeError: The last error once retries are exhausted, or at once for errors
            retrying cannot fix (401, 403, 404, 409, 422).
    """
    ambiguous = False

    def attempt() -> T:
        nonlocal ambiguous
        if ambiguous and recover is not None:
            found = recover()
            if found is not None:
                return found
        try:
            return fn()
        except Unavailable:
            ambiguous = True
            raise

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((Unavailable, RateLimited)),
        wait=_Wait(policy),
        stop=_Stop(policy),
        sleep=policy.sleep,
        reraise=True,
    )
    return retrying(attempt)


def short_detail(body: Any) -> str:
    """The forge's explanation from a JSON error body, trimmed to one line."""
    if isinstance(body, dict):
        parts = []
        for key in ("message", "error", "error_description"):
            value = body.get(key)
            if isinstance(value, str | list | dict) and value:
                parts.append(str(value))
        text = "; ".join(parts)
    elif isinstance(body, str):
        text = body
    else:
        text = ""
    text = " ".join(text.split())
    return text[:300]
