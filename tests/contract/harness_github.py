"""The contract-suite harness for the GitHub adapter against the GitHub REST fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.forge import CommitState, Permission
from bot.forges.github import GitHubForge
from bot.forges.resilience import RetryPolicy
from tests.fakes.github_api import GitHubFake

REPO = "acme/app"
BOT = "agentforge-bot"
TOKEN = "ghp_contract_token"
_ROLES = {
    Permission.NONE: "none",
    Permission.READ: "read",
    Permission.TRIAGE: "triage",
    Permission.WRITE: "write",
    Permission.MAINTAIN: "maintain",
    Permission.ADMIN: "admin",
}
_CHECK_RUNS = {
    CommitState.PENDING: ("queued", None),
    CommitState.RUNNING: ("in_progress", None),
    CommitState.SUCCESS: ("completed", "success"),
    CommitState.FAILURE: ("completed", "failure"),
    CommitState.ERROR: ("completed", "startup_failure"),
    CommitState.CANCELLED: ("completed", "cancelled"),
}
_STATES = {
    "approved": "APPROVED",
    "changes_requested": "CHANGES_REQUESTED",
    "commented": "COMMENTED",
}


class GitHubHarness:
    """``acme/app`` on the GitHub fake; the adapter acts as a writer with a token."""

    def __init__(self, tmp_path: Path) -> None:
        self.fake = GitHubFake(tmp_path)
        self.git = self.fake.add_repo(REPO)
        self.fake.add_token(TOKEN, BOT)
        self.fake.grant(REPO, BOT, "write")
        self.forge = GitHubForge(
            token=TOKEN,
            base_url=self.fake.url,
            policy=RetryPolicy(attempts=2, backoff_base=0.0, max_total_wait=0.0, timeout=5.0),
        )
        self.repo = REPO
        self.bot_login = BOT

    def grant(self, login: str, permission: Permission) -> None:
        """Set ``login``'s repository role."""
        self.fake.grant(REPO, login, _ROLES[Permission(permission)])

    def set_team(self, team: str, members: list[str], *, pending: list[str] = ()) -> None:
        """An organization team with active members and pending invitations."""
        self.fake.add_team(team, members, pending=list(pending))

    def push_branch(
        self, branch: str, files: dict[str, str | bytes | None], base: str = "main"
    ) -> str:
        """Commit straight into the fake's bare repository."""
        return self.git.commit(branch, files, base=base)

    def report_check(self, sha: str, context: str, state: CommitState) -> None:
        """A GitHub Actions check run (queued/in progress, or completed with a conclusion)."""
        status, conclusion = _CHECK_RUNS[CommitState(state)]
        self.fake.add_check_run(REPO, sha, context, status=status, conclusion=conclusion)

    def review(self, number: int, login: str, state: str, body: str = "") -> None:
        """Submit a review on the current head."""
        self.fake.add_review(REPO, number, login, _STATES[state], body)

    def review_with_comments(self, number, login, comments):
        """A COMMENTED review with line comments."""
        return str(self.fake.add_review_with_comments(REPO, number, login, comments)["id"])

    def fail_check(self, sha: str, name: str, log: str) -> None:
        """A failed GitHub Actions check run whose job log is ``log``."""
        self.fake.add_check_log(REPO, sha, name, log)

    def close(self) -> None:
        """Stop the fake; fail the test if the adapter called a route the fake lacks."""
        unexpected = list(self.fake.unexpected)
        self.fake.close()
        if unexpected:
            pytest.fail(f"unexpected calls to the GitHub fake: {unexpected}")


def make_github_harness(tmp_path: Path, request: pytest.FixtureRequest) -> GitHubHarness:
    """Factory listed in ``harnesses.py``."""
    return GitHubHarness(tmp_path)
