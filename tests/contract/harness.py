"""What the Forge contract suite needs from each forge under test.

The :class:`bot.forge.Forge` protocol is what the bot may do; a harness also does what
*people* do on the forge (grant a permission, push a branch, review as someone else),
which the bot's protocol deliberately lacks. Each forge under test (Local, GitHub fake,
GitLab fake) provides one harness; ``tests/contract/harnesses.py`` lists the factories,
one line per forge, and ``tests/contract/conftest.py`` parametrizes over them.
"""

from __future__ import annotations

from typing import Protocol

from bot.forge import CommitState, Forge, Permission


class ForgeHarness(Protocol):
    """A forge under test plus the human-side operations the suite needs."""

    forge: Forge
    """The adapter under test, authenticated as the bot."""
    repo: str
    """Full name of a repository that exists, with one commit on ``main``."""
    bot_login: str
    """The login the adapter acts as."""

    def grant(self, login: str, permission: Permission) -> None:
        """Give ``login`` a permission on ``repo`` (creating the user if needed)."""
        ...

    def set_team(self, team: str, members: list[str], *, pending: list[str] = ()) -> None:
        """Create team ``team`` (``acme/<name>``) with active ``members`` and, where the
        forge has invitations, ``pending`` ones."""
        ...

    def push_branch(
        self, branch: str, files: dict[str, str | bytes | None], base: str = "main"
    ) -> str:
        """Commit ``files`` on ``branch`` (created from ``base`` if new); returns the head sha.

        Content may be text, bytes (a binary file) or None (delete the file).
        """
        ...

    def report_check(self, sha: str, context: str, state: CommitState) -> None:
        """Report ``state`` for ``context`` on ``sha`` the way the forge's CI does.

        GitHub: a check run (as GitHub Actions does); GitLab: a CI job's status; local:
        a commit status written by a CI account.
        """
        ...

    def review(self, number: int, login: str, state: str, body: str = "") -> None:
        """Submit a review on MR ``number`` as ``login`` (``approved``, ``changes_requested``,
        ``commented``)."""
        ...

    def close(self) -> None:
        """Release what the harness holds."""
        ...

    def review_with_comments(
        self, number: int, login: str, comments: list[tuple[str, int, str]]
    ) -> str | None:
        """Submit a review as ``login`` with line comments ``(path, line, body)`` on MR
        ``number``; returns the review's id where the forge keeps one (GitLab: None)."""
        ...

    def fail_check(self, sha: str, name: str, log: str) -> None:
        """Report check ``name`` failing on ``sha`` with ``log`` as its output."""
        ...
