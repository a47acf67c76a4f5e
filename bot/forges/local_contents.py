"""Repository contents, MR files, issue lists and CI checks of the local forge.

Files are read straight from the project's bare repository with pygit2 (a ref is a
branch, a tag or a commit sha); an MR's files are the diff between its head and the
merge base with its target branch; the local forge has no CI of its own, so its
checks are its commit statuses.
"""

from __future__ import annotations

import pygit2
from pygit2.enums import FileMode

from bot.errors import InvalidRequest
from bot.forge import CommitStatus, Issue, User
from bot.forges import local_git
from bot.forges._common import ISSUE_STATES, check_file_path, file_text
from bot.forges.local_mrs import MergeRequestsMixin


class ContentsMixin(MergeRequestsMixin):
    """Reads of repository contents and the other lookups a workflow needs."""

    def whoami(self) -> User:
        """The acting user (recorded as a bot account when ``is_bot``)."""
        with self._tx(f"reading local user {self.user}") as con:
            return self._me(con)

    def _commit_at(self, repo: str, ref: str, doing: str) -> pygit2.Commit | None:
        with self._tx(doing) as con:
            self._project(con, repo, doing)  # NotFound for a missing project
        bare = self._bare(repo)
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}"):
            found = bare.references.get(name)
            if found is not None:
                return found.peel(pygit2.Commit)
        if not ref or any(c not in "0123456789abcdef" for c in ref.lower()) or len(ref) < 4:
            return None  # neither a branch, a tag nor a sha: never revparse syntax
        try:
            return bare.revparse_single(ref).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None

    def get_file(self, repo: str, path: str, *, ref: str) -> str | None:
        """A file's text at ``ref``; None when the file or the ref does not exist."""
        path = check_file_path(path, forge="local")
        doing = f"reading {path} at {ref} in {repo}"
        commit = self._commit_at(repo, ref, doing)
        if commit is None:
            return None
        try:
            entry = commit.tree[path]
        except KeyError:
            return None
        if entry.filemode != FileMode.BLOB and entry.filemode != FileMode.BLOB_EXECUTABLE:
            kind = {FileMode.TREE: "a directory", FileMode.LINK: "a symlink"}.get(
                entry.filemode, "a submodule"
            )
            raise self._err(InvalidRequest, f"{path} is {kind}, not a file", doing)
        return file_text(self._bare(repo)[entry.id].data, path, ref, forge="local")

    def list_dir(self, repo: str, path: str, *, ref: str) -> list[str]:
        """Paths of the regular files directly in ``path`` at ``ref`` (``[]`` if absent)."""
        path = check_file_path(path, forge="local", directory=True)
        commit = self._commit_at(repo, ref, f"listing {path or '/'} at {ref} in {repo}")
        if commit is None:
            return []
        tree = commit.tree
        if path:
            try:
                entry = tree[path]
            except KeyError:
                return []
            if entry.filemode != FileMode.TREE:
                return []
            tree = self._bare(repo)[entry.id]
        prefix = f"{path}/" if path else ""
        return sorted(
            prefix + e.name for e in tree if e.filemode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)
        )

    def list_mr_files(self, repo: str, number: int) -> list[str]:
        """Paths changed between the MR's merge base and its head (both sides of a rename)."""
        doing = f"listing files of merge request {repo}!{number}"
        with self._tx(doing) as con:
            project = self._project(con, repo, doing)
            mr = self._mr(con, project, number, doing)
        bare = self._bare(repo)
        base_sha = local_git.branch_sha(bare, mr.base_ref)
        if mr.head_sha is None or base_sha is None:
            return []
        head = bare[mr.head_sha].peel(pygit2.Commit)
        base_id = bare.merge_base(base_sha, head.id) or pygit2.Oid(hex=base_sha)
        diff = bare.diff(bare[base_id].peel(pygit2.Commit).tree, head.tree)
        paths = {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)}
        return sorted(paths)

    def list_issues(
        self, repo: str, *, state: str = "open", labels: list[str] | None = None
    ) -> list[Issue]:
        """Issues in a state (``open``, ``closed``, ``all``) carrying every label, by number."""
        if state not in ISSUE_STATES:
            doing = f"listing issues of {repo}"
            raise self._err(
                InvalidRequest, f"state must be one of {', '.join(sorted(ISSUE_STATES))}", doing
            )
        issues = super().list_issues(repo, state=state)
        wanted = set(labels or [])
        return [i for i in issues if wanted <= set(i.labels)]

    def list_checks(self, repo: str, sha: str) -> list[CommitStatus]:
        """The commit's statuses, latest per context (the local forge runs no CI)."""
        return self.list_commit_statuses(repo, sha)
