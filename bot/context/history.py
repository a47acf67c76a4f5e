"""Git history through pygit2: files at a commit, commits touching a path, diffs, blame, co-change.

Everything reads straight from the object database, so no checkout is needed and a
bare clone works. Symbolic links and submodules are listed as skipped, never read or
followed. So are objects the repository does not have: a partial clone
(``git clone --filter=blob:none``) or a mirror without its large files lacks some
blobs (or trees), and one of them must not stop everything else from being read.
pygit2 errors are translated to :class:`bot.errors.GitError`.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import DeltaStatus, SortMode

from bot.errors import GitError

_LINK = pygit2.GIT_FILEMODE_LINK
_SUBMODULE = pygit2.GIT_FILEMODE_COMMIT

SKIP_SYMLINK = "symlink"
SKIP_SUBMODULE = "submodule"
SKIP_MISSING = "object missing (partial clone, or a mirror without large files)"
"""Reasons :meth:`GitHistory.list_files` gives for the paths it skips."""
# pygit2's NotFoundError is a KeyError; a damaged object file raises GitError.
_UNREADABLE = (KeyError, pygit2.GitError)


@dataclass(frozen=True)
class FileEntry:
    """A regular file in a commit's tree."""

    path: str
    blob_id: str
    size: int


@dataclass(frozen=True)
class CommitInfo:
    """A commit's identity and message."""

    sha: str
    author: str
    time: int
    summary: str


@dataclass(frozen=True)
class FileChange:
    """One file changed by a commit (``status`` is A, D, M, R, C or T)."""

    path: str
    old_path: str
    status: str
    additions: int
    deletions: int


@dataclass(frozen=True)
class CommitDiff:
    """A commit compared with its first parent (or the empty tree for a root commit)."""

    commit: CommitInfo
    files: list[FileChange]
    patch: str


@dataclass(frozen=True)
class BlameLine:
    """One author's share of a file."""

    author: str
    lines: int
    last_commit: str
    last_time: int


@dataclass
class ChangeStats:
    """How often files changed, when last, and with which others, before a commit.

    Attributes:
        commits: Number of commits scanned.
        counts: Commits that touched each path.
        last_changed: Unix time of the newest commit that touched each path.
        head_time: Unix time of the commit the scan started from.
        pairs: ``pairs[a][b]`` = commits that touched both a and b.
    """

    commits: int = 0
    counts: Counter = field(default_factory=Counter)
    last_changed: dict[str, int] = field(default_factory=dict)
    head_time: int = 0
    pairs: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def co_changed_with(self, paths: list[str]) -> dict[str, float]:
        """Files that changed together with ``paths``: share of their commits, 0..1."""
        scores: dict[str, float] = {}
        for anchor in paths:
            total = self.counts.get(anchor, 0)
            if not total:
                continue
            for other, n in self.pairs.get(anchor, {}).items():
                scores[other] = max(scores.get(other, 0.0), n / total)
        return scores

    def recency(self, path: str, half_life_days: float = 180.0) -> float:
        """1.0 for a file changed at the head commit, halving every ``half_life_days``."""
        when = self.last_changed.get(path)
        if when is None:
            return 0.0
        age_days = max(0.0, (self.head_time - when) / 86400.0)
        return 0.5 ** (age_days / half_life_days)


