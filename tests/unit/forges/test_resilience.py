"""Error mapping and the retry loop shared by both adapters."""

from __future__ import annotations

import pytest

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
from bot.forges.resilience import (
    RetryPolicy,
    call_with_retries,
    error_for_status,
    retry_after_seconds,
    short_detail,
)


@pytest.mark.parametrize(
    ("status", "headers", "kind"),
    [
        (401, {}, AuthenticationError),
        (403, {}, Forbidden),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000"}, RateLimited),
        (403, {"Retry-After": "60"}, RateLimited),
        (403, {"X-RateLimit-Remaining": "12"}, Forbidden),
        (404, {}, NotFound),
        (410, {}, NotFound),
        (409, {}, Conflict),
        (400, {}, InvalidRequest),
        (422, {}, InvalidRequest),
        (429, {}, RateLimited),
        (500, {}, Unavailable),
        (502, {}, Unavailable),
        (504, {}, Unavailable),
    ],
)
def test_status_maps_to_error_class(status, headers, kind):
    err = error_for_status(status, forge="github", operation="reading issue a/b#1", headers=headers)
    assert type(err) is kind
    assert (err.forge, err.operation) == ("github", "reading issue a/b#1")


def test_unknown_status_is_a_plain_forge_error():
    err = error_for_status(418, forge="gitlab", operation="x")
    assert type(err) is ForgeError


def test_rate_limit_carries_the_wait():
    err = error_for_status(
        403,
        forge="github",
        operation="x",
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030"},
        now=lambda: 1000.0,
    )
    assert isinstance(err, RateLimited)
    assert err.retry_after == 30.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "Thu, 01 Jan 1970 00:16:50 GMT"}, 10.0),
        ({"X-RateLimit-Reset": "1012"}, 12.0),
        ({"RateLimit-Reset": "1005"}, 5.0),
        ({"RateLimit-Reset": "900"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"RateLimit-Reset": "later"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers, expected):
    assert retry_after_seconds(headers, now=lambda: 1000.0) == expected


def test_short_detail_reads_forge_messages():
    assert short_detail({"message": "Not Found"}) == "Not Found"
    assert "insufficient_scope" in short_detail({"error": "insufficient_scope"})
    assert short_detail(None) == ""
    assert len(short_detail("x" * 1000)) == 300


class Script:
    """A callable that raises or returns, one step per call."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def _policy(waits, **kw):
    options = {"attempts": 4, "backoff_base": 0.01, "backoff_max": 0.05, "max_total_wait": 5.0}
    options.update(kw)
    return RetryPolicy(sleep=waits.append, **options)


def test_transient_errors_are_retried_with_bounded_backoff():
    waits: list[float] = []
    fn = Script(Unavailable("502"), Unavailable("timeout"), "done")
    assert call_with_retries(_policy(waits), fn) == "done"
    assert fn.calls == 3
    assert len(waits) == 2
    assert all(0 <= w <= 0.05 for w in waits)


def test_gives_up_after_the_attempt_budget():
    waits: list[float] = []
    fn = Script(*[Unavailable("502")] * 10)
    with pytest.raises(Unavailable):
        call_with_retries(_policy(waits, attempts=3), fn)
    assert fn.calls == 3


@pytest.mark.parametrize("error", [NotFound("x"), Forbidden("x"), AuthenticationError("x")])
def test_permanent_errors_are_not_retried(error):
    fn = Script(error, "never")
    with pytest.raises(type(error)):
        call_with_retries(_policy([]), fn)
    assert fn.calls == 1


def test_retry_after_is_honoured():
    waits: list[float] = []
    fn = Script(RateLimited("slow down", retry_after=2.5), "ok")
    assert call_with_retries(_policy(waits), fn) == "ok"
    assert waits == [2.5]


def test_retry_after_beyond_the_total_bound_stops_at_once():
    waits: list[float] = []
    fn = Script(RateLimited("slow down", retry_after=3600), "never")
    with pytest.raises(RateLimited) as info:
        call_with_retries(_policy(waits, max_total_wait=10), fn)
    assert info.value.retry_after == 3600
    assert waits == []
    assert fn.calls == 1


def test_total_wait_is_bounded_across_retries():
    waits: list[float] = []
    fn = Script(*[RateLimited("x", retry_after=4)] * 10)
    with pytest.raises(RateLimited):
        call_with_retries(_policy(waits, attempts=10, max_total_wait=10), fn)
    assert sum(waits) <= 10
    assert waits == [4, 4]


def test_recover_runs_only_after_an_ambiguous_failure():
    recovered: list[str] = []

    def recover():
        recovered.append("looked")
        return "found-existing"

    fn = Script(RateLimited("x", retry_after=0), Unavailable("502 after write"), "second write")
    assert call_with_retries(_policy([]), fn, recover=recover) == "found-existing"
    assert fn.calls == 2
    assert recovered == ["looked"]


def test_recover_returning_none_lets_the_write_retry():
    fn = Script(Unavailable("502 before write"), "written")
    assert call_with_retries(_policy([]), fn, recover=lambda: None) == "written"
    assert fn.calls == 2
