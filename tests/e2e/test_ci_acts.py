"""The GitHub Action and the GitLab CI template act: real handlers, state from the forge.

Each test runs the shipped entry point as a subprocess, the way the CI runner would:
the Action's "Handle the event" step (its ``run:`` script and its ``env:`` mapping, read
from ``action/action.yml``) and the GitLab template's ``script:`` (read from
``deploy/gitlab-ci.yml``), with a real recorded payload file, against the stateful forge
fakes and a scripted OpenAI-wire model configured in the repository's own
``.agentforge/config.yaml``. No ``--import``: the shipped workflow handlers run. The
issue labelled with the trigger label gets the status comment, the first phase's role
runs, its commit is pushed to ``agentforge/issue-<N>`` and a draft MR opens; running
the same job again (a re-run, with the cached data directory) changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import webhook_path
from tests.fakes.github_api import GitHubFake
from tests.fakes.gitlab_api import GitLabFake
from tests.fakes.openai_wire import OpenAIWireFake

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REQUIREMENTS = """\
# Requirements: {title}

## Problem
The project has no greeting.

## Acceptance criteria
1. AC-1: `greet()` returns `"hello"`.

## Out of scope
Translations.

## Open questions
None.
"""


def repo_config(model_url: str, label: str) -> str:
    return (
        f"trigger:\n  label: {label}\n"
        "models:\n  use_shipped_defaults: false\n  providers:\n"
        f"    fake: {{kind: openai, base_url: '{model_url}', api_key_env: FAKE_API_KEY}}\n"
        "  routes:\n    default: [{provider: fake, model: gpt-4.1, max_tokens: 2000}]\n"
    )


def script_analyst(model: OpenAIWireFake, issue: int, title: str) -> None:
    path = f"docs/requirements/issue-{issue}.md"
    model.reply(
        None,
        tool_calls=[("write_file", {"path": path, "content": REQUIREMENTS.format(title=title)})],
    )
    model.reply(
        None,
        tool_calls=[("final_answer", {"summary": "Wrote the requirements.", "confidence": 0.9})],
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "runner-home"
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = CI\n\temail = ci@agentforge.invalid\n")
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "FAKE_API_KEY": "sk-test",
        "PYTHONPATH": str(ROOT),
    }


def run_script(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-ec", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=240
    )


# --- the GitHub Action ---------------------------------------------------------------------


def action_step(inputs: dict[str, str], github_token: str) -> tuple[str, dict[str, str]]:
    """The action's "Handle the event" step: its script and env with ``inputs`` filled in."""
    action = yaml.safe_load((ROOT / "action" / "action.yml").read_text())
    defaults = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values = {**defaults, **inputs}
    step = next(s for s in action["runs"]["steps"] if s.get("run", "").strip() == "agentforge run")
    env = {}
    for name, value in step["env"].items():
        expr = re.fullmatch(r"\$\{\{\s*inputs\.([a-z-]+)\s*\}\}", value)
        assert expr, f"{name} is not an input: {value}"
        filled = values[expr.group(1)]
        env[name] = github_token if filled == "${{ github.token }}" else filled
    return step["run"], env


REPO = "Codertocat/Hello-World"
BOT = "github-actions[bot]"
JOB_TOKEN = "ghs_job_token_0123456789"


def github_site(tmp_path: Path) -> tuple[GitHubFake, OpenAIWireFake, int]:
    """The repository of the recorded payload, with its issue, config and the model."""
    payload = json.loads(webhook_path("github", "issues.labeled.json").read_text())
    number, label = payload["issue"]["number"], payload["label"]["name"]
    model = OpenAIWireFake()
    fake = GitHubFake(tmp_path)
    git = fake.add_repo(REPO, default_branch=payload["repository"]["default_branch"])
    branch = payload["repository"]["default_branch"]
    git.commit(
        branch,
        {".agentforge/config.yaml": repo_config(model.base_url, label), "README.md": "# Hello\n"},
        base=branch,
    )
    fake.add_token(JOB_TOKEN, BOT)
    fake.grant(REPO, BOT, "write")
    fake.add_token("owner-token", "Codertocat")
    for _ in range(number):
        requests.post(
            f"{fake.url}/repos/{REPO}/issues",
            json={"title": "Say hello", "body": "We need a greeting.", "labels": [label]},
            headers={"Authorization": "token owner-token"},
        ).raise_for_status()
    return fake, model, number


