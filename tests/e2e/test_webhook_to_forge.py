"""End to end: a signed webhook in, comments and labels out on a fake forge.

The recorded payload is POSTed to the real FastAPI app; the delivery is verified,
queued in DuckDB and run by a worker thread; a test handler proposes a marked comment
and a label; the executor applies them through the real forge adapter (github3.py /
python-gitlab sessions) to the stateful REST fake on loopback. Redelivering the same
webhook, and a copy under another delivery id, must not add a second comment.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.actions import AddLabels, PostComment
from bot.events import EventKind
from bot.executor import ExecutingDispatcher, executor_factory_from_settings
from bot.intake.server import create_app
from bot.jobs.dispatch import InProcessDispatcher
from bot.settings import Settings
from bot.store.audit import AuditLog
from bot.store.db import Database
from handlers.registry import HandlerRegistry
from tests.conftest import webhook_path
from tests.fakes.github_api import GitHubFake
from tests.fakes.gitlab_api import GitLabFake

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789abcdef"
TOKEN = "e2e-bot-token-0123456789"
BOT = "agentforge-bot"


def acknowledge(event, ctx) -> list:
    """The test handler: a marked status comment and a label, both idempotent."""
    repo, number = event.repo.full_name, event.number
    return [
        PostComment(
            repo=repo, number=number, body=f"Seen {event.actor.login}'s comment.", marker_key="ack"
        ),
        AddLabels(repo=repo, number=number, labels=["agentforge"]),
    ]


@dataclass
class Site:
    """One forge under test: its fake, settings, and how to sign a delivery."""

    forge: str
    fake: Any
    settings: dict[str, Any]
    body: bytes
    repo: str
    number: int
    comment_posts: str  # path regex of "create a comment" calls

    def headers(self, delivery: str, secret: str = SECRET) -> dict[str, str]:
        if self.forge == "github":
            digest = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
            return {
                "content-type": "application/json",
                "x-github-event": "issue_comment",
                "x-github-delivery": delivery,
                "x-hub-signature-256": f"sha256={digest}",
            }
        return {
            "content-type": "application/json",
            "x-gitlab-event": "Note Hook",
            "idempotency-key": delivery,
            "x-gitlab-token": secret,
        }


def github_site(tmp_path: Path) -> Site:
    name = "issue_comment.created.variant-1.json"
    fake = GitHubFake(tmp_path)
    fake.add_repo("Codertocat/Hello-World")
    fake.add_token(TOKEN, BOT)
    fake.grant("Codertocat/Hello-World", BOT, "write")
    fake.add_token("owner-token", "Codertocat")
    _create_issue(fake.url + "/repos/Codertocat/Hello-World/issues", "token owner-token")
    return Site(
        "github",
        fake,
        {"github_webhook_secret": SECRET, "github_token": TOKEN, "github_url": fake.url},
        webhook_path("github", name).read_bytes(),
        "Codertocat/Hello-World",
        1,
        r"/repos/Codertocat/Hello-World/issues/1/comments",
    )


def gitlab_site(tmp_path: Path) -> Site:
    name = "note_hook.issue.go-scm.json"
    fake = GitLabFake(tmp_path)
    fake.add_project("gitlab-org/hello-world")
    fake.add_token(TOKEN, BOT)
    fake.grant("gitlab-org/hello-world", BOT, 30)
    from bot.forges.gitlab import GitLabForge

    GitLabForge(token=TOKEN, base_url=fake.url).create_issue("gitlab-org/hello-world", "Hello")
    return Site(
        "gitlab",
        fake,
        {"gitlab_webhook_token": SECRET, "gitlab_token": TOKEN, "gitlab_url": fake.url},
        webhook_path("gitlab", name).read_bytes(),
        "gitlab-org/hello-world",
        1,
        r"/api/v4/projects/[^/]+/issues/1/notes",
    )


def _create_issue(url: str, auth: str) -> None:
    import requests

    response = requests.post(url, json={"title": "Spelling"}, headers={"Authorization": auth})
    response.raise_for_status()


def wait_done(client: TestClient, db: Database, job_id: int) -> dict[str, Any]:
    from bot.jobs.queue import get_job

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = get_job(db, job_id)
        if job and job["state"] in ("done", "dead"):
            return job
        time.sleep(0.02)
    pytest.fail(f"job {job_id} did not finish: {get_job(db, job_id)}")


@pytest.mark.parametrize("make_site", [github_site, gitlab_site], ids=["github", "gitlab"])
def test_signed_webhook_to_one_comment_on_the_fake(tmp_path, make_site) -> None:
    site = make_site(tmp_path)
    settings = Settings(data_dir=tmp_path / "data", workers=2, bot_login=BOT, **site.settings)
    db = Database.open(settings.data_dir)
    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, acknowledge)
    dispatcher = ExecutingDispatcher(
        InProcessDispatcher(registry),
        executor_factory_from_settings(settings, audit=AuditLog(db)),
    )
    app = create_app(settings, db=db, dispatcher=dispatcher, shutdown_grace=5)
    try:
        with TestClient(app) as client:
            url = f"/webhooks/{site.forge}"
            first = client.post(url, content=site.body, headers=site.headers("delivery-1"))
            assert first.status_code == 202, first.text
            job = wait_done(client, db, first.json()["job_id"])
            assert job["state"] == "done", job

            again = client.post(url, content=site.body, headers=site.headers("delivery-1"))
            copy = client.post(url, content=site.body, headers=site.headers("delivery-2"))
            assert (again.status_code, again.json()["status"]) == (200, "duplicate")
            assert (copy.status_code, copy.json()["status"]) == (200, "duplicate")
            forged = client.post(url, content=site.body, headers=site.headers("d-3", "wrong"))
            assert forged.status_code == 401

        posts = site.fake.calls_to("POST", site.comment_posts)
        assert len(posts) == 1
        assert "<!-- agentforge:ack -->" in str(posts[0].body)
        from bot.forges import make_forge

        forge = make_forge(site.forge, settings)
        comments = forge.list_comments(site.repo, site.number)
        assert len([c for c in comments if "agentforge:ack" in c.body]) == 1
        assert "agentforge" in forge.get_issue(site.repo, site.number).labels
        assert site.fake.unexpected == []
        audit = AuditLog(Database.open_readonly(settings.data_dir))
        actions = [e.action for e in audit.entries()]
        assert actions == ["comment.applied", "add_labels.applied"]
        assert audit.verify().ok
    finally:
        site.fake.close()


def test_job_result_holds_outcomes(tmp_path) -> None:
    site = github_site(tmp_path)
    settings = Settings(data_dir=tmp_path / "data", workers=1, bot_login=BOT, **site.settings)
    db = Database.open(settings.data_dir)
    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, acknowledge)
    dispatcher = ExecutingDispatcher(
        InProcessDispatcher(registry), executor_factory_from_settings(settings)
    )
    app = create_app(settings, db=db, dispatcher=dispatcher, shutdown_grace=5)
    try:
        with TestClient(app) as client:
            reply = client.post(
                "/webhooks/github", content=site.body, headers=site.headers("delivery-9")
            )
            job = wait_done(client, db, reply.json()["job_id"])
        result = job["result"]
        result = result if isinstance(result, dict) else __import__("json").loads(result)
        assert [o["status"] for o in result["outcomes"]] == ["applied", "applied"]
        assert re.fullmatch(r"\d+", str(result["outcomes"][0]["result"]["comment_id"]))
    finally:
        site.fake.close()
