"""The git workspace: clone (or reuse) a repository, branch, write files, commit, push.

Everything goes through pygit2. A workspace is a normal (non-bare) clone that lives
in a cache directory (``<cache>/<forge>/<owner>/<name>``, see :func:`cache_path`) or a
path the caller chooses; the next run on the same path fetches instead of cloning
again. Credentials never touch the disk: a token passed in (or embedded in an https
URL, as forges hand out) is given to git through a credentials callback, and the URL
stored in ``.git/config`` is the clean one.

Writes are confined to the work tree: absolute paths, ``..``, anything under
``.git/`` and symlinks that lead out of the tree raise :class:`bot.errors.UnsafePath`.
Every pygit2 failure is re-raised as :class:`bot.errors.GitError` saying what was
being done. Commits carry AgentForge's trailers (``Agentforge-Run:``,
``Agentforge-Phase:``, ``Agentforge-Role:``) in git's trailer format, so run state can
be rebuilt from a branch's history alone.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

import pygit2
from pygit2.enums import CheckoutStrategy, CredentialType, FileMode

from bot.errors import GitError, UnsafePath, WorkspaceError

TRAILER_RUN = "Agentforge-Run"
TRAILER_PHASE = "Agentforge-Phase"
TRAILER_ROLE = "Agentforge-Role"

_TRAILER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)$")


@dataclass(frozen=True)
class Identity:
    """A commit author or committer."""

    name: str
    email: str


@dataclass(frozen=True)
class CommitInfo:
    """One commit as read back from a branch.

    Attributes:
        sha: Full hex id.
        message: The whole message, trailers included.
        author: Who wrote the change.
        committer: Who committed it.
        authored_at: Author time (UTC).
        parents: Parent shas.
        trailers: ``(key, value)`` pairs from the message's trailer block, in order.
    """

    sha: str
    message: str
    author: Identity
    committer: Identity
    authored_at: datetime
    parents: tuple[str, ...]
    trailers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def subject(self) -> str:
        """The first line of the message."""
        return self.message.split("\n", 1)[0]

    def trailer(self, key: str) -> str | None:
        """The last value of trailer ``key`` (case-insensitive), or None."""
        found = None
        for k, v in self.trailers:
            if k.lower() == key.lower():
                found = v
        return found


# --- trailers ----------------------------------------------------------------------


def parse_trailers(message: str) -> list[tuple[str, str]]:
    """The ``Key: value`` pairs of a message's trailer block (its last paragraph).

    The block counts only when it is not the subject and every line is a trailer or
    an indented continuation of the previous one, as git reads them.
    """
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return []
    pairs: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines():
        match = _TRAILER_LINE.match(line)
        if match:
            pairs.append((match.group(1), match.group(2).strip()))
        elif line[:1] in (" ", "\t") and pairs:
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value} {line.strip()}")
        else:
            return []
    return pairs


def add_trailers(message: str, trailers: dict[str, str] | None) -> str:
    """``message`` with ``trailers`` appended in git trailer format.

    Joins an existing trailer block instead of starting a second one.

    Raises:
        WorkspaceError: a key is not a valid trailer token or a value spans lines.
    """
    message = message.strip()
    if not message:
        raise WorkspaceError("writing a commit: the commit message is empty")
    if not trailers:
        return message + "\n"
    lines = []
    for key, value in trailers.items():
        if not _TRAILER_KEY.fullmatch(key):
            raise WorkspaceError(f"writing a commit: trailer key {key!r} is not a git token")
        if "\n" in str(value) or "\r" in str(value):
            raise WorkspaceError(f"writing a commit: trailer {key} value spans several lines")
        lines.append(f"{key}: {value}")
    separator = "\n" if parse_trailers(message) else "\n\n"
    return message + separator + "\n".join(lines) + "\n"


# --- URLs and credentials ----------------------------------------------------------


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``https://user:token@host/x.git`` into the clean URL, user and password.

    File paths and URLs without credentials come back unchanged with ``None``s.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, unquote(password) or None


class _Callbacks(pygit2.RemoteCallbacks):
    """Supplies a token to git and records refs the remote refused."""

    def __init__(self, username: str | None, password: str | None) -> None:
        super().__init__()
        self._username = username
        self._password = password
        self._asked = 0
        self.rejected: dict[str, str] = {}

    def credentials(self, url, username_from_url, allowed_types):  # type: ignore[override]
        """Answer git's request for credentials with the token, once."""
        self._asked += 1
        if self._password is None or self._asked > 1:
            # Returning None makes libgit2 stop with an authentication error
            # instead of retrying the same wrong token forever.
            return None
        if allowed_types & CredentialType.USERPASS_PLAINTEXT:
            return pygit2.UserPass(self._username or "x-access-token", self._password)
        return None

    def push_update_reference(self, refname: str, message: str | None) -> None:
        """Remember refs the remote refused (hooks, protected branches)."""
        if message is not None:
            self.rejected[refname] = message


