"""The contract-suite harness for the GitLab adapter against the GitLab REST fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.forge import CommitState, Permission
from bot.forges.gitlab import GitLabForge
from bot.forges.resilience import RetryPolicy
from tests.fakes.gitlab_api import GitLabFake

REPO = "acme/app"
BOT = "agentforge-bot"
TOKEN = "glpat-contract-token"
_JOB_STATES = {
    CommitState.PENDING: "pending",
    CommitState.RUNNING: "running",
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failed",
    CommitState.ERROR: "failed",
    CommitState.CANCELLED: "canceled",
}
_LEVELS = {
    Permission.NONE: 0,
    Permission.READ: 10,
    Permission.TRIAGE: 20,
    Permission.WRITE: 30,
    Permission.MAINTAIN: 40,
    Permission.ADMIN: 50,
}


class GitLabHarness:
    """``acme/app`` on the GitLab fake; the adapter acts as a Developer with a token."""

    def __init__(self, tmp_path: Path) -> None:
        self.fake = GitLabFake(tmp_path)
        self.git = self.fake.add_project(REPO)
        self.fake.add_token(TOKEN, BOT)
        self.fake.grant(REPO, BOT, 30)
        self.forge = GitLabForge(
            token=TOKEN,
            base_url=self.fake.url,
            policy=RetryPolicy(attempts=2, backoff_base=0.0, max_total_wait=0.0, timeout=5.0),
        )
        self.repo = REPO
        self.bot_login = BOT

    def grant(self, login: str, permission: Permission) -> None:
        """Make ``login`` a member with the matching access level."""
        self.fake.grant(REPO, login, _LEVELS[Permission(permission)])

    def set_team(self, team: str, members: list[str], *, pending: list[str] = ()) -> None:
        """A group (``acme/backend`` is a subgroup of ``acme``) with members and
        invitations awaiting acceptance."""
        self.fake.add_group(team, members, awaiting=list(pending))

    def push_branch(
        self, branch: str, files: dict[str, str | bytes | None], base: str = "main"
    ) -> str:
        """Commit straight into the fake's bare repository."""
        return self.git.commit(branch, files, base=base)

    def report_check(self, sha: str, context: str, state: CommitState) -> None:
        """A CI job's status on the commit (the statuses API lists jobs)."""
        self.fake.add_job(REPO, sha, context, _JOB_STATES[CommitState(state)])

    def review(self, number: int, login: str, state: str, body: str = "") -> None:
        """Submit a review (summary note, then the verdict's system note)."""
        self.fake.review(REPO, number, login, state, body)

    def review_with_comments(self, number, login, comments):
        """Diff notes, one discussion each (GitLab keeps no review id)."""
        for path, line, body in comments:
            self.fake.add_diff_note(REPO, number, login, path, line, body)
        return None

    def fail_check(self, sha: str, name: str, log: str) -> None:
        """A failed job in the commit's pipeline whose trace is ``log``."""
        self.fake.add_job_log(REPO, sha, name, status="failed", trace=log)

    def close(self) -> None:
        """Stop the fake; fail the test if the adapter called a route the fake lacks."""
        unexpected = list(self.fake.unexpected)
        self.fake.close()
        if unexpected:
            pytest.fail(f"unexpected calls to the GitLab fake: {unexpected}")


def make_gitlab_harness(tmp_path: Path, request: pytest.FixtureRequest) -> GitLabHarness:
    """Factory listed in ``harnesses.py``."""
    return GitLabHarness(tmp_path)
