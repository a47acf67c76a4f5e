"""The forges the contract suite runs against: one factory per forge.

Each factory takes pytest's ``tmp_path`` and ``request`` and returns a
:class:`tests.contract.harness.ForgeHarness`; ``conftest.py`` parametrizes the
``harness`` fixture over :data:`HARNESSES`, so one added line runs every contract
test against another forge. The local forge's harness is defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import WorkspaceError
from bot.forge import CommitState, Permission
from bot.forges.local import LocalForge
from bot.workspace import Identity, Workspace
from tests.contract.harness import ForgeHarness

OWNER = "owner"
BOT = "agentforge-bot"
CI = "local-ci"
REPO = "acme/app"


class LocalHarness:
    """A fresh local forge with ``acme/app`` (one commit on ``main``), the bot a writer."""

    def __init__(self, tmp_path: Path) -> None:
        source = tmp_path / "seed"
        source.mkdir()
        (source / "README.md").write_text("# app\n", encoding="utf-8")
        self._dir = tmp_path / "forge"
        self._owner = LocalForge(self._dir, OWNER)
        self._owner.init_project(REPO, source)
        self._owner.grant(REPO, BOT, Permission.WRITE)
        self.forge = LocalForge(self._dir, BOT, is_bot=True)
        self.repo = REPO
        self.bot_login = BOT
        self._work = tmp_path / "harness-clone"

    def grant(self, login: str, permission: Permission) -> None:
        """Grant as the project's owner."""
        self._owner.grant(REPO, login, permission)

    def set_team(self, team: str, members: list[str], *, pending: list[str] = ()) -> None:
        """A local team (the local forge has no invitations: ``pending`` are left out)."""
        self._owner.set_team(team, members)

    def push_branch(
        self, branch: str, files: dict[str, str | bytes | None], base: str = "main"
    ) -> str:
        """Commit ``files`` on ``branch`` (from ``base`` if new) and push it with the workspace."""
        ws = Workspace.open(self.forge.clone_url(REPO), self._work)
        try:
            ws.commit_info(f"refs/remotes/origin/{branch}")
            start = branch
        except WorkspaceError:
            start = base
        ws.create_branch(branch, start, reset=True)
        for path, content in files.items():
            if content is None:
                ws.delete_file(path)
            else:
                ws.write_file(path, content)
        sha = ws.commit(f"Update {branch}", author=Identity(OWNER, f"{OWNER}@example.test"))
        ws.push(branch)
        return sha or ws.head_sha()

    def report_check(self, sha: str, context: str, state: CommitState) -> None:
        """A CI account (a writer) sets a commit status."""
        self._owner.grant(REPO, CI, Permission.WRITE)
        LocalForge(self._dir, CI, is_bot=True).set_commit_status(REPO, sha, state, context=context)

    def review(self, number: int, login: str, state: str, body: str = "") -> None:
        """Review as ``login``."""
        LocalForge(self._dir, login).submit_review(REPO, number, state, body)

    def close(self) -> None:
        """Nothing is held open between operations."""

    def review_with_comments(self, number, login, comments):
        """A review with line comments, as ``login``."""
        forge = LocalForge(self._dir, login)
        return forge.submit_review(REPO, number, "commented", "see the comments", comments).id

    def fail_check(self, sha: str, name: str, log: str) -> None:
        """A failing status with its log, as a local CI run records them."""
        self._owner.set_commit_status(REPO, sha, CommitState.FAILURE, context=name)
        self._owner.set_check_log(REPO, sha, name, log)


def make_local_harness(tmp_path: Path, request: pytest.FixtureRequest) -> LocalHarness:
    """Factory listed in ``harnesses.py``."""
    return LocalHarness(tmp_path)


HarnessFactory = Callable[[Path, pytest.FixtureRequest], ForgeHarness]

HARNESSES: dict[str, HarnessFactory] = {
    "local": make_local_harness,
    "github": __import__("tests.contract.harness_github", fromlist=["x"]).make_github_harness,
    "gitlab": __import__("tests.contract.harness_gitlab", fromlist=["x"]).make_gitlab_harness,
}
