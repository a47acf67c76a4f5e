"""A real ``agentforge serve`` process, configured as a new user configures it.

The other GitHub end-to-end tests run the server's composition in the test process;
this one starts the installed command in its own process with nothing but documented
``AGENTFORGE_*`` variables and the repository's committed ``.agentforge/`` files, sends
signed webhooks over HTTP, and reads every outcome back through the stateful GitHub
and GitLab fakes: the issue gets its status comment, the branch and the draft merge
request, and two approvals take the run to a ready one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.errors import InvalidRequest
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from tests.e2e.workflow_support import (
    assert_ready_flow,
    free_port,
    project_files,
    scripted_model,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.github_api import GitHubFake
from tests.fakes.github_hooks import GitHubHooks
from tests.fakes.gitlab_api import GitLabFake
from tests.fakes.gitlab_hooks import GitLabHooks
from tests.fakes.role_script import RoleScript

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = "acme/calc"
BOT = "calc-bot"
SECRET = "serve-process-secret-0123456789abcdef"
PHASES = [("discovery", "analyst"), ("build", "developer")]


@pytest.fixture
def script() -> Iterator[RoleScript]:
    with scripted_model() as script:
        yield script


@pytest.fixture
def github(tmp_path: Path, script: RoleScript) -> GitHubFake:
    fake = GitHubFake(tmp_path / "github")
    fake.calc = fake.add_repo(REPO)
    fake.calc.commit("main", project_files(script.fake.base_url), message="calc")
    fake.add_token("bot-token", BOT)
    fake.grant(REPO, BOT, "write")
    for login in ("ann", "reviewer"):
        fake.add_token(f"{login}-token", login)
        fake.grant(REPO, login, "write")
    return fake


@contextmanager
def serving(tmp_path: Path, forge_env: dict[str, str]) -> Iterator[httpx.Client]:
    """A running ``agentforge serve`` and an HTTP client for it; on exit, SIGTERM and a
    check that it stopped cleanly."""
    port = free_port()
    log = tmp_path / "serve.log"
    server = _serve(forge_env, tmp_path / "data", port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("agentforge serve to be ready", lambda: _ready(base) or server.poll(), 60)
        assert server.poll() is None, log.read_text()
        with httpx.Client(base_url=base, timeout=30) as client:
            yield client
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
    # SIGTERM ends serve (status 0, or "ended by SIGTERM" as supervisors expect) with
    # no traceback in its log.
    text = log.read_text()
    assert server.returncode in (0, -signal.SIGTERM), text
    assert "Traceback" not in text, text


def _serve(forge_env: dict[str, str], data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    """``agentforge serve`` with the documented variables only (no bot login: the bot
    learns it from its token)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/local/bin",
        "HOME": str(data_dir.parent),
        "AGENTFORGE_DATA_DIR": str(data_dir),
        "AGENTFORGE_LOG_LEVEL": "WARNING",
        "GIT_CONFIG_NOSYSTEM": "1",
        **forge_env,
    }
    if os.environ.get("COVERAGE_PROCESS_START"):
        env["COVERAGE_PROCESS_START"] = os.environ["COVERAGE_PROCESS_START"]
    out = log.open("w")
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "agentforge"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_on_github_takes_a_labelled_issue_to_a_ready_pull_request(
    tmp_path: Path, github: GitHubFake
) -> None:
    env = {
        "AGENTFORGE_GITHUB_TOKEN": "bot-token",
        "AGENTFORGE_GITHUB_URL": github.url,
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": SECRET,
    }
    with serving(tmp_path, env) as client:
        hooks = GitHubHooks(github, REPO, client, SECRET)
        ann = GitHubForge(token="ann-token", base_url=github.url)
        reviewer = GitHubForge(token="reviewer-token", base_url=github.url)

        issue = ann.create_issue(
            REPO, "Subtract numbers", "calc needs sub(a, b).", labels=["agentforge"]
        )
        hooks.deliver(hooks.issue_opened(issue.number, "ann"))
        data = wait_phase(ann, REPO, issue.number, BOT, "discovery", "needs_approval")
        assert data.mr is not None and ann.get_mr(REPO, data.mr).draft

        made = reviewer.create_comment(REPO, issue.number, "/approve")
        hooks.deliver(hooks.comment_created(issue.number, made.id))
        wait_phase(ann, REPO, issue.number, BOT, "build", "needs_approval")

        made = reviewer.create_comment(REPO, data.mr, "/approve", is_mr=True)
        hooks.deliver(hooks.comment_created(data.mr, made.id))
        final = wait_outcome(ann, REPO, issue.number, BOT)
    assert final.outcome == "succeeded", final.error
    assert_ready_flow(ann, REPO, issue.number, BOT, github.calc.path, PHASES)


def test_serve_on_gitlab_takes_a_labelled_issue_to_a_ready_merge_request(
    tmp_path: Path, script: RoleScript
) -> None:
    fake = GitLabFake(tmp_path / "gitlab")
    project = fake.add_project(REPO)
    project.commit("main", project_files(script.fake.base_url), message="calc")
    fake.add_token("bot-token", BOT)
    fake.grant(REPO, BOT, 30)
    for login, level in (("ann", 30), ("reviewer", 40)):
        fake.add_token(f"{login}-token", login)
        fake.grant(REPO, login, level)
    env = {
        "AGENTFORGE_GITLAB_TOKEN": "bot-token",
        "AGENTFORGE_GITLAB_URL": fake.url,
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN": SECRET,
    }
    with serving(tmp_path, env) as client:
        hooks = GitLabHooks(fake, REPO, client, SECRET)
        ann = GitLabForge(token="ann-token", base_url=fake.url)
        reviewer = GitLabForge(token="reviewer-token", base_url=fake.url)

        issue = ann.create_issue(REPO, "Subtract numbers", "sub(a, b)", labels=["agentforge"])
        hooks.deliver(hooks.issue_opened(issue.number, "ann"))
        data = wait_phase(ann, REPO, issue.number, BOT, "discovery", "needs_approval")
        assert ann.get_mr(REPO, data.mr).draft

        # GitLab's own approval (the `/approve` quick action) passes the first gate ...
        with pytest.raises(InvalidRequest, match="quick actions"):
            reviewer.create_comment(REPO, data.mr, "/approve", is_mr=True)
        hooks.deliver(hooks.mr_approved(data.mr, "reviewer"))
        wait_phase(ann, REPO, issue.number, BOT, "build", "needs_approval")

        # ... and the namespaced command on the issue the second.
        note = reviewer.create_comment(REPO, issue.number, "/agentforge approve")
        stored = fake.projects[REPO]["notes"][int(note.id)]
        hooks.deliver(hooks.note(stored, iid=issue.number, on_mr=False))
        final = wait_outcome(ann, REPO, issue.number, BOT)
    assert final.outcome == "succeeded", final.error
    assert_ready_flow(ann, REPO, issue.number, BOT, project.path, PHASES)
    ready = ann.get_mr(REPO, data.mr)
    assert not ready.draft and not ready.title.lower().startswith(("draft:", "[draft]"))
