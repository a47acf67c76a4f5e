"""Builders for signed deliveries used by the server tests."""

from __future__ import annotations

import json

from bot.intake.verify import sign_github
from tests.conftest import webhook_path

GH_SECRET = "test-github-secret-0123456789abcdef"
GL_TOKEN = "test-gitlab-token-0123456789abcdefgh"


def fixture_bytes(forge: str, name: str) -> bytes:
    """A recorded payload, byte for byte."""
    return webhook_path(forge, name).read_bytes()


def github_delivery(
    name: str = "issue_comment.created.variant-1.json",
    event: str = "issue_comment",
    delivery: str = "d-1",
    *,
    body: bytes | None = None,
    secret: str = GH_SECRET,
    **overrides: object,
) -> tuple[bytes, dict[str, str]]:
    """A GitHub delivery signed with ``secret``; ``overrides`` patch the JSON (dotted keys)."""
    if body is None:
        body = fixture_bytes("github", name)
        if overrides:
            data = json.loads(body)
            for dotted, value in overrides.items():
                target = data
                *path, last = dotted.split("__")
                for part in path:
                    target = target[part]
                target[last] = value
            body = json.dumps(data).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign_github(secret, body),
    }
    return body, headers


def gitlab_delivery(
    name: str = "note_hook.issue.go-scm.json",
    event: str = "Note Hook",
    delivery: str = "gl-1",
    token: str = GL_TOKEN,
) -> tuple[bytes, dict[str, str]]:
    """A GitLab delivery with ``X-Gitlab-Token`` and ``Idempotency-Key``."""
    body = fixture_bytes("gitlab", name)
    headers = {
        "content-type": "application/json",
        "x-gitlab-event": event,
        "idempotency-key": delivery,
        "x-gitlab-event-uuid": "shared-uuid",
        "x-gitlab-token": token,
    }
    return body, headers
