"""What the role tools need from the shell: a git view and search, as protocols.

``bot/`` implements them (:class:`bot.roles_git.CheckoutGitView`, a search over the
context index) and hands them to the tools in a :class:`agents.roles.tools.ToolEnv`;
the tools never import git or the stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    Attributes:
        path: Repository-relative path (or a discussion id such as ``issue#12``).
        start_line: First line of the hit (1-based).
        end_line: Last line of the hit.
        text: The matching text.
        score: Relevance, higher is better.
    """

    path: str
    start_line: int
    end_line: int
    text: str
    score: float


class Search(Protocol):
    """A search over code or discussions."""

    def search(self, query: str, k: int = 8) -> list[SearchHit]:
        """The ``k`` best hits for ``query``, best first."""
        ...


class GitView(Protocol):
    """Read-only git history of the checkout a role works on, plus its staged changes."""

    def log(self, path: str | None = None, limit: int = 20) -> str:
        """Newest-first commits (of ``path`` when given), one per line."""
        ...

    def diff(self, base: str | None = None, path: str | None = None) -> str:
        """A unified diff: the staged change set against the tree when ``base`` is
        None, else ``base..HEAD`` of the checkout; limited to ``path`` when given."""
        ...

    def blame(self, path: str, start: int | None = None, end: int | None = None) -> str:
        """Who last changed each line of ``path`` at HEAD (lines ``start``-``end``)."""
        ...
