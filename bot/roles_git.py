"""The git view role tools see: log, diff and blame of a checkout, through pygit2.

Implements :class:`agents.roles.ports.GitView` for :class:`agents.roles.tools.ToolEnv`.
Everything reads the object database (no working-tree state but the staged change
set, which lives in memory), and pygit2 errors become :class:`bot.errors.RoleToolError`
with what was asked, so the model sees a clear tool error (``unknown revision``...).
"""

from __future__ import annotations

import time
from pathlib import Path

import pygit2
from pygit2.enums import SortMode

from agents.roles.changes import ChangeSet
from bot.errors import GitError, RoleToolError

MAX_LOG_SCAN = 5000


def tracked_files(root: Path) -> list[str] | None:
    """The files git tracks in the checkout at ``root`` (its index), or None when it is
    not a git work tree. Use as :class:`ChangeSet`'s ``tracked`` so build outputs and
    virtualenvs in a developer's checkout are not part of the tree a role sees."""
    try:
        repo = pygit2.Repository(str(root))
    except (pygit2.GitError, KeyError, OSError):
        return None
    if repo.is_bare:
        return None
    return sorted(entry.path for entry in repo.index)


class CheckoutGitView:
    """Read-only git history of the checkout at ``root``, plus ``changes``' diff.

    Args:
        root: A git work tree.
        changes: The role's staged change set (for ``diff()`` without a base).

    Raises:
        GitError: ``root`` is not a git repository.
    """

    def __init__(self, root: Path, changes: ChangeSet) -> None:
        self.root = Path(root)
        self.changes = changes
        try:
            self.repo = pygit2.Repository(str(root))
        except (pygit2.GitError, KeyError, OSError) as exc:
            raise GitError(f"opening git repository at {root}: {exc}") from exc

    def _commit(self, rev: str) -> pygit2.Commit:
        if self.repo.is_empty or self.repo.head_is_unborn:
            raise RoleToolError("the repository has no commits yet")
        try:
            return self.repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise RoleToolError(f"unknown revision {rev!r} (try a branch name or a sha)") from None

    def log(self, path: str | None = None, limit: int = 20) -> str:
        """Newest-first commits: ``sha7 YYYY-MM-DD author: subject`` per line."""
        if self.repo.is_empty or self.repo.head_is_unborn:
            return ""
        lines: list[str] = []
        for n, commit in enumerate(self.repo.walk(self._commit("HEAD").id, SortMode.TIME)):
            if n >= MAX_LOG_SCAN or len(lines) >= limit:
                break
            if path is not None and not self._touches(commit, path):
                continue
            when = time.strftime("%Y-%m-%d", time.gmtime(commit.commit_time))
            subject = commit.message.strip().splitlines()[0] if commit.message.strip() else ""
            lines.append(f"{str(commit.id)[:7]} {when} {commit.author.name}: {subject}")
        return "\n".join(lines)

    @staticmethod
    def _entry(tree: pygit2.Tree, path: str) -> str | None:
        try:
            return str(tree[path].id)
        except KeyError:
            return None

    def _touches(self, commit: pygit2.Commit, path: str) -> bool:
        mine = self._entry(commit.tree, path)
        parent = self._entry(commit.parents[0].tree, path) if commit.parents else None
        return mine != parent

    def diff(self, base: str | None = None, path: str | None = None) -> str:
        """Unified diff: the staged change set against the tree (``base`` None), or
        ``base..HEAD``; only ``path`` (a file or directory) when given."""
        if base is None:
            return self.changes.unified_diff(path)
        old, new = self._commit(base), self._commit("HEAD")
        diff = self.repo.diff(old, new)
        diff.find_similar()
        patches = []
        for patch in diff:
            names = {patch.delta.old_file.path, patch.delta.new_file.path}
            if path is None or any(n == path or n.startswith(path + "/") for n in names):
                patches.append(patch.text or "")
        return "".join(patches)

    def blame(self, path: str, start: int | None = None, end: int | None = None) -> str:
        """``sha7 (author YYYY-MM-DD) N | line`` for lines ``start``-``end`` at HEAD."""
        head = self._commit("HEAD")
        try:
            entry = head.tree[path]
        except KeyError:
            raise RoleToolError(
                f"{path} is not in the last commit (new files have no blame)"
            ) from None
        if entry.type_str != "blob" or entry.filemode == pygit2.GIT_FILEMODE_LINK:
            raise RoleToolError(f"{path} is not a regular file")
        text = self.repo[entry.id].data.decode("utf-8", errors="replace").splitlines()
        first = max(1, start or 1)
        last = min(len(text), end or len(text))
        if first > last:
            raise RoleToolError(f"{path} has {len(text)} lines; no lines {first}-{last}")
        try:
            blame = self.repo.blame(path, newest_commit=head.id, min_line=first, max_line=last)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise RoleToolError(f"blaming {path}: {exc}") from None
        out: list[str] = []
        for n in range(first, last + 1):
            hunk = blame.for_line(n)
            sig = hunk.final_committer
            who = sig.name if sig else "unknown"
            when = time.strftime("%Y-%m-%d", time.gmtime(sig.time)) if sig else "?"
            out.append(f"{str(hunk.final_commit_id)[:7]} ({who} {when}) {n} | {text[n - 1]}")
        return "\n".join(out)
