"""End to end on the local forge: required approvals and the infrastructure hold.

The real app as ``agentforge serve --local DIR`` composes it (the production judge,
reading each push's approvals from the run store); people act through the
``agentforge local`` CLI. The workflow's first phase needs two approvers; the second
is devops writing ``deploy/Dockerfile`` while ``approvers.infra`` names ``ops-lead``:
its push waits (nothing pushed, the status comment shows the pending item and
``/approve``) until ``ops-lead`` approves, then lands and the phase's gate runs as usual.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.forges.local import LocalForge
from tests.e2e.test_workflow_local import BOT, REPO, LocalSite
from tests.e2e.workflow_support import (
    bot_comments,
    branch_log,
    failed_jobs,
    make_project,
    project_files,
    running_app,
    status_comments,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, phase_steps

BRANCH = "agentforge/issue-1"

pytestmark = pytest.mark.e2e

WORKFLOW = """\
version: 1
phases:
  - name: discovery
    role: analyst
    outputs: ["docs/requirements/*.md"]
    gate: human
    approvers: {required: 2}
  - name: launch
    role: devops
    outputs: ["deploy/**"]
    gate: human
"""


@pytest.fixture
def script():
    fake = OpenAIWireFake()
    try:
        yield RoleScript(fake)
        fake.server.check_assertions()
    finally:
        fake.close()


class InfraSite(LocalSite):
    """The local site with ``approvers.infra`` in the committed config."""

    def __init__(self, tmp_path, model_url: str) -> None:
        self.dir = tmp_path / "forge"
        self.cli = CliRunner()
        files = project_files(model_url, WORKFLOW)
        files[".agentforge/config.yaml"] += "approvers:\n  infra: [ops-lead]\n"
        source = make_project(tmp_path / "calc", files)
        self.local("init", str(self.dir), "--from", str(source), "--name", REPO, user="me")
        for login in ("reviewer", "reviewer2", "ops-lead"):
            self.local("grant", login, "write", user="me")
        self.viewer = LocalForge(self.dir, "me")
        self.bare = self.viewer.bare_path(REPO)


def _phases(site) -> list[str]:
    return [c["trailers"].get("Agentforge-Phase") for c in branch_log(site.bare, BRANCH)]


def _status(site) -> str:
    (comment,) = status_comments(site.viewer, REPO, 1, BOT)
    return comment.body


def test_two_approvers_then_the_infra_approver_releases_the_deploy_push(tmp_path, script):
    for role in ("analyst", "devops"):
        script.set(role, phase_steps(role, 1))
    site = InfraSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.local("issue", "open", "--title", "Subtract", "--body", "sub", "--label", "agentforge")
        wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        assert "0 of 2 approvals" in _status(site)

        site.local("comment", "1", "--body", "/approve", user="reviewer")
        wait_for("1 of 2", lambda: "1 of 2 approvals" in _status(site))
        site.local("comment", "1", "--body", "/approve", user="reviewer")  # counts once
        site.settle(client)
        assert "1 of 2 approvals" in _status(site)
        assert script.runs_of("devops") == 0

        site.local("comment", "1", "--body", "/approve", user="reviewer2")
        data = wait_phase(site.viewer, REPO, 1, BOT, "launch", "needs_approval")
        site.settle(client)
        data = site.state()
        launch = data.phases[1]
        assert launch.awaiting == ["infra"] and not launch.pushed
        assert _phases(site) == ["discovery"]
        body = _status(site)
        assert "approvers.infra" in body and "deploy/Dockerfile" in body and "/approve" in body

        # Not an infrastructure approver: one reply naming who may, nothing moves.
        site.local("comment", "1", "--body", "/approve", user="reviewer")
        wait_for(
            "the refusal",
            lambda: any(
                "@reviewer" in c.body and "@ops-lead" in c.body
                for c in bot_comments(site.viewer, REPO, 1, BOT)
            ),
        )
        site.settle(client)
        assert site.state().phases[1].awaiting == ["infra"]

        site.local("comment", "1", "--body", "/approve", user="ops-lead")
        wait_for("the held push", lambda: site.state().phases[1].pushed, 60)
        site.settle(client)
        launch = site.state().phases[1]
        assert launch.state == "needs_approval" and launch.awaiting == ["human"]
        assert _phases(site) == ["discovery", "launch"]

        # The phase's own gate at the new head: the release was not its approval.
        site.local("comment", "1", "--body", "/approve", user="ops-lead")
        final = wait_outcome(site.viewer, REPO, 1, BOT)
        site.settle(client)
        assert failed_jobs(client.db) == []
    assert final.outcome == "succeeded"
    assert script.runs_of("devops") == 1
