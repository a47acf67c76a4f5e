"""``stats`` and ``audit verify`` while the server holds the records: the admin endpoints.

The server answers ``GET /admin/stats`` and ``GET /admin/audit/verify`` from the records
it holds (same auth as ``/admin/jobs``); the CLI asks them when the data directory is
in use. The CLI tests replay what the real endpoints answered through pytest-httpserver.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bot.cli import cli, main
from bot.intake.server import create_app
from bot.settings import load_settings
from bot.store.audit import AuditLog
from bot.store.db import Database
from bot.store.records import Records

from .helpers import GH_SECRET

AUTH = {"authorization": "Bearer " + "a" * 32}


def seed(data_dir, *, tamper: bool = False) -> None:
    with Database.open(data_dir) as db:
        Records(db).create_run(forge="github", repo="acme/app", issue_number=1)
        Records(db).create_run(forge="github", repo="other/lib", issue_number=2)
        log = AuditLog(db)
        for i in range(3):
            log.append("bot", "comment.applied", f"acme/app#{i}", {"i": i})
        if tamper:
            db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")


@pytest.fixture
def server(data_dir):
    def start(**seeding):
        seed(data_dir, **seeding)
        settings = load_settings(github_webhook_secret=GH_SECRET, admin_token="a" * 32)
        return TestClient(create_app(settings, start_workers=False))

    return start


def test_stats_endpoint_answers_what_stats_json_prints(server, data_dir) -> None:
    with server() as client:
        assert client.get("/admin/stats").status_code == 401  # same auth as /admin/jobs
        everything = client.get("/admin/stats", headers=AUTH).json()
        one = client.get("/admin/stats", params={"repo": "acme/app"}, headers=AUTH).json()
        later = client.get("/admin/stats", params={"since": "2999-01-01"}, headers=AUTH).json()
        bad = client.get("/admin/stats", params={"since": "yesterday"}, headers=AUTH)
    assert everything["runs"]["total"] == 2
    assert one["runs"]["total"] == 1 and one["filters"]["repo"] == "acme/app"
    assert later["runs"]["total"] == 0
    assert bad.status_code == 422
    direct = CliRunner().invoke(cli, ["stats", "--json"])  # the server has stopped now
    assert json.loads(direct.output) == everything


def test_audit_verify_endpoint(server) -> None:
    with server() as client:
        assert client.get("/admin/audit/verify").status_code == 401
        ok = client.get("/admin/audit/verify", headers=AUTH).json()
    assert ok["ok"] is True and ok["rows"] == 3


def test_audit_verify_endpoint_reports_a_tampered_row(server) -> None:
    with server(tamper=True) as client:
        broken = client.get("/admin/audit/verify", headers=AUTH)
    assert broken.status_code == 200
    assert (broken.json()["ok"], broken.json()["first_bad_seq"]) == (False, 2)


def _answers(server, path: str, **seeding) -> dict:
    with server(**seeding) as client:
        return client.get(path, headers=AUTH).json()


def test_stats_cli_asks_the_server_holding_the_records(server, data_dir, httpserver) -> None:
    answer = _answers(server, "/admin/stats")
    httpserver.expect_request("/admin/stats", query_string="repo=acme%2Fapp").respond_with_json(
        answer
    )
    with Database.open(data_dir):  # stands in for the running server's writer lock
        result = CliRunner().invoke(
            cli, ["stats", "--json", "--repo", "acme/app", "--url", httpserver.url_for("/")]
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == answer
    assert "asking it at" in result.stderr
    httpserver.check_assertions()


def test_stats_table_from_the_server(server, data_dir, httpserver) -> None:
    httpserver.expect_request("/admin/stats").respond_with_json(_answers(server, "/admin/stats"))
    with Database.open(data_dir):
        result = CliRunner().invoke(cli, ["stats", "--url", httpserver.url_for("/")])
    assert result.exit_code == 0, result.output
    assert "Runs" in result.stdout and "total" in result.stdout


@pytest.mark.parametrize(("tamper", "code"), [(False, 0), (True, 1)])
def test_audit_verify_cli_asks_the_server(server, data_dir, httpserver, tamper, code) -> None:
    answer = _answers(server, "/admin/audit/verify", tamper=tamper)
    httpserver.expect_request("/admin/audit/verify").respond_with_json(answer)
    with Database.open(data_dir):
        result = CliRunner().invoke(cli, ["audit", "verify", "--url", httpserver.url_for("/")])
    assert result.exit_code == code, result.output
    if tamper:
        assert "row 2" in result.stderr
    else:
        assert "3 rows verified" in result.stdout


def test_cli_says_when_the_holding_server_does_not_answer(data_dir, capsys) -> None:
    seed(data_dir)
    with Database.open(data_dir):
        code = main(["audit", "verify", "--url", "http://127.0.0.1:9"])
    assert code == 1
    assert "--url" in capsys.readouterr().err


def test_locked_records_hint_names_what_can_ask_the_server(data_dir) -> None:
    from bot.errors import StoreLocked

    seed(data_dir)
    with Database.open(data_dir), pytest.raises(StoreLocked) as info:
        Database.open_readonly(data_dir)
    assert "ask it over HTTP" not in str(info.value)
    assert "admin API" in str(info.value)
