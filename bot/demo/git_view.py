"""The run's branch as git shows it: its commits (with their trailers) and changed files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BranchCommit:
    """One commit on the run's branch.

    Attributes:
        sha: Full commit id.
        subject: First line of the message.
        phase: ``Agentforge-Phase`` trailer (None on a person's commit).
        role: ``Agentforge-Role`` trailer.
    """

    sha: str
    subject: str
    phase: str | None
    role: str | None


def _trailer(message: str, name: str) -> str | None:
    for line in reversed(message.splitlines()):
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    return None


def _tips(bare: Path, branch: str, base: str):
    import pygit2

    repo = pygit2.Repository(str(bare))
    head = repo.references.get(f"refs/heads/{branch}")
    root = repo.references.get(f"refs/heads/{base}")
    if head is None or root is None:
        return repo, None, None
    return repo, head.peel(pygit2.Commit), root.peel(pygit2.Commit)


def commits(bare: Path, branch: str, base: str) -> list[BranchCommit]:
    """Commits on ``branch`` not on ``base``, oldest first (empty without the branch)."""
    import pygit2

    repo, head, root = _tips(bare, branch, base)
    if head is None:
        return []
    walker = repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
    walker.hide(root.id)
    return [
        BranchCommit(
            str(c.id),
            c.message.splitlines()[0] if c.message else "",
            _trailer(c.message, "Agentforge-Phase"),
            _trailer(c.message, "Agentforge-Role"),
        )
        for c in walker
    ]


def changed_files(bare: Path, branch: str, base: str) -> list[str]:
    """Paths that differ between ``base`` and ``branch`` (sorted)."""
    repo, head, root = _tips(bare, branch, base)
    if head is None:
        return []
    diff = repo.diff(root, head)
    return sorted({d.delta.new_file.path for d in diff})
