"""``agentforge jobs`` on the records directly, and through a running server's admin API."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bot.cli import cli
from bot.intake.access import client_is_loopback
from bot.intake.server import create_app
from bot.jobs.queue import Delivery, JobQueue
from bot.settings import load_settings
from bot.store.db import Database

from .helpers import GH_SECRET


def seed(data_dir, n: int = 2) -> list[int]:
    with Database.open(data_dir) as db:
        q = JobQueue(db, max_attempts=1)
        ids = [
            q.enqueue(
                Delivery(forge="github", delivery_id=f"d{i}", event_name="issues", payload=b"{}")
            ).job_id
            for i in range(n)
        ]
        q.fail(q.lease("w"), "boom")  # the first job is dead
        q.close()
    return ids


def test_list_json_directly(data_dir) -> None:
    ids = seed(data_dir)
    result = CliRunner().invoke(cli, ["jobs", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == ids[::-1]
    assert {r["state"] for r in rows} == {"dead", "queued"}
    assert all({"id", "delivery_id", "state", "attempts"} <= set(r) for r in rows)


def seed_finished(data_dir) -> list[int]:
    """One job nothing handled, one handled, one not run yet (newest first in listings)."""
    with Database.open(data_dir) as db:
        q = JobQueue(db, max_attempts=1)
        for i in range(3):
            q.enqueue(
                Delivery(forge="github", delivery_id=f"f{i}", event_name="issues", payload=b"{}")
            )
        unhandled, handled = q.lease("w"), q.lease("w")
        q.complete(unhandled, {"handled": False, "reason": "no handler for issue"})
        q.complete(handled, {"handled": True, "kind": "issue", "actions": []})
        q.close()
    return [unhandled.id, handled.id]


def test_list_shows_whether_a_done_job_was_handled(data_dir) -> None:
    unhandled, handled = seed_finished(data_dir)
    rows = {
        r["id"]: r for r in json.loads(CliRunner().invoke(cli, ["jobs", "list", "--json"]).output)
    }
    assert rows[unhandled]["state"] == rows[handled]["state"] == "done"
    assert (rows[unhandled]["handled"], rows[unhandled]["reason"]) == (
        False,
        "no handler for issue",
    )
    assert rows[handled]["handled"] is True
    queued = [r for r in rows.values() if r["state"] == "queued"]
    assert queued[0]["handled"] is None
    text = CliRunner().invoke(cli, ["jobs", "list"]).output.splitlines()
    assert "HANDLED" in text[0]
    line = next(x for x in text if x.split()[0] == str(unhandled))
    assert line.split()[1:3] == ["done", "no"]
    assert line.endswith("no handler for issue")
    assert next(x for x in text if x.split()[0] == str(handled)).split()[1:3] == ["done", "yes"]


def test_admin_api_lists_handled_and_reason(data_dir) -> None:
    unhandled, _ = seed_finished(data_dir)
    settings = load_settings(github_webhook_secret=GH_SECRET, admin_token="a" * 32)
    with TestClient(create_app(settings, start_workers=False)) as client:
        auth = {"authorization": "Bearer " + "a" * 32}
        rows = client.get("/admin/jobs", params={"state": "done"}, headers=auth).json()
    row = next(r for r in rows if r["id"] == unhandled)
    assert (row["handled"], row["reason"]) == (False, "no handler for issue")


def test_list_with_no_records_is_empty(data_dir) -> None:
    result = CliRunner().invoke(cli, ["jobs", "list", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_show_and_retry_directly(data_dir) -> None:
    ids = seed(data_dir)
    shown = CliRunner().invoke(cli, ["jobs", "show", str(ids[0])])
    assert json.loads(shown.output)["last_error"] == "boom"
    assert CliRunner().invoke(cli, ["jobs", "retry", str(ids[0])]).exit_code == 0
    again = json.loads(CliRunner().invoke(cli, ["jobs", "show", str(ids[0])]).output)
    assert again["state"] == "queued" and again["attempts"] == 0
    assert CliRunner().invoke(cli, ["jobs", "retry", str(ids[1])]).exit_code != 0  # queued
    assert CliRunner().invoke(cli, ["jobs", "show", "999"]).exit_code != 0


def test_cli_uses_the_admin_api_while_the_server_holds_the_data_dir(data_dir, httpserver) -> None:
    seed(data_dir)
    httpserver.expect_request("/admin/jobs", query_string="limit=100").respond_with_json(
        [{"id": 1, "delivery_id": "d0", "state": "dead", "attempts": 1}]
    )
    with Database.open(data_dir):  # stands in for the running server's writer lock
        result = CliRunner().invoke(
            cli, ["jobs", "list", "--json", "--url", httpserver.url_for("/")]
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["state"] == "dead"
    httpserver.check_assertions()


def test_cli_says_when_the_server_cannot_be_reached(data_dir) -> None:
    from bot.cli import main

    seed(data_dir)
    with Database.open(data_dir):
        code = main(["jobs", "list", "--url", "http://127.0.0.1:9"])
    assert code == 1


@pytest.fixture
def admin(data_dir):
    settings = load_settings(github_webhook_secret=GH_SECRET, admin_token="a" * 32)
    seed(data_dir)
    with TestClient(create_app(settings, start_workers=False)) as client:
        yield client


def test_admin_api_needs_the_token(admin) -> None:
    assert admin.get("/admin/jobs").status_code == 401
    bad = admin.get("/admin/jobs", headers={"authorization": "Bearer " + "b" * 32})
    assert bad.status_code == 401
    ok = admin.get("/admin/jobs", headers={"authorization": "Bearer " + "a" * 32})
    assert ok.status_code == 200 and len(ok.json()) == 2


def test_admin_api_operations(admin) -> None:
    auth = {"authorization": "Bearer " + "a" * 32}
    dead = admin.get("/admin/jobs", params={"state": "dead"}, headers=auth).json()
    assert len(dead) == 1
    job_id = dead[0]["id"]
    assert admin.get(f"/admin/jobs/{job_id}", headers=auth).json()["last_error"] == "boom"
    assert admin.post(f"/admin/jobs/{job_id}/retry", headers=auth).status_code == 200
    assert admin.post(f"/admin/jobs/{job_id}/retry", headers=auth).status_code == 409
    assert admin.post("/admin/jobs/999/retry", headers=auth).status_code == 404
    assert admin.get("/admin/jobs", params={"state": "bogus"}, headers=auth).status_code == 400


def test_admin_api_without_token_is_loopback_only(data_dir) -> None:
    settings = load_settings(github_webhook_secret=GH_SECRET)
    with TestClient(create_app(settings, start_workers=False)) as client:
        assert client.get("/admin/jobs").status_code == 403  # TestClient is not loopback
    assert client_is_loopback("127.0.0.1") and client_is_loopback("::1")
    assert not client_is_loopback("10.0.0.1") and not client_is_loopback(None)
