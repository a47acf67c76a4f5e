"""Forged and abusive webhook deliveries: each is refused before anything is queued.

Every case posts to the real app; afterwards the queue holds only the jobs of the
genuine deliveries (nothing forged got in, nothing genuine was lost).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.intake.server import create_app
from bot.settings import Settings
from bot.store.db import Database
from tests.conftest import WEBHOOKS

SECRET = "security-webhook-secret-271828"
GL_TOKEN = "security-gitlab-token-161803"
GH_BODY = WEBHOOKS / "github" / "issue_comment.created.variant-1.json"
GL_BODY = WEBHOOKS / "gitlab" / "note_hook.issue.go-scm.json"

pytestmark = pytest.mark.skipif(
    not GH_BODY.exists() or not GL_BODY.exists(),
    reason=f"the shared webhook payloads are not at {WEBHOOKS} (a clone without ../shared)",
)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def gh_headers(body: bytes, delivery: str = "sec-1", **over: str | None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "x-github-event": "issue_comment",
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign(body),
    }
    headers.update(over)  # type: ignore[arg-type]
    return {k: v for k, v in headers.items() if v is not None}


class App:
    """The real app on a fresh data directory; :meth:`deliveries` counts after shutdown."""

    def __init__(self, tmp_path: Path) -> None:
        settings = Settings(
            data_dir=tmp_path / "data",
            github_webhook_secret=[SECRET],
            gitlab_webhook_token=[GL_TOKEN],
            max_body_bytes=64 * 1024,
            workers=1,
        )
        self.data_dir = settings.data_dir
        self.client = TestClient(
            create_app(settings, db=Database.open(self.data_dir), shutdown_grace=1)
        )
        self.client.__enter__()
        self.open = True

    def post(self, forge: str, body: bytes, headers: dict[str, str]):
        return self.client.post(f"/webhooks/{forge}", content=body, headers=headers)

    def deliveries(self) -> int:
        """Deliveries recorded once the server stopped (the intake journal is fed)."""
        self.close()  # the server closes its records on the way out
        with Database.open_readonly(self.data_dir) as db:
            return int(db.fetchone("SELECT count(*) FROM deliveries")[0])

    def close(self) -> None:
        if self.open:
            self.client.__exit__(None, None, None)
            self.open = False


@pytest.fixture
def app(tmp_path: Path):
    server = App(tmp_path)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong_signature", 401),
        ("signature_of_another_body", 401),
        ("signed_with_another_secret", 401),
        ("missing_signature", 401),
        ("sha1_only_signature", 401),
        ("missing_event_header", 400),
        ("oversized_body", 413),
    ],
)
def test_forged_github_deliveries_are_refused(app, case, status) -> None:
    body = GH_BODY.read_bytes()
    headers = gh_headers(body)
    if case == "wrong_signature":
        headers["x-hub-signature-256"] = "sha256=" + "0" * 64
    elif case == "signature_of_another_body":
        headers["x-hub-signature-256"] = sign(body + b" ")
    elif case == "signed_with_another_secret":
        headers["x-hub-signature-256"] = sign(body, "guessed-secret")
    elif case == "missing_signature":
        del headers["x-hub-signature-256"]
    elif case == "sha1_only_signature":
        del headers["x-hub-signature-256"]
        headers["x-hub-signature"] = "sha1=" + hmac.new(SECRET.encode(), body, "sha1").hexdigest()
    elif case == "missing_event_header":
        del headers["x-github-event"]
    elif case == "oversized_body":
        body = body + b" " * (70 * 1024)
        headers = gh_headers(body)
    reply = app.post("github", body, headers)
    assert reply.status_code == status, reply.text
    assert reply.json().get("reason") or reply.json().get("detail") or reply.json().get("error")
    assert app.deliveries() == 0


def test_a_replayed_delivery_is_queued_once(app) -> None:
    body = GH_BODY.read_bytes()
    assert app.post("github", body, gh_headers(body, "sec-9")).status_code == 202
    for delivery in ("sec-9", "sec-10"):  # same id, then the same body under a new id
        again = app.post("github", body, gh_headers(body, delivery))
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert app.deliveries() == 1


@pytest.mark.parametrize("token", ["wrong-token", None, GL_TOKEN + "x"])
def test_forged_gitlab_deliveries_are_refused(app, token) -> None:
    headers = {"content-type": "application/json", "x-gitlab-event": "Note Hook"}
    if token is not None:
        headers["x-gitlab-token"] = token
    assert app.post("gitlab", GL_BODY.read_bytes(), headers).status_code == 401
    genuine = {**headers, "x-gitlab-token": GL_TOKEN, "idempotency-key": "gl-sec-1"}
    assert app.post("gitlab", GL_BODY.read_bytes(), genuine).status_code == 202
    assert app.deliveries() == 1  # the genuine one only