def cache_path(cache_dir: Path, forge: str, full_name: str) -> Path:
    """Where the cached clone of ``full_name`` on ``forge`` lives.

    Raises:
        UnsafePath: the name would lead outside ``cache_dir``.
    """
    parts = [forge, *full_name.split("/")]
    if any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise UnsafePath(f"repository name {forge}:{full_name!r} cannot name a cache directory")
    return Path(cache_dir).joinpath(*parts)


# --- the workspace -----------------------------------------------------------------


class Workspace:
    """A non-bare clone the bot works in. Create it with :meth:`open`."""

    def __init__(
        self, repo: pygit2.Repository, *, username: str | None = None, token: str | None = None
    ) -> None:
        self._repo = repo
        self._username = username
        self._token = token
        self.path = Path(repo.workdir).resolve()

    # --- opening

    @classmethod
    def open(
        cls,
        url: str | Path,
        path: Path,
        *,
        token: str | None = None,
        username: str | None = None,
    ) -> Workspace:
        """Clone ``url`` into ``path``, or reuse the clone already there and fetch.

        Args:
            url: https URL (credentials in it are used, not stored), file path or
                ``file://`` URL.
            path: Where the clone lives.
            token: Password/token for https remotes (overrides one in ``url``).
            username: User name to send with the token (default ``x-access-token``).

        Raises:
            GitError: cloning or fetching failed, or ``path`` holds something else.
        """
        clean, url_user, url_password = split_credentials(str(url))
        username = username or url_user
        token = token or url_password
        path = Path(path)
        callbacks = _Callbacks(username, token)
        if (path / ".git").exists():
            try:
                repo = pygit2.Repository(str(path))
            except pygit2.GitError as exc:
                raise GitError(f"opening cached clone at {path}: {exc}") from exc
            ws = cls(repo, username=username, token=token)
            ws._set_origin(clean)
            ws.fetch()
            return ws
        if path.exists() and any(path.iterdir()):
            raise GitError(f"cloning {clean} into {path}: directory exists and is not a clone")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            repo = pygit2.clone_repository(clean, str(path), callbacks=callbacks)
        except (pygit2.GitError, ValueError) as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise GitError(f"cloning {clean}: {exc}") from exc
        return cls(repo, username=username, token=token)

    def _set_origin(self, url: str) -> None:
        remotes = self._repo.remotes
        try:
            if "origin" in [r.name for r in remotes]:
                if remotes["origin"].url != url:
                    remotes.set_url("origin", url)
            else:
                remotes.create("origin", url)
        except pygit2.GitError as exc:
            raise GitError(f"pointing origin of {self.path} at {url}: {exc}") from exc

    @property
    def origin_url(self) -> str:
        """The clean URL of ``origin``."""
        return self._repo.remotes["origin"].url

    def fetch(self) -> None:
        """Fetch every branch of ``origin``, pruning deleted ones."""
        from pygit2.enums import FetchPrune

        try:
            self._repo.remotes["origin"].fetch(
                callbacks=_Callbacks(self._username, self._token), prune=FetchPrune.PRUNE
            )
        except (pygit2.GitError, KeyError) as exc:
            raise GitError(f"fetching origin into {self.path}: {exc}") from exc

    # --- branches

    @property
    def branch(self) -> str | None:
        """The checked-out branch, or None when HEAD is detached or unborn."""
        if self._repo.head_is_detached or self._repo.head_is_unborn:
            return None
        return self._repo.head.shorthand

    def head_sha(self) -> str | None:
        """The checked-out commit, or None in an empty repository."""
        if self._repo.head_is_unborn:
            return None
        return str(self._repo.head.target)

    def create_branch(self, name: str, base: str = "main", *, reset: bool = False) -> str:
        """Create ``name`` at ``origin/<base>`` (or local ``base``) and check it out.

        Args:
            name: New branch name.
            base: Branch (or rev) to start from; ``origin/<base>`` wins over a local one.
            reset: Move an existing local branch of that name instead of failing.

        Returns:
            The sha the branch starts at.

        Raises:
            GitError: the base is unknown, or the branch exists and ``reset`` is False.
        """
        start = self._resolve_commit(f"origin/{base}", fallback=base, doing=f"branching {name}")
        existing = self._repo.branches.local.get(name)
        if existing is not None and not reset:
            raise GitError(f"creating branch {name} in {self.path}: it already exists")
        try:
            if self.branch == name:
                # libgit2 refuses to move the checked-out branch: detach HEAD first.
                self._repo.set_head(start.id)
            self._repo.branches.local.create(name, start, force=True)
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(f"creating branch {name} from {base}: {exc}") from exc
        self.checkout(name)
        return str(start.id)

    def checkout(self, name: str) -> None:
        """Check out local branch ``name``, creating it from ``origin/<name>`` if needed.

        Local edits to tracked files are discarded: the workspace belongs to the bot.
        """
        ref = self._repo.branches.local.get(name)
        try:
            if ref is None:
                remote = self._repo.branches.remote.get(f"origin/{name}")
                if remote is None:
                    raise GitError(f"checking out {name} in {self.path}: no such branch")
                ref = self._repo.branches.local.create(name, remote.peel(pygit2.Commit))
                ref.upstream = remote
            self._repo.checkout(ref.name, strategy=CheckoutStrategy.FORCE)
        except pygit2.GitError as exc:
            raise GitError(f"checking out {name} in {self.path}: {exc}") from exc

    def _resolve_commit(
        self, rev: str, *, fallback: str | None = None, doing: str
    ) -> pygit2.Commit:
        for candidate in (rev, fallback):
            if candidate is None:
                continue
            try:
                return self._repo.revparse_single(candidate).peel(pygit2.Commit)
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                continue
        raise GitError(f"{doing}: revision {fallback or rev!r} not found in {self.path}")

    # --- files

    def safe_path(self, relpath: str) -> Path:
        """The absolute path of ``relpath`` inside the work tree.

        Raises:
            UnsafePath: absolute, ``..``, under ``.git/``, or escaping via a symlink.
        """
        if not relpath or "\x00" in relpath or "\\" in relpath:
            raise UnsafePath(f"path {relpath!r} is empty or has NUL/backslash characters")
        pure = PurePosixPath(relpath)
        if pure.is_absolute() or re.match(r"^[A-Za-z]:", relpath):
            raise UnsafePath(f"path {relpath!r} is absolute; only paths in the work tree")
        if any(part == ".." for part in pure.parts):
            raise UnsafePath(f"path {relpath!r} climbs out of the work tree with '..'")
        if any(part.lower() == ".git" for part in pure.parts):
            raise UnsafePath(f"path {relpath!r} is inside .git/, which is never written")
        target = self.path.joinpath(*pure.parts)
        resolved = target.resolve()
        if resolved != self.path and self.path not in resolved.parents:
            raise UnsafePath(f"path {relpath!r} leads outside the work tree through a symlink")
        if (self.path / ".git") in (resolved, *resolved.parents):
            raise UnsafePath(f"path {relpath!r} leads into .git/ through a symlink")
        return target

    def write_file(self, relpath: str, content: str | bytes, *, executable: bool = False) -> None:
        """Write a file in the work tree and stage it."""
        target = self.safe_path(relpath)
        if target.is_symlink():
            raise UnsafePath(f"path {relpath!r} is a symlink; write its target instead")
        data = content.encode("utf-8") if isinstance(content, str) else content
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o755 if executable else 0o644)
            self._repo.index.add(PurePosixPath(relpath).as_posix())
            self._repo.index.write()
        except (OSError, pygit2.GitError) as exc:
            raise GitError(f"writing {relpath} in {self.path}: {exc}") from exc

    def delete_file(self, relpath: str) -> bool:
        """Delete a file from the work tree and the index; False if it was absent."""
        target = self.safe_path(relpath)
        key = PurePosixPath(relpath).as_posix()
        try:
            present = target.is_file() or target.is_symlink()
            if present:
                target.unlink()
            in_index = key in self._repo.index
            if in_index:
                self._repo.index.remove(key)
                self._repo.index.write()
        except (OSError, pygit2.GitError) as exc:
            raise GitError(f"deleting {relpath} in {self.path}: {exc}") from exc
        return present or in_index

    # --- commits

    def commit(
        self,
        message: str,
        *,
        author: Identity,
        committer: Identity | None = None,
        trailers: dict[str, str] | None = None,
    ) -> str | None:
        """Commit what is staged on the current branch.

        Returns:
            The new commit's sha, or None when nothing changed (no empty commits).

        Raises:
            WorkspaceError: empty message or bad trailers.
            GitError: the commit could not be written.
        """
        full = add_trailers(message, trailers)
        repo = self._repo
        try:
            tree = repo.index.write_tree()
            parents = [] if repo.head_is_unborn else [repo.head.target]
            if parents:
                if repo[parents[0]].peel(pygit2.Commit).tree_id == tree:
                    return None
            elif len(repo[tree]) == 0:
                return None
            now = int(datetime.now(UTC).timestamp())
            a_sig = pygit2.Signature(author.name, author.email, now, 0)
            who = committer or author
            c_sig = pygit2.Signature(who.name, who.email, now, 0)
            oid = repo.create_commit("HEAD", a_sig, c_sig, full, tree, parents)
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(f"committing in {self.path}: {exc}") from exc
        return str(oid)

    def push(self, branch: str | None = None, *, force: bool = False) -> None:
        """Push ``branch`` (default: the current one) to the same name on ``origin``.

        Raises:
            GitError: the remote refused (not a fast-forward without ``force``, a
                hook or a protected branch) or could not be reached.
        """
        branch = branch or self.branch
        if branch is None:
            raise GitError(f"pushing from {self.path}: no branch checked out")
        spec = f"{'+' if force else ''}refs/heads/{branch}:refs/heads/{branch}"
        callbacks = _Callbacks(self._username, self._token)
        try:
            self._repo.remotes["origin"].push([spec], callbacks=callbacks)
        except pygit2.GitError as exc:
            raise GitError(
                f"pushing {branch} to {self.origin_url}: rejected or failed: {exc}"
            ) from exc
        if callbacks.rejected:
            reasons = "; ".join(f"{r}: {m}" for r, m in callbacks.rejected.items())
            raise GitError(f"pushing {branch} to {self.origin_url}: the remote rejected {reasons}")

    # --- reading back

    def read_file(self, relpath: str, rev: str = "HEAD") -> bytes | None:
        """A file's content at ``rev``, or None if the file does not exist there."""
        commit = self._resolve_commit(rev, doing=f"reading {relpath}")
        try:
            entry = commit.tree[PurePosixPath(relpath).as_posix()]
        except KeyError:
            return None
        obj = self._repo[entry.id]
        if not isinstance(obj, pygit2.Blob):
            return None
        return obj.data

    def commit_info(self, rev: str = "HEAD") -> CommitInfo:
        """One commit, with its parsed trailers."""
        return _info(self._resolve_commit(rev, doing="reading a commit"))

    def log(self, rev: str = "HEAD", *, limit: int | None = None) -> list[CommitInfo]:
        """Commits reachable from ``rev``, newest first."""
        start = self._resolve_commit(rev, doing="reading the log")
        out = []
        for commit in self._repo.walk(start.id, pygit2.enums.SortMode.TOPOLOGICAL):
            out.append(_info(commit))
            if limit is not None and len(out) >= limit:
                break
        return out

    def remote_branches(self) -> list[str]:
        """The branches of ``origin`` as of the last fetch (without ``origin/``)."""
        names = []
        for ref in self._repo.branches.remote:
            name = ref.removeprefix("origin/")
            if ref.startswith("origin/") and name != "HEAD":
                names.append(name)
        return sorted(names)

    def branch_commits(self, branch: str, base: str) -> list[CommitInfo] | None:
        """Commits on ``branch`` that are not on ``base``, oldest first.

        Branch names are read from ``origin`` first (as of the last fetch). None when
        ``branch`` does not exist.

        Raises:
            GitError: ``base`` is unknown.
        """
        doing = f"listing the commits of {branch} over {base}"
        try:
            head = self._resolve_commit(f"origin/{branch}", fallback=branch, doing=doing)
        except GitError:
            return None
        stop = self._resolve_commit(f"origin/{base}", fallback=base, doing=doing)
        walker = self._repo.walk(
            head.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
        )
        walker.hide(stop.id)
        return [_info(commit) for commit in walker]

    def changed_files(self, old: str, new: str = "HEAD") -> list[str]:
        """Paths added, modified or deleted between ``old`` and ``new``, sorted."""
        a = self._resolve_commit(old, doing="diffing")
        b = self._resolve_commit(new, doing="diffing")
        diff = self._repo.diff(a, b)
        paths = set()
        for delta in diff.deltas:
            paths.add(delta.old_file.path)
            paths.add(delta.new_file.path)
        return sorted(paths)

    def diff(self, base: str, head: str = "HEAD") -> str:
        """The unified diff ``base...head``: ``head`` against its merge base with ``base``.

        Branch names are read from ``origin`` first (what the forge has, as of the
        last fetch), then locally; shas work as they are.

        Raises:
            GitError: a revision is unknown.
        """
        doing = f"diffing {base}...{head}"
        a = self._resolve_commit(f"origin/{base}", fallback=base, doing=doing)
        b = self._resolve_commit(f"origin/{head}", fallback=head, doing=doing)
        try:
            merge_base = self._repo.merge_base(a.id, b.id)
            start = self._repo[merge_base].peel(pygit2.Commit) if merge_base else a
            return self._repo.diff(start, b).patch or ""
        except pygit2.GitError as exc:
            raise GitError(f"{doing} in {self.path}: {exc}") from exc

    def changed_since(self, base: str, head: str = "HEAD") -> list[str]:
        """Paths changed in ``base...head`` (from the merge base; both sides of a rename),
        branch names read from ``origin`` first, like :meth:`diff`.

        Raises:
            GitError: a revision is unknown.
        """
        doing = f"listing the files changed in {base}...{head}"
        a = self._resolve_commit(f"origin/{base}", fallback=base, doing=doing)
        b = self._resolve_commit(f"origin/{head}", fallback=head, doing=doing)
        try:
            merge_base = self._repo.merge_base(a.id, b.id)
            start = self._repo[merge_base].peel(pygit2.Commit) if merge_base else a
            diff = self._repo.diff(start, b)
            diff.find_similar()
        except pygit2.GitError as exc:
            raise GitError(f"{doing} in {self.path}: {exc}") from exc
        paths = {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path) if p}
        return sorted(paths)

    def is_executable(self, relpath: str, rev: str = "HEAD") -> bool:
        """Whether ``relpath`` is committed with the executable bit at ``rev``."""
        commit = self._resolve_commit(rev, doing=f"reading {relpath}")
        try:
            return commit.tree[relpath].filemode == FileMode.BLOB_EXECUTABLE
        except KeyError:
            return False


def _info(commit: pygit2.Commit) -> CommitInfo:
    message = commit.message
    return CommitInfo(
        sha=str(commit.id),
        message=message,
        author=Identity(commit.author.name, commit.author.email),
        committer=Identity(commit.committer.name, commit.committer.email),
        authored_at=datetime.fromtimestamp(commit.author.time, UTC),
        parents=tuple(str(p) for p in commit.parent_ids),
        trailers=tuple(parse_trailers(message)),
    )
