"""A role's staged change set over a read-only checkout, with the path guards.

An agent never writes to the checkout. Its ``write_file``/``delete_file`` calls land
in a :class:`ChangeSet`, and each one is checked *before* it is accepted: the path must
be a normalized repository-relative path (no ``..``, not absolute, not under ``.git/``,
no symbolic link on the way), it must match one of the role's ``writes:`` globs and
none of the repository's ``protected_paths``. A refusal raises
:class:`bot.errors.WriteRefused` with a message the agent can act on. Reads are
confined to the tree the same way (:func:`resolve_read`).

Globs use wcmatch with ``**`` (any depth, including none) and dot files matched like
other files (the helpers live in :mod:`policies.paths`, shared with the protected-paths
policy); protected paths match case-insensitively, so ``.GitHub/workflows/x`` is
protected too.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from bot.actions import FileChange
from bot.errors import RoleToolError, UnsafePath, WriteRefused
from policies.paths import matches, normalize_path

MAX_WRITE_BYTES = 2_000_000
"""Largest file a role may write (text; larger output is almost surely a mistake)."""
MAX_READ_BYTES = 5_000_000
"""Largest file :meth:`ChangeSet.read` loads."""


def resolve_read(root: Path, path: str) -> Path:
    """The on-disk path of ``path`` inside ``root``, for reading.

    Symbolic links are followed only when they stay inside the tree and out of
    ``.git/``.

    Raises:
        UnsafePath: see :func:`normalize_path`, or a symlink leads out of the tree.
    """
    rel = normalize_path(path)
    base = Path(root).resolve()
    target = base.joinpath(*rel.split("/"))
    resolved = target.resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafePath(f"{rel} leads outside the repository through a symbolic link")
    if (base / ".git") in (resolved, *resolved.parents):
        raise UnsafePath(f"{rel} leads into .git/ through a symbolic link")
    return target


class ChangeSet:
    """Staged writes and deletions over the read-only checkout at ``root``.

    Args:
        root: The checkout (never modified).
        writes: The role's ``writes:`` globs; a write must match one.
        protected: The repository's ``protected_paths``; a write must match none.
        tracked: The tree's files (e.g. git's index); default: every file under
            ``root`` except ``.git/``.
        max_write_bytes: Largest file a write may stage.
    """

    def __init__(
        self,
        root: Path,
        *,
        writes: list[str],
        protected: list[str],
        tracked: Iterable[str] | None = None,
        max_write_bytes: int = MAX_WRITE_BYTES,
    ) -> None:
        self.root = Path(root).resolve()
        self.writes = list(writes)
        self.protected = list(protected)
        self.max_write_bytes = max_write_bytes
        self._tracked = sorted(set(tracked)) if tracked is not None else None
        self._tracked_set = set(self._tracked) if self._tracked is not None else None
        self._staged: dict[str, str | None] = {}

    # --- checks

    def check_write(self, path: str) -> str:
        """The normalized path if a write or delete of ``path`` would be accepted.

        Raises:
            WriteRefused: with the reason (``unsafe_path``, ``outside_writes``,
                ``protected``).
        """
        try:
            rel = normalize_path(path)
        except UnsafePath as exc:
            raise WriteRefused(str(exc), path=str(path), reason="unsafe_path") from None
        self._no_symlink_on_the_way(rel, path)
        hit = matches(rel, self.protected, ignore_case=True)
        if hit is not None:
            raise WriteRefused(
                f"{rel} is a protected path ({hit}); no role may change it, a person must",
                path=path,
                reason="protected",
            )
        if matches(rel, self.writes) is None:
            allowed = (
                ", ".join(self.writes) if self.writes else "(nothing: this role writes no files)"
            )
            raise WriteRefused(
                f"{rel} is outside this role's writes: {allowed}",
                path=path,
                reason="outside_writes",
            )
        return rel

    def _no_symlink_on_the_way(self, rel: str, given: str) -> None:
        current = self.root
        for part in rel.split("/"):
            current = current / part
            if current.is_symlink():
                raise WriteRefused(
                    f"{rel} goes through the symbolic link "
                    f"{current.relative_to(self.root).as_posix()}; roles never write "
                    "through symbolic links",
                    path=given,
                    reason="unsafe_path",
                )

    # --- writes

    def write(self, path: str, content: str) -> None:
        """Stage ``content`` as the new text of ``path``.

        Raises:
            WriteRefused: the path is refused, the content is too large, or a file and
                a directory would collide.
        """
        rel = self.check_write(path)
        if not isinstance(content, str):
            raise WriteRefused(f"{rel}: content must be text", path=path, reason="conflict")
        size = len(content.encode("utf-8"))
        if size > self.max_write_bytes:
            raise WriteRefused(
                f"{rel} would be {size} bytes; the limit is {self.max_write_bytes}",
                path=path,
                reason="conflict",
            )
        self._no_file_dir_clash(rel, path)
        try:
            same = self._tree_text(rel) == content
        except RoleToolError:
            same = False  # replacing a binary or oversized file
        if same:
            self._staged.pop(rel, None)  # back to what the tree has: no change
        else:
            self._staged[rel] = content

    def _no_file_dir_clash(self, rel: str, given: str) -> None:
        parts = rel.split("/")
        for n in range(1, len(parts)):
            parent = "/".join(parts[:n])
            if self.exists(parent):
                raise WriteRefused(
                    f"{rel} cannot be written: {parent} is a file", path=given, reason="conflict"
                )
        if any(f.startswith(rel + "/") for f in self.list_files(rel)):
            raise WriteRefused(
                f"{rel} is a directory; write a file inside it", path=given, reason="conflict"
            )

    def delete(self, path: str) -> None:
        """Stage the deletion of ``path``.

        Raises:
            WriteRefused: the path is refused or there is no such file.
        """
        rel = self.check_write(path)
        if not self.exists(rel):
            raise WriteRefused(
                f"{rel} does not exist; nothing to delete", path=path, reason="conflict"
            )
        if self._in_tree(rel):
            self._staged[rel] = None
        else:
            del self._staged[rel]  # a file this change set created: just forget it

    # --- reads

    def _tree_files(self) -> list[str]:
        if self._tracked is not None:
            return self._tracked
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            # os.walk does not descend into symlinked directories; skip .git entirely.
            dirnames[:] = sorted(d for d in dirnames if d.lower() != ".git")
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.lower() == ".git":
                    continue  # a worktree's or submodule's link to its git directory
                found.append(name if rel_dir == "." else f"{rel_dir}/{name}")
        self._tracked = sorted(found)
        self._tracked_set = set(found)
        return self._tracked

    def _in_tree(self, rel: str) -> bool:
        self._tree_files()
        members = self._tracked_set or set()
        target = self.root.joinpath(*rel.split("/"))
        if rel in members:
            return target.is_file() or target.is_symlink()
        # Through a symbolic link inside the tree: the file it reaches must be a tree file.
        try:
            real = target.resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return False
        return real != rel and real in members and target.is_file()

    def _tree_text(self, rel: str) -> str | None:
        if not self._in_tree(rel):
            return None
        target = resolve_read(self.root, rel)
        if not target.is_file():
            return None
        if target.stat().st_size > MAX_READ_BYTES:
            raise RoleToolError(f"{rel} is larger than {MAX_READ_BYTES} bytes; not read")
        data = target.read_bytes()
        if b"\x00" in data[:8192]:
            raise RoleToolError(f"{rel} is a binary file; only text files can be read")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RoleToolError(f"{rel} is not UTF-8 text; only text files can be read") from None

    def read(self, path: str) -> str | None:
        """The text of ``path``: the staged content if any, else the tree's.

        Returns:
            None when the file does not exist or its deletion is staged.

        Raises:
            UnsafePath: the path escapes the tree.
            RoleToolError: the file is binary, not UTF-8 or too large.
        """
        rel = normalize_path(path)
        if rel in self._staged:
            return self._staged[rel]
        resolve_read(self.root, rel)
        return self._tree_text(rel)

    def resolve_read(self, path: str) -> Path:
        """The on-disk path of a tree file, confined like :func:`resolve_read`."""
        return resolve_read(self.root, path)

    def exists(self, path: str) -> bool:
        """True when ``path`` is a file of the tree or staged, and not deleted.

        Raises:
            UnsafePath: the path escapes the tree.
        """
        rel = normalize_path(path)
        if rel in self._staged:
            return self._staged[rel] is not None
        return self._in_tree(rel)

    def list_files(self, prefix: str = "") -> list[str]:
        """Files (tree + staged, minus deleted) at or under the directory ``prefix``.

        Raises:
            UnsafePath: the prefix escapes the tree.
        """
        base = normalize_path(prefix) if prefix.strip("./ ") else ""
        files = set(self._tree_files())
        for rel, content in self._staged.items():
            if content is None:
                files.discard(rel)
            else:
                files.add(rel)
        if not base:
            return sorted(files)
        return sorted(f for f in files if f == base or f.startswith(base + "/"))

    # --- results

    def file_changes(self) -> list[FileChange]:
        """The staged changes, sorted by path (``content`` None for a deletion)."""
        return [FileChange(path=p, content=c) for p, c in sorted(self._staged.items())]

    def __len__(self) -> int:
        """Number of staged changes."""
        return len(self._staged)

    def unified_diff(self, path: str | None = None) -> str:
        """The staged changes as a unified diff against the tree (git-style headers)."""
        from agents.roles.diffs import unified_diff

        only = normalize_path(path) if path else None
        out: list[str] = []
        for rel, new in sorted(self._staged.items()):
            if only is not None and rel != only and not rel.startswith(only + "/"):
                continue
            try:
                old = self._tree_text(rel)
            except RoleToolError:
                out.append(f"diff --git a/{rel} b/{rel}\nBinary or oversized file replaced\n")
                continue
            out.append(unified_diff(rel, old, new))
        return "".join(out)

    def materialize(self, dest: Path) -> Path:
        """Copy the tree with the staged changes applied into ``dest`` (created; must be
        absent or empty), for running commands in the sandbox.

        Symbolic links are copied only when they point inside the tree; ``.git/`` is
        not copied.
        """
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise UnsafePath(f"{dest} is not empty; materialize needs a fresh directory")
        dest.mkdir(parents=True, exist_ok=True)
        for rel in self._tree_files():
            if rel in self._staged:
                continue
            src = self.root.joinpath(*rel.split("/"))
            target = dest.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                try:
                    resolve_read(self.root, rel)
                except UnsafePath:
                    continue  # never hand the sandbox a link out of the tree
                os.symlink(os.readlink(src), target)
            elif src.is_file():
                shutil.copyfile(src, target)
                mode = src.stat().st_mode
                target.chmod(stat.S_IMODE(mode) | stat.S_IWUSR)
        for rel, content in self._staged.items():
            if content is None:
                continue
            target = dest.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            src = self.root.joinpath(*rel.split("/"))
            if src.is_file() and not src.is_symlink():
                target.chmod(stat.S_IMODE(src.stat().st_mode) | stat.S_IWUSR)
        return dest