@pytest.fixture
def github(tmp_path):
    fake, model, number = github_site(tmp_path)
    try:
        yield fake, model, number
    finally:
        fake.close()
        model.close()


def writes(fake: GitHubFake) -> list[tuple[str, str]]:
    """Every write the forge received, in order (method and path)."""
    return [(c.method, c.path) for c in fake.calls if c.method != "GET"]


def actions_env(tmp_path: Path, fake: GitHubFake, run_id: str) -> dict[str, str]:
    script, step_env = action_step(
        {"openai-api-key": "sk-unused", "data-dir": str(tmp_path / "cache" / ".agentforge-data")},
        JOB_TOKEN,
    )
    env = {
        **base_env(tmp_path),
        **step_env,
        # Set by the GitHub runner itself.
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issues",
        "GITHUB_EVENT_PATH": str(webhook_path("github", "issues.labeled.json")),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": run_id,
        "GITHUB_API_URL": fake.url,
    }
    return {"script": script, **env}


def test_the_action_runs_the_first_phase_for_a_labelled_issue(tmp_path, github) -> None:
    fake, model, number = github
    script_analyst(model, number, "Say hello")
    env = actions_env(tmp_path, fake, "4242")
    script = env.pop("script")
    done = run_script(script, env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "done" and summary["kind"] == "issue"
    model.verify()

    comments = fake.calls_to("POST", rf"/repos/{REPO}/issues/{number}/comments")
    assert len(comments) == 1 and "agentforge:status." in comments[0].body["body"]
    branch = f"agentforge/issue-{number}"
    head = fake.repos[REPO]["git"].head(branch)
    assert head is not None, "the phase's commit was pushed"
    assert (
        "Acceptance criteria"
        in fake.repos[REPO]["git"]
        .entry(branch, f"docs/requirements/issue-{number}.md")
        .data.decode()
    )
    (pull,) = fake.calls_to("POST", rf"/repos/{REPO}/pulls")
    assert pull.body["head"] == branch and pull.body["draft"] is True
    assert fake.unexpected == []

    # The job is re-run: the cached records know the delivery; nothing is written again.
    again = run_script(script, env, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["status"] == "duplicate"
    assert len(fake.calls_to("POST", rf"/repos/{REPO}/issues/{number}/comments")) == 1
    assert len(fake.calls_to("POST", rf"/repos/{REPO}/pulls")) == 1


def test_without_a_cache_the_run_is_rebuilt_from_the_forge(tmp_path, github) -> None:
    # Another workflow run (a new runner, no cache) for the same label: the state comes
    # from the status comment's marker and the branch, so nothing is done twice.
    fake, model, number = github
    script_analyst(model, number, "Say hello")
    env = actions_env(tmp_path, fake, "1")
    script = env.pop("script")
    assert run_script(script, env, tmp_path).returncode == 0
    (tmp_path / "fresh").mkdir()
    env = actions_env(tmp_path / "fresh", fake, "2")
    script = env.pop("script")
    second = run_script(script, env, tmp_path / "fresh")
    assert second.returncode == 0, second.stderr[-3000:]
    assert json.loads(second.stdout)["status"] == "done"
    assert model.unused() == 0
    assert len(fake.calls_to("POST", rf"/repos/{REPO}/pulls")) == 1
    posts = fake.calls_to("POST", rf"/repos/{REPO}/issues/{number}/comments")
    assert len(posts) == 1  # the status comment is edited, never posted twice


def test_the_action_does_what_the_server_does_for_the_same_event(
    tmp_path, github, monkeypatch
) -> None:
    import hashlib
    import hmac
    import time

    from fastapi.testclient import TestClient

    from bot.commands._imports import register_shipped_handlers
    from bot.intake.server import create_app
    from bot.jobs.queue import get_job
    from bot.services import build_dispatcher
    from bot.settings import Settings
    from bot.store.db import Database

    fake, model, number = github
    script_analyst(model, number, "Say hello")
    env = actions_env(tmp_path, fake, "7")
    script = env.pop("script")
    assert run_script(script, env, tmp_path).returncode == 0

    (tmp_path / "server").mkdir()
    twin, twin_model, _ = github_site(tmp_path / "server")
    try:
        script_analyst(twin_model, number, "Say hello")
        secret = "server-webhook-secret-0123456789"
        settings = Settings(
            data_dir=tmp_path / "server" / "data",
            github_webhook_secret=secret,
            github_token=JOB_TOKEN,
            github_url=twin.url,
        )
        register_shipped_handlers()
        db = Database.open(settings.data_dir)
        app = create_app(settings, db=db, dispatcher=build_dispatcher(settings, db))
        body = webhook_path("github", "issues.labeled.json").read_bytes()
        headers = {
            "content-type": "application/json",
            "x-github-event": "issues",
            "x-github-delivery": "server-delivery-1",
            "x-hub-signature-256": "sha256="
            + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        }
        monkeypatch.setenv("FAKE_API_KEY", "sk-test")
        with TestClient(app) as client:
            reply = client.post("/webhooks/github", content=body, headers=headers)
            job_id = reply.json()["job_id"]
            for _ in range(3000):
                job = get_job(db, job_id)
                if job and job["state"] in ("done", "dead"):
                    break
                time.sleep(0.02)
        assert job["state"] == "done", job
        twin_model.verify()
        # The same writes, in the same order, to the same places.
        assert writes(twin) == writes(fake)
        branch = f"agentforge/issue-{number}"
        path = f"docs/requirements/issue-{number}.md"
        ours = fake.repos[REPO]["git"].entry(branch, path).data
        theirs = twin.repos[REPO]["git"].entry(branch, path).data
        assert ours == theirs
    finally:
        twin.close()
        twin_model.close()


# --- the GitLab CI template ------------------------------------------------------------------

PROJECT_TOKEN = "glpat-project-token-0123"


def gitlab_script() -> str:
    job = yaml.safe_load((ROOT / "deploy" / "gitlab-ci.yml").read_text())[".agentforge"]
    return "\n".join(job["script"])


def test_the_gitlab_template_acts_on_a_triggered_webhook(tmp_path) -> None:
    payload = json.loads(webhook_path("gitlab", "issue_hook.open.docs.json").read_text())
    project = payload["project"]["path_with_namespace"]
    label = payload["labels"][0]["title"]
    iid = payload["object_attributes"]["iid"]
    model = OpenAIWireFake()
    fake = GitLabFake(tmp_path)
    try:
        branch = payload["project"]["default_branch"]
        git = fake.add_project(project, default_branch=branch)
        git.commit(
            branch, {".agentforge/config.yaml": repo_config(model.base_url, label)}, base=branch
        )
        fake.add_token(PROJECT_TOKEN, "project_bot")
        fake.grant(project, "project_bot", 40)
        # The payload's actor opened the issue; the judge checks their role to push.
        fake.grant(project, payload["user"]["username"], 30)
        from bot.forges.gitlab import GitLabForge

        author = GitLabForge(token=PROJECT_TOKEN, base_url=fake.url)
        for _ in range(iid):
            author.create_issue(project, "Say hello", "We need a greeting.")
        fake.projects[project]["issues"][iid]["labels"] = [label]
        script_analyst(model, iid, "Say hello")
        env = {
            **base_env(tmp_path),
            # The template's own variables, then what GitLab sets for a trigger pipeline.
            "AGENTFORGE_INSTALL": "",
            "AGENTFORGE_DATA_DIR": ".agentforge-data",
            "AGENTFORGE_GITLAB_TOKEN": PROJECT_TOKEN,
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "trigger",
            "CI_PIPELINE_ID": "901",
            "TRIGGER_PAYLOAD": str(webhook_path("gitlab", "issue_hook.open.docs.json")),
            "CI_API_V4_URL": f"{fake.url}/api/v4",
            "CI_PROJECT_PATH": project,
            "CI_DEFAULT_BRANCH": branch,
        }
        done = run_script(gitlab_script(), env, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["status"] == "done"
        model.verify()
        notes = fake.calls_to("POST", rf"/api/v4/projects/[^/]+/issues/{iid}/notes")
        assert len(notes) == 1 and "agentforge:status." in notes[0].body["body"]
        head = fake.projects[project]["git"].head(f"agentforge/issue-{iid}")
        assert head is not None
        (mr,) = fake.calls_to("POST", r"/api/v4/projects/[^/]+/merge_requests")
        assert mr.body["source_branch"] == f"agentforge/issue-{iid}"
        assert (tmp_path / ".agentforge-data").is_dir()  # what the template caches
        assert fake.unexpected == []
    finally:
        fake.close()
        model.close()
