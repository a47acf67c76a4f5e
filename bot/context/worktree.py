"""A repository's working tree as an indexable snapshot: what `agentforge index --worktree` reads.

By default the index holds the files of a commit (what is committed is what the bot and
its agents see on the forge). ``--worktree`` indexes what is on disk instead: tracked
files as they are now (uncommitted edits included, deleted ones left out) and untracked
files that ``.gitignore`` does not exclude. Symbolic links and submodules are skipped,
as in a commit.

Files unchanged since the git index keep the blob id git recorded; changed and new ones
are hashed from disk (``pygit2.hashfile``), so re-indexing stays incremental.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pygit2
from pygit2.enums import FileStatus

from bot.context.history import (
    SKIP_MISSING,
    SKIP_SUBMODULE,
    SKIP_SYMLINK,
    FileEntry,
    GitHistory,
)
from bot.errors import GitError

_CHANGED_ON_DISK = FileStatus.WT_MODIFIED | FileStatus.WT_TYPECHANGE | FileStatus.WT_RENAMED


class WorktreeSnapshot(GitHistory):
    """The working tree of a non-bare repository, read like a commit.

    ``resolve`` names the ``HEAD`` commit the working tree is based on (``worktree``
    before the first commit); ``list_files`` and ``read_blob`` read the disk.

    Raises:
        GitError: The path is not a git repository, or the repository is bare.
    """

    lists_commits = False  # files on disk, not the tree of the commit ``resolve`` names

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        if self.repo.is_bare or not self.repo.workdir:
            raise GitError(f"indexing the working tree of {path}: a bare repository has none")
        self.workdir = Path(self.repo.workdir)
        self._on_disk: dict[str, Path] = {}

    @property
    def is_empty(self) -> bool:
        """Never: an empty working tree simply lists no files."""
        return False

    def resolve(self, rev: str = "HEAD") -> str:
        """The commit the working tree is based on, or ``worktree`` before the first one."""
        if self.repo.head_is_unborn:
            return "worktree"
        return super().resolve(rev)

    def list_files(self, rev: str = "HEAD") -> tuple[list[FileEntry], list[tuple[str, str]]]:
        """Files on disk that git tracks or would track; ``rev`` is ignored."""
        try:
            status = self.repo.status(untracked_files="all", ignored=False)
        except pygit2.GitError as exc:
            raise GitError(f"reading the working tree of {self.workdir}: {exc}") from exc
        tracked = {entry.path: entry for entry in self.repo.index}
        paths = {p for p in tracked if not status.get(p, 0) & FileStatus.WT_DELETED}
        paths |= {p for p, flags in status.items() if flags & FileStatus.WT_NEW}
        files: list[FileEntry] = []
        skipped: list[tuple[str, str]] = []
        self._on_disk.clear()
        for rel in sorted(paths):
            entry = tracked.get(rel)
            if entry is not None and entry.mode == pygit2.GIT_FILEMODE_COMMIT:
                skipped.append((rel, SKIP_SUBMODULE))
                continue
            full = self.workdir / rel
            try:
                info = os.lstat(full)
            except OSError:
                skipped.append((rel, SKIP_MISSING))
                continue
            if stat.S_ISLNK(info.st_mode):
                skipped.append((rel, SKIP_SYMLINK))
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if entry is not None and not status.get(rel, 0) & _CHANGED_ON_DISK:
                blob_id = str(entry.id)
            else:
                blob_id = str(pygit2.hashfile(str(full)))
            self._on_disk[blob_id] = full
            files.append(FileEntry(rel, blob_id, info.st_size))
        return files, skipped

    def read_blob(self, blob_id: str) -> bytes:
        """A listed file's bytes from disk (other blob ids from the object database)."""
        path = self._on_disk.get(blob_id)
        if path is None:
            return super().read_blob(blob_id)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise GitError(f"reading {path}: {exc}") from exc


def count_uncommitted(history: GitHistory) -> int:
    """How many paths differ between the working tree and ``HEAD`` (0 for a bare repository).

    Counts edits, deletions and untracked files that ``.gitignore`` does not exclude:
    what a commit-based index leaves out.
    """
    if history.repo.is_bare:
        return 0
    try:
        status = history.repo.status(untracked_files="all", ignored=False)
    except pygit2.GitError as exc:
        raise GitError(f"reading the working tree of {history.root}: {exc}") from exc
    return sum(1 for flags in status.values() if flags & ~FileStatus.IGNORED)