class GitHistory:
    """Read-only access to one repository's history.

    Args:
        path: A work tree, a ``.git`` directory or a bare repository.

    Raises:
        GitError: The path is not a git repository.
    """

    lists_commits = True
    """:meth:`list_files` lists a commit's tree (so two listings can be diffed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.repo = pygit2.Repository(str(path))
        except (pygit2.GitError, KeyError, OSError) as exc:
            raise GitError(f"opening git repository at {path}: {exc}") from exc

    @property
    def root(self) -> Path:
        """The repository's top directory (the work tree, or a bare repository itself).

        ``GitHistory("repo/src")`` opens ``repo``; its root is the same from any
        sub-directory, which is what an index is keyed by.
        """
        return Path(self.repo.workdir or self.repo.path).resolve()

    @property
    def is_empty(self) -> bool:
        """True for a repository without any commit."""
        return self.repo.is_empty or self.repo.head_is_unborn

    def _commit(self, rev: str) -> pygit2.Commit:
        try:
            return self.repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
            raise GitError(f"resolving revision {rev!r} in {self.path}: {exc}") from exc

    def resolve(self, rev: str = "HEAD") -> str:
        """The full commit id of a revision (branch, tag, sha, ``HEAD~2``...)."""
        return str(self._commit(rev).id)

    def commit_time(self, rev: str) -> int:
        """Commit time (Unix seconds) of a revision."""
        return self._commit(rev).commit_time

    def list_files(self, rev: str = "HEAD") -> tuple[list[FileEntry], list[tuple[str, str]]]:
        """Regular files of a commit's tree, and the paths skipped with the reason.

        Symbolic links and submodules are skipped (:data:`SKIP_SYMLINK`,
        :data:`SKIP_SUBMODULE`), and so is every blob or tree the object database does
        not have or cannot read (:data:`SKIP_MISSING`; a missing tree is listed as
        ``dir/``): the rest of the commit is still listed.

        Returns:
            ``(files, skipped)`` sorted by path; both empty for an empty repository.
        """
        if self.is_empty:
            return [], []
        files: list[FileEntry] = []
        skipped: list[tuple[str, str]] = []
        stack: list[tuple[str, pygit2.Tree]] = [("", self._commit(rev).tree)]
        while stack:
            prefix, tree = stack.pop()
            for entry in tree:
                path = prefix + entry.name
                if entry.filemode == _LINK:
                    skipped.append((path, SKIP_SYMLINK))
                elif entry.filemode == _SUBMODULE:
                    skipped.append((path, SKIP_SUBMODULE))
                elif entry.type_str == "tree":
                    try:
                        stack.append((path + "/", self.repo[entry.id]))
                    except _UNREADABLE:
                        skipped.append((path + "/", SKIP_MISSING))
                elif entry.type_str == "blob":
                    try:
                        size = entry.size  # reads the object's header
                    except _UNREADABLE:
                        skipped.append((path, SKIP_MISSING))
                    else:
                        files.append(FileEntry(path, str(entry.id), size))
        files.sort(key=lambda f: f.path)
        return files, sorted(skipped)

    def changed_files(
        self, old_rev: str, rev: str = "HEAD"
    ) -> tuple[list[FileEntry], list[str], list[tuple[str, str]]] | None:
        """What changed from ``old_rev``'s tree to ``rev``'s, for an incremental index.

        Returns:
            ``(files, gone, skipped)``: the regular files added or changed (as
            :meth:`list_files` lists them), the paths that are no longer regular files
            (deleted, or now a link or submodule), and the changed paths skipped with
            the reason; or None when ``old_rev`` cannot be read (list everything).
        """
        try:
            old = self._commit(old_rev)
        except GitError:
            return None
        new = self._commit(rev)
        try:
            diff = self.repo.diff(old.tree, new.tree)  # no rename detection: paths only
        except _UNREADABLE:
            return None  # a tree on either side is missing: list everything instead
        files: list[FileEntry] = []
        gone: list[str] = []
        skipped: list[tuple[str, str]] = []
        for delta in diff.deltas:
            if delta.old_file.path != delta.new_file.path:  # pragma: no cover - no renames
                gone.append(delta.old_file.path)
            path, mode = delta.new_file.path, delta.new_file.mode
            if delta.status == pygit2.enums.DeltaStatus.DELETED:
                gone.append(delta.old_file.path)
            elif mode == _LINK:
                gone.append(path)
                skipped.append((path, SKIP_SYMLINK))
            elif mode == _SUBMODULE:
                gone.append(path)
                skipped.append((path, SKIP_SUBMODULE))
            else:
                try:
                    size = self.repo[delta.new_file.id].size
                except _UNREADABLE:
                    gone.append(path)
                    skipped.append((path, SKIP_MISSING))
                else:
                    files.append(FileEntry(path, str(delta.new_file.id), size))
        files.sort(key=lambda f: f.path)
        return files, sorted(set(gone)), sorted(skipped)

    def read_blob(self, blob_id: str) -> bytes:
        """The raw bytes of a blob.

        Raises:
            GitError: The blob is not in the repository or cannot be read.
        """
        try:
            return self.repo[blob_id].data
        except (*_UNREADABLE, ValueError) as exc:
            raise GitError(f"reading blob {blob_id} in {self.path}: {exc}") from exc

    def file_at(self, path: str, rev: str = "HEAD") -> bytes:
        """A file's content at a revision. Symbolic links are refused, never followed.

        Raises:
            GitError: The path does not exist at that revision or is not a regular file.
        """
        tree = self._commit(rev).tree
        try:
            entry = tree[path]
        except KeyError as exc:
            raise GitError(f"reading {path} at {rev} in {self.path}: no such file") from exc
        if entry.filemode == _LINK or entry.type_str != "blob":
            raise GitError(f"reading {path} at {rev} in {self.path}: not a regular file")
        try:
            return self.repo[entry.id].data
        except _UNREADABLE as exc:
            raise GitError(f"reading {path} at {rev} in {self.path}: {SKIP_MISSING}") from exc

    @staticmethod
    def _info(commit: pygit2.Commit) -> CommitInfo:
        summary = commit.message.strip().splitlines()[0] if commit.message.strip() else ""
        return CommitInfo(str(commit.id), commit.author.name, commit.commit_time, summary)

    @staticmethod
    def _entry_id(tree: pygit2.Tree, path: str) -> str | None:
        try:
            return str(tree[path].id)
        except KeyError:
            return None

    def commits_touching(
        self, path: str, rev: str = "HEAD", limit: int = 20, max_scan: int = 5000
    ) -> list[CommitInfo]:
        """Newest-first commits (first-parent comparison) that changed ``path``."""
        if self.is_empty:
            return []
        found: list[CommitInfo] = []
        for n, commit in enumerate(self.repo.walk(self._commit(rev).id, SortMode.TIME)):
            if n >= max_scan or len(found) >= limit:
                break
            mine = self._entry_id(commit.tree, path)
            parent = self._entry_id(commit.parents[0].tree, path) if commit.parents else None
            if mine != parent:
                found.append(self._info(commit))
        return found

    def commit_diff(self, rev: str, *, max_patch_chars: int = 200_000) -> CommitDiff:
        """The files a commit changed (renames detected) and its patch, truncated."""
        commit = self._commit(rev)
        if commit.parents:
            diff = self.repo.diff(commit.parents[0], commit)
        else:
            diff = commit.tree.diff_to_tree(swap=True)
        diff.find_similar()
        files = []
        for patch in diff:
            delta = patch.delta
            _, additions, deletions = patch.line_stats
            files.append(
                FileChange(
                    path=delta.new_file.path,
                    old_path=delta.old_file.path,
                    status=delta.status_char(),
                    additions=additions,
                    deletions=deletions,
                )
            )
        return CommitDiff(self._info(commit), files, (diff.patch or "")[:max_patch_chars])

    def blame_summary(self, path: str, rev: str = "HEAD") -> list[BlameLine]:
        """Who wrote how many lines of a file at a revision, largest share first."""
        commit = self._commit(rev)
        try:
            blame = self.repo.blame(path, newest_commit=commit.id)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitError(f"blaming {path} at {rev} in {self.path}: {exc}") from exc
        lines: Counter = Counter()
        last: dict[str, tuple[int, str]] = {}
        for hunk in blame:
            sig = hunk.final_committer or hunk.orig_committer
            author = sig.name if sig else "unknown"
            lines[author] += hunk.lines_in_hunk
            when = sig.time if sig else 0
            if when >= last.get(author, (-1, ""))[0]:
                last[author] = (when, str(hunk.final_commit_id))
        return [
            BlameLine(author, n, last[author][1], last[author][0])
            for author, n in lines.most_common()
        ]

    def change_stats(
        self, rev: str = "HEAD", *, max_commits: int = 500, max_files_per_commit: int = 30
    ) -> ChangeStats:
        """Change counts, recency and co-change pairs over recent first-parent history.

        Commits that touch more than ``max_files_per_commit`` files (mass renames,
        reformatting) are counted for recency but not for co-change pairs.
        """
        stats = ChangeStats()
        if self.is_empty:
            return stats
        head = self._commit(rev)
        stats.head_time = head.commit_time
        started = time.monotonic()
        walker = self.repo.walk(head.id, SortMode.TOPOLOGICAL | SortMode.TIME)
        walker.simplify_first_parent()
        for commit in walker:
            if stats.commits >= max_commits or time.monotonic() - started > 10:
                break
            stats.commits += 1
            try:
                if commit.parents:
                    diff = commit.parents[0].tree.diff_to_tree(commit.tree)
                else:
                    diff = commit.tree.diff_to_tree(swap=True)
                paths = [
                    d.new_file.path if d.status != DeltaStatus.DELETED else d.old_file.path
                    for d in diff.deltas
                ]
            except _UNREADABLE:
                # A tree this clone lacks: the commit still counts, its files do not.
                continue
            for path in paths:
                stats.counts[path] += 1
                stats.last_changed.setdefault(path, commit.commit_time)
            if 1 < len(paths) <= max_files_per_commit:
                for a in paths:
                    for b in paths:
                        if a != b:
                            stats.pairs[a][b] += 1
        return stats
