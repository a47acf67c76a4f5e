"""Canaries: unique token, webhook secret and model key values must appear nowhere.

The path is the end-to-end one (signed webhook → server → queue → worker → handler →
judge → executor → fake GitHub), configured the production way (environment variables
read by ``load_settings``, logging configured as ``serve`` does). The handler proposes a
comment, a label, a push and a push that fails (a missing base branch), so error paths
run too. Afterwards every place a secret could leak is searched for the canaries: log
lines, HTTP responses, what the fake forge received (bodies, not the auth header the
token belongs in), every file of the data directory (DuckDB, journal, anchor) and the
audit rows.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.actions import AddLabels, FileChange, PostComment, PushCommit
from bot.events import EventKind
from bot.executor import ExecutingDispatcher, executor_factory_from_settings
from bot.intake.server import create_app
from bot.jobs.dispatch import InProcessDispatcher
from bot.logs import configure_logging
from bot.settings import load_settings
from bot.store.audit import AuditLog
from bot.store.db import Database
from handlers.registry import HandlerRegistry
from tests.conftest import WEBHOOKS
from tests.fakes.github_api import GitHubFake

TOKEN = "canaryTOKEN-7f3a9c1e5b2d4f6a8c0e"
SECRET = "canarySECRET-4b8d2f6a1c3e5a7b9d0f"
OPENAI = "sk-canaryOPENAI-9e8d7c6b5a4f3e2d1c0b"
ADMIN = "canary-admin-token-5a5a5a5a"
CANARIES = (TOKEN, SECRET, OPENAI, ADMIN)
BOT = "agentforge-bot"
REPO = "Codertocat/Hello-World"
PAYLOAD = WEBHOOKS / "github" / "issue_comment.created.variant-1.json"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not PAYLOAD.exists(), reason=f"shared payloads missing at {WEBHOOKS}"),
]


def handler(event, ctx) -> list:
    """Everything the bot writes, including a push that cannot land."""
    return [
        PostComment(repo=REPO, number=1, body="Working on it.", marker_key="status"),
        AddLabels(repo=REPO, number=1, labels=["agentforge"]),
        PushCommit(
            repo=REPO,
            branch="agentforge/issue-1",
            base="main",
            message="Add notes",
            changes=[FileChange(path="docs/notes.md", content="# Notes\n")],
        ),
        PushCommit(
            repo=REPO,
            branch="agentforge/other",
            base="no-such-branch",
            message="Cannot land",
            changes=[FileChange(path="x.md", content="x\n")],
        ),
    ]


def found_in(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [c for c in CANARIES if c.encode() in data]


def test_no_canary_appears_anywhere(tmp_path: Path, monkeypatch) -> None:
    fake = GitHubFake(tmp_path)
    fake.add_repo(REPO)
    fake.add_token(TOKEN, BOT)
    fake.grant(REPO, BOT, "write")
    fake.grant(REPO, "Codertocat", "write")
    fake.add_token("owner-token", "Codertocat")
    import requests

    requests.post(
        f"{fake.url}/repos/{REPO}/issues",
        json={"title": "Spelling"},
        headers={"Authorization": "token owner-token"},
    ).raise_for_status()
    for name, value in {
        "AGENTFORGE_GITHUB_TOKEN": TOKEN,
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": SECRET,
        "AGENTFORGE_GITHUB_URL": fake.url,
        "AGENTFORGE_BOT_LOGIN": BOT,
        "AGENTFORGE_DATA_DIR": str(tmp_path / "data"),
        "AGENTFORGE_CLONES_DIR": str(tmp_path / "clones"),
        "AGENTFORGE_ADMIN_TOKEN": ADMIN,
        "OPENAI_API_KEY": OPENAI,
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(workers=1)
    logs = io.StringIO()
    configure_logging("DEBUG", "json", logs)
    db = Database.open(settings.data_dir)
    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, handler)
    dispatcher = ExecutingDispatcher(
        InProcessDispatcher(registry), executor_factory_from_settings(settings, audit=AuditLog(db))
    )
    body = PAYLOAD.read_bytes()
    headers = {
        "content-type": "application/json",
        "x-github-event": "issue_comment",
        "x-github-delivery": "canary-1",
        "x-hub-signature-256": "sha256="
        + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }
    responses: list[str] = []
    try:
        with TestClient(create_app(settings, db=db, dispatcher=dispatcher)) as client:
            reply = client.post("/webhooks/github", content=body, headers=headers)
            assert reply.status_code == 202, reply.text
            job_id = reply.json()["job_id"]
            forged = client.post(
                "/webhooks/github", content=body, headers={**headers, "x-hub-signature-256": "x"}
            )
            responses += [reply.text, forged.text]
            from bot.jobs.queue import get_job

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                state = (get_job(db, job_id) or {}).get("state")
                if state in ("done", "dead"):
                    break
                time.sleep(0.05)
            assert state == "done"
            job = client.get(f"/admin/jobs/{job_id}", headers={"authorization": f"Bearer {ADMIN}"})
            responses += [job.text, client.get("/healthz").text, client.get("/metrics").text]
        posts = fake.calls_to("POST", f"/repos/{REPO}/issues/1/comments")
        assert len(posts) == 1  # the path ran: the comment was written
    finally:
        fake.close()

    assert found_in(logs.getvalue()) == [], "a canary is in the logs"
    for text in responses:
        assert found_in(text) == [], "a canary is in an HTTP response"
    for call in fake.calls:
        assert found_in(json.dumps(call.body, default=str)) == [], f"{call.path} body"
        assert found_in(call.path + json.dumps(call.query)) == []
    for path in sorted((tmp_path / "data").rglob("*")):
        if path.is_file():
            assert found_in(path.read_bytes()) == [], f"a canary is in {path}"
    with Database.open_readonly(settings.data_dir) as records:
        rows = AuditLog(records).entries(limit=1000)
    assert {r.action for r in rows} >= {"comment.applied", "push_commit.applied"}
    # The push onto a missing base could not be judged (its base is unreadable): denied.
    [refused] = [r for r in rows if r.action == "push_commit.denied"]
    assert "reading the base of the push failed" in refused.detail["detail"]
    assert found_in("\n".join(r.model_dump_json() for r in rows)) == []
