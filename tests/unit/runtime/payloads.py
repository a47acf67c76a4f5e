"""Small GitHub webhook bodies built here (no shared fixtures needed), and signing."""

from __future__ import annotations

import json

from bot.intake.verify import sign_github

SECRET = "runtime-test-secret-0123456789abcdef"
REPO = "acme/app"
_REPO = {
    "full_name": REPO,
    "id": 1,
    "default_branch": "main",
    "clone_url": "https://example.invalid/acme/app.git",
}
_USER = {"login": "alice", "id": 2, "type": "User"}


def issue_comment(number: int, comment_id: int, *, on_mr: bool = False, body: str = "hi") -> bytes:
    """An ``issue_comment`` (``created``); on a PR it carries only the PR's number."""
    issue = {
        "number": number,
        "title": "t",
        "body": "",
        "state": "open",
        "labels": [],
        "user": _USER,
    }
    if on_mr:
        issue["pull_request"] = {"url": f"https://example.invalid/pulls/{number}"}
    stamp = f"2024-01-01T00:00:{comment_id % 60:02d}Z"
    comment = {"id": comment_id, "body": body, "user": _USER, "created_at": stamp}
    comment["updated_at"] = stamp
    data = {
        "action": "created",
        "repository": _REPO,
        "sender": _USER,
        "issue": issue,
        "comment": comment,
    }
    return json.dumps(data).encode()


def pull_request(number: int, head_ref: str, *, action: str = "synchronize") -> bytes:
    """A ``pull_request`` event from ``head_ref`` into main."""
    pr = {
        "id": 5000 + number,
        "number": number,
        "title": "t",
        "body": "",
        "state": "open",
        "draft": True,
        "labels": [],
        "user": _USER,
        "head": {"ref": head_ref, "sha": "a" * 40},
        "base": {"ref": "main", "sha": "b" * 40},
        "updated_at": f"2024-01-01T00:01:{number % 60:02d}Z",
    }
    data = {"action": action, "repository": _REPO, "sender": _USER, "number": number}
    data["pull_request"] = pr
    return json.dumps(data).encode()


def signed(body: bytes, event: str, delivery: str) -> dict[str, str]:
    """Headers of a signed GitHub delivery."""
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign_github(SECRET, body),
    }
