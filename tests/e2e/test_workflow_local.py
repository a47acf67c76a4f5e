"""End to end on the local forge: from `agentforge local issue open` to a ready MR.

The real app runs (``bot.intake.server.create_app`` composed as ``agentforge serve --local
DIR`` composes it): the local forge's outbox feeds the intake, workers run the shipped
workflow handlers, roles run through ``ShellRoleRunner`` on a local OpenAI-compatible
model (the wire fake, scripted per role) and the executor writes back to DIR. People
act only through the ``agentforge local`` CLI (``--as reviewer``), the way a user does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.forges.local import LocalForge
from bot.intake.local_feed import CURSOR_NAME
from tests.e2e.workflow_support import (
    TWO_PHASES,
    assert_ready_flow,
    bot_comments,
    failed_jobs,
    jobs_idle,
    make_project,
    project_files,
    read_json,
    run_state,
    running_app,
    settings_for,
    status_comments,
    wait_for,
    wait_outcome,
    wait_phase,
)
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, phase_steps

pytestmark = pytest.mark.e2e

REPO = "me/calc"
BOT = "agentforge"  # the local forge's bot account when AGENTFORGE_BOT_LOGIN is unset
PHASES = [("discovery", "analyst"), ("build", "developer")]


class LocalSite:
    """A local forge in ``tmp_path`` and the CLI a person drives it with."""

    def __init__(
        self,
        tmp_path: Path,
        model_url: str,
        workflow: str | None = TWO_PHASES,
        config_extra: str = "",
        files: dict[str, str] | None = None,
    ) -> None:
        self.dir = tmp_path / "forge"
        self.cli = CliRunner()
        files = {**project_files(model_url, workflow), **(files or {})}
        files[".agentforge/config.yaml"] += config_extra  # more top-level keys
        source = make_project(tmp_path / "calc", files)
        self.local("init", str(self.dir), "--from", str(source), "--name", REPO, user="me")
        self.local("grant", "reviewer", "write", user="me")
        self.local("grant", "mallory", "read", user="me")
        self.viewer = LocalForge(self.dir, "me")
        self.bare = self.viewer.bare_path(REPO)

    def local(self, *args: str, user: str = "me") -> str:
        """``agentforge local --dir DIR --as USER ARGS`` (fails the test on an error)."""
        result = self.cli.invoke(cli, ["local", "--dir", str(self.dir), "--as", user, *args])
        assert result.exit_code == 0, result.output
        return result.output

    def settings(self, data_dir: Path):
        self.data_dir = data_dir
        return settings_for(data_dir, local_dir=self.dir, github_webhook_secret="s" * 32)

    def state(self):
        return run_state(self.viewer, REPO, 1, BOT)

    def settle(self, client) -> None:
        """Wait until every event in the outbox was fed to the queue and handled."""
        last = max((seq for seq, _ in self.viewer.events()), default=0)

        def done() -> bool:
            cursor = self.data_dir / CURSOR_NAME
            if not cursor.exists():
                return False
            if max(read_json(cursor)["cursors"].values(), default=0) < last:
                return False
            return jobs_idle(client.db)

        wait_for("the queue to settle", done, 60)
        time.sleep(0.5)  # the bot's own writes of the last job are events too
        if max(seq for seq, _ in self.viewer.events()) > last:
            self.settle(client)


@pytest.fixture
def script() -> Iterator[RoleScript]:
    fake = OpenAIWireFake()
    try:
        yield RoleScript(fake)
        fake.server.check_assertions()
    finally:
        fake.close()


def test_issue_to_ready_mr_with_approvals_and_refusals(tmp_path, script) -> None:
    for role in ("analyst", "developer"):
        script.set(role, phase_steps(role, 1))
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data")) as client:
        site.local(
            "issue",
            "open",
            "--title",
            "Subtract numbers",
            "--body",
            "calc needs sub(a, b); negative results are allowed.",
            "--label",
            "agentforge",
        )
        data = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        assert data.mr is not None
        mr = data.mr

        # Someone without write permission: nothing moves, one reply says who may.
        site.local("comment", "1", "--body", "/approve", user="mallory")
        wait_for(
            "the refusal",
            lambda: any(
                "may" in c.body and "@mallory" in c.body
                for c in bot_comments(site.viewer, REPO, 1, BOT)
            ),
        )
        # A quoted /approve, and a comment edited into /approve, are no commands.
        site.local("comment", "1", "--body", "> /approve\n\nquoting the bot", user="reviewer")
        note = LocalForge(site.dir, "reviewer").create_comment(REPO, 1, "looks fine so far")
        LocalForge(site.dir, "reviewer").edit_comment(REPO, 1, note.id, "/approve")
        site.settle(client)
        assert site.state().phases[0].state == "needs_approval"
        assert script.runs_of("developer") == 0
        refusals = [c for c in bot_comments(site.viewer, REPO, 1, BOT) if "@mallory" in c.body]
        assert len(refusals) == 1

        # The reviewer approves discovery on the issue, build on the MR.
        site.local("comment", "1", "--body", "/approve", user="reviewer")
        wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")
        # 👀 on the accepted command only (not on the edited or quoted ones).
        eyes = [
            c.body
            for c in site.viewer.list_comments(REPO, 1)
            if (BOT, "eyes") in site.viewer.list_reactions(REPO, 1, comment_id=c.id)
        ]
        assert eyes == ["/approve"]
        site.local("comment", str(mr), "--mr", "--body", "/approve", user="reviewer")
        final = wait_outcome(site.viewer, REPO, 1, BOT)
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert final.outcome == "succeeded"
    assert_ready_flow(site.viewer, REPO, 1, BOT, site.bare, PHASES)
    assert script.runs_of("analyst") == 1 and script.runs_of("developer") == 1
    # The first commit was the analyst's requirements; the issue never got a 2nd status.
    assert len(status_comments(site.viewer, REPO, 1, BOT)) == 1


def test_a_restart_with_an_empty_data_directory_resumes_the_run(tmp_path, script) -> None:
    for role in ("analyst", "developer"):
        script.set(role, phase_steps(role, 1))
    site = LocalSite(tmp_path, script.fake.base_url)
    with running_app(site.settings(tmp_path / "data-1")) as client:
        site.local(
            "issue",
            "open",
            "--title",
            "Subtract numbers",
            "--body",
            "calc needs sub.",
            "--label",
            "agentforge",
        )
        first = wait_phase(site.viewer, REPO, 1, BOT, "discovery", "needs_approval")
        site.settle(client)

    # A new machine: no records, no queue, no feed cursor. The forge is the truth, so
    # the replayed outbox (the same issue-opened event included) resumes the one run.
    with running_app(site.settings(tmp_path / "data-2")) as client:
        site.settle(client)
        assert site.state().phases[0].state == "needs_approval"
        site.local("comment", "1", "--body", "/approve", user="reviewer")
        data = wait_phase(site.viewer, REPO, 1, BOT, "build", "needs_approval")
        assert data.run_id == first.run_id and data.mr == first.mr
        site.local("comment", str(first.mr), "--mr", "--body", "/approve", user="reviewer")
        wait_outcome(site.viewer, REPO, 1, BOT)
        site.settle(client)
        assert failed_jobs(client.db) == []

    assert_ready_flow(site.viewer, REPO, 1, BOT, site.bare, PHASES)
    assert script.runs_of("analyst") == 1  # discovery was not worked twice
