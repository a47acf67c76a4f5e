"""Who may read the dashboard: loopback freely, anyone else with the admin token."""

from __future__ import annotations

import pytest

from bot.dashboard.auth import COOKIE, cookie_value

from .test_pages import LOCAL, dashboard

REMOTE = ("203.0.113.7", 40000)
TOKEN = "t" * 40


@pytest.fixture
def remote(data_dir):
    with dashboard(data_dir, client=REMOTE, admin_token=TOKEN) as (http, _):
        yield http


def test_loopback_needs_no_login_even_with_a_token_configured(data_dir) -> None:
    with dashboard(data_dir, client=LOCAL, admin_token=TOKEN) as (http, _):
        assert http.get("/").status_code == 200
    with dashboard(data_dir, client=("::1", 40000)) as (http, _):
        assert http.get("/runs").status_code == 200


@pytest.mark.parametrize("path", ["/", "/runs", "/runs/x", "/usage", "/deliveries", "/jobs"])
def test_remote_request_without_the_token_is_401_with_a_reason(remote, path) -> None:
    page = remote.get(path)
    assert page.status_code == 401
    assert "needs the admin token" in page.text
    assert page.headers["www-authenticate"].startswith("Bearer")


def test_remote_request_with_a_wrong_token_is_401(remote) -> None:
    for headers in ({"authorization": "Bearer " + "x" * 40}, {"authorization": "Basic abc"}):
        page = remote.get("/", headers=headers)
        assert page.status_code == 401 and "does not hold the admin token" in page.text
    assert remote.get("/", params={"token": "nope"}).status_code == 401
    remote.cookies.set(COOKIE, "stale")
    page = remote.get("/")
    assert page.status_code == 401 and "cookie is out of date" in page.text


def test_bearer_token_opens_every_page(remote) -> None:
    page = remote.get("/usage", headers={"authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and "Model usage" in page.text


def test_token_in_the_address_becomes_a_cookie_and_leaves_the_address(remote) -> None:
    answer = remote.get("/runs", params={"token": TOKEN, "state": "failed"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs?state=failed"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    value = answer.cookies[COOKIE]
    assert value == cookie_value(__import__("pydantic").SecretStr(TOKEN))
    assert TOKEN not in value  # the cookie is derived from the token, not the token
    page = remote.get("/runs", params={"state": "failed"})
    assert page.status_code == 200 and "<h1>Runs</h1>" in page.text


def test_the_cookie_does_not_open_the_admin_api(remote) -> None:
    remote.get("/", params={"token": TOKEN})
    assert remote.get("/admin/jobs").status_code == 401


def test_without_a_configured_token_remote_clients_are_refused(data_dir) -> None:
    with dashboard(data_dir, client=REMOTE) as (http, _):
        page = http.get("/")
    assert page.status_code == 403
    assert "AGENTFORGE_ADMIN_TOKEN" in page.text


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"], ids=lambda h: h)
def test_a_request_a_local_proxy_forwarded_is_not_local(data_dir, header) -> None:
    with dashboard(data_dir, client=LOCAL, admin_token=TOKEN) as (http, _):
        page = http.get("/", headers={header: "198.51.100.4"})
        assert page.status_code == 401
        ok = http.get("/", headers={header: "198.51.100.4", "authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
