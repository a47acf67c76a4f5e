"""End to end on the GitHub fake: CODEOWNERS teams decide who must approve each phase.

``.github/CODEOWNERS`` on ``main`` gives ``docs/`` to team ``@acme/writers`` and Python
files to ``@acme/core``; the teams' members are read through the GitHub adapter
(``GET /orgs/acme/teams/<slug>/memberships/<login>``). The run's starter (ann) may
approve neither: not the docs (she is no owner), not the code (self-approval).
"""

from __future__ import annotations

import pytest

from bot.forges.github import GitHubForge
from tests.e2e.test_workflow_github import BOT, REPO, GitHubSite
from tests.e2e.workflow_support import (
    bot_comments,
    failed_jobs,
    running_app,
    status_comments,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, phase_steps

pytestmark = pytest.mark.e2e

WORKFLOW = """\
version: 1
phases:
  - {name: discovery, role: analyst, outputs: ["docs/requirements/*.md"], gate: human}
  - {name: build, role: developer, outputs: ["**"], gate: human}
"""
CODEOWNERS = "# who reviews what\n/docs/ @acme/writers\n*.py @acme/core\n"


@pytest.fixture
def script():
    fake = OpenAIWireFake()
    try:
        script = RoleScript(fake)
        for role in ("analyst", "developer"):
            script.set(role, phase_steps(role, 1))
        yield script
        fake.server.check_assertions()
    finally:
        fake.close()


def _status(site) -> str:
    return status_comments(site.viewer, REPO, 1, BOT)[0].body


def test_code_owner_teams_must_approve_and_the_starter_may_not_approve_code(tmp_path, script):
    site = GitHubSite(tmp_path, script.fake.base_url, WORKFLOW)
    site.git.commit("main", {".github/CODEOWNERS": CODEOWNERS}, message="owners")
    site.fake.add_team("acme/writers", ["reviewer"])
    site.fake.add_team("acme/core", ["lead"])
    site.fake.grant(REPO, "lead", "write")
    site.fake.add_token("lead-token", "lead")
    site.people["lead"] = GitHubForge(token="lead-token", base_url=site.fake.url)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.attach(client)
        site.people["ann"].create_issue(REPO, "Subtract numbers", "sub(a, b)", ["agentforge"])
        site.deliver(site.hooks.issue_opened(1, "ann"))
        data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        mr = data.mr

        site.comment("ann", 1, "/approve")  # docs only: her approval counts, but no owner
        wait_for("ann's approval", lambda: [a.by for a in site.state().approvals] == ["ann"])
        site.settle()
        assert site.state().phases[0].state == "needs_approval"
        assert "code owners of `/docs/`" in _status(site) and "@acme/writers" in _status(site)

        site.comment("reviewer", 1, "/approve")  # a member of @acme/writers
        wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")

        site.comment("ann", mr, "/approve", on_mr=True)  # the starter, on code: refused
        wait_for(
            "the self-approval refusal",
            lambda: any(
                "@ann" in c.body and "self_approval" in c.body
                for c in bot_comments(site.viewer, REPO, mr, BOT, is_mr=True)
            ),
        )
        site.comment("reviewer", mr, "/approve", on_mr=True)  # counts, but owns no .py
        wait_for(
            "the reviewer's build approval",
            lambda: any(a.by == "reviewer" and a.phase == "build" for a in site.state().approvals),
        )
        site.settle()
        assert site.state().phases[1].state == "needs_approval"
        assert "@acme/core" in _status(site)

        site.comment("lead", mr, "/approve", on_mr=True)
        final = wait_outcome(site.viewer, REPO, 1, BOT)
        site.settle()
        assert failed_jobs(client.db) == []
    assert final.outcome == "succeeded"
    looked_up = site.fake.calls_to("GET", r"/orgs/acme/teams/core/memberships/lead")
    assert looked_up, "the team membership was read through the GitHub API"
