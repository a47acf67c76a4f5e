"""End to end: `agentforge run` in a simulated GitHub Actions job against the GitHub fake."""

from __future__ import annotations

import json
import os
import sys

import pytest

from bot.cli import main
from bot.events import EventKind
from handlers.registry import unregister
from tests.conftest import webhook_path
from tests.fakes.github_api import GitHubFake

pytestmark = pytest.mark.e2e

REPO = "Codertocat/Hello-World"
HANDLERS = """
from bot.actions import AddLabels, PostComment
from bot.events import EventKind
from handlers.registry import register


def acknowledge(event, ctx):
    return [
        PostComment(repo=event.repo.full_name, number=event.number, body="on it", marker_key="ack"),
        AddLabels(repo=event.repo.full_name, number=event.number, labels=["agentforge"]),
    ]


register(EventKind.ISSUE_COMMENT, acknowledge)
"""


@pytest.fixture
def actions_job(tmp_path, monkeypatch):
    """A GitHub Actions environment for the recorded issue_comment, and its fake API."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "CI_", "GITLAB_", "AGENTFORGE_")):
            monkeypatch.delenv(name)
    fake = GitHubFake(tmp_path)
    fake.add_repo(REPO)
    fake.add_token("ghs_job_token", "github-actions[bot]")
    fake.grant(REPO, "github-actions[bot]", "write")
    fake.add_token("owner", "Codertocat")
    import requests

    requests.post(
        f"{fake.url}/repos/{REPO}/issues",
        json={"title": "t"},
        headers={"Authorization": "token owner"},
    ).raise_for_status()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(webhook_path("github", "issue_comment.created.variant-1.json")),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_TOKEN": "ghs_job_token",
        "GITHUB_API_URL": fake.url,
        "AGENTFORGE_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "e2e_ci_handlers.py").write_text(HANDLERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield fake
    fake.close()
    module = sys.modules.pop("e2e_ci_handlers", None)
    if module is not None:
        unregister(EventKind.ISSUE_COMMENT, module.acknowledge)


def test_actions_job_comments_once(actions_job, capsys) -> None:
    assert main(["run", "--import", "e2e_ci_handlers"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "done"
    assert [o["status"] for o in first["outcomes"]] == ["applied", "applied"]

    # The job is re-run: the records in the data directory know the event.
    assert main(["run", "--import", "e2e_ci_handlers"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "duplicate"

    posts = actions_job.calls_to("POST", rf"/repos/{REPO}/issues/1/comments")
    assert len(posts) == 1
    assert "<!-- agentforge:ack -->" in posts[0].body["body"]
    assert posts[0].headers.get("Authorization") == "token ghs_job_token"
    assert actions_job.unexpected == []
