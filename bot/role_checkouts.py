"""Persistent checkouts that role runs read: a small pool of git worktrees per repository.

A role reads a checkout of the run's branch (its tools list, read, search and diff it;
what it writes is staged in memory and reaches git only through the executor's push).
Copying the cached clone for every run cost a full work-tree copy per phase; instead
each slot here is a *linked worktree* of the executor's cached clone (``git worktree``):
it shares the clone's object database and refs, so a fetch into the clone is visible
at once and nothing is copied, and it has its own HEAD, index and work tree, so the
executor's commits in the clone's work tree never touch it. A run takes a free slot,
resets it to the commit it needs (a forced checkout rewrites only the files that
differ) and hands it back when it ends.

Crash safety: a slot is reset before every run: a forced checkout of the commit, with
untracked and ignored files removed, so what an earlier run left behind (a half-done
checkout, files an MCP server wrote) is gone before the next run reads it. A slot whose
worktree cannot be opened or reset (its clone was re-made, its files damaged) is
deleted and made again.

Concurrency: a slot serves one run at a time, held by a thread lock and an ``flock`` on
its lock file (so another process on the same data directory takes another slot);
concurrent runs on one repository get further slots. Slots are made and reset while
the caller holds the clone's lock (``bot.executor._clone_lock``), since making a
worktree writes to the clone's ``.git``.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pygit2
from pygit2.enums import CheckoutStrategy

from bot.errors import WorkspaceError
from bot.workspace import cache_path

log = logging.getLogger(__name__)

SLOTS_DIR = ".role-checkouts"
"""The slots' directory under the clones directory (no forge is named with a dot)."""
WORKTREE_PREFIX = "agentforge-role-"
"""Worktree names in the cached clone: ``agentforge-role-<slot>``."""
_RESET = (
    CheckoutStrategy.FORCE | CheckoutStrategy.REMOVE_UNTRACKED | CheckoutStrategy.REMOVE_IGNORED
)

_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(path, threading.Lock())


@dataclass
class _Held:
    """A slot taken by this run: its directory, number and locks."""

    path: Path
    number: int
    thread_lock: threading.Lock
    handle: IO[bytes]

    def release(self) -> None:
        """Give the slot back."""
        try:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
        finally:
            self.handle.close()
            self.thread_lock.release()


class RoleCheckouts:
    """The pool of role checkouts of every repository cached under ``clones_dir``.

    Args:
        clones_dir: The executor's clone cache (the slots live in ``SLOTS_DIR`` there).
        forge: The forge's name (``github``, ``gitlab``, ``local``).
    """

    def __init__(self, clones_dir: Path, forge: str) -> None:
        self.clones_dir = Path(clones_dir)
        self.forge = forge

    def slots_dir(self, repo: str) -> Path:
        """Where ``repo``'s slots live.

        Raises:
            UnsafePath: the name would lead outside the clones directory.
        """
        return cache_path(self.clones_dir / SLOTS_DIR, self.forge, repo)

    def _take(self, repo: str) -> _Held:
        base = self.slots_dir(repo)
        base.mkdir(parents=True, exist_ok=True)
        number = 0
        while True:  # the first slot no run holds; a new one when all are busy
            path = (base / str(number)).resolve()
            lock = _thread_lock(path)
            if lock.acquire(blocking=False):
                try:
                    handle = open(base / f"{number}.lock", "a+b")  # noqa: SIM115 (held)
                except OSError as exc:
                    lock.release()
                    raise WorkspaceError(f"locking the role checkout {path}: {exc}") from exc
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    lock.release()  # another process holds it
                else:
                    return _Held(path, number, lock, handle)
            number += 1

    @contextmanager
    def checkout(self, clone: Path, repo: str, commit: str) -> Iterator[Path]:
        """A worktree of ``clone`` at ``commit`` (detached), held until the block ends.

        Call with the clone's lock held (making a slot writes to the clone's ``.git``);
        the lock may be released once the block has been entered.

        Raises:
            WorkspaceError: the slot cannot be made or reset to ``commit``.
        """
        held = self._take(repo)
        try:
            self._reset(Path(clone), held, commit)
            yield held.path
        finally:
            held.release()

    def _reset(self, clone: Path, held: _Held, commit: str) -> None:
        try:
            tree = self._open(clone, held)
            _detach_at(tree, commit)
            return
        except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
            log.warning("role checkout %s is unusable (%s); making it again", held.path, exc)
        self._remove(clone, held)
        try:
            _detach_at(self._open(clone, held), commit)
        except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
            raise WorkspaceError(
                f"preparing the role checkout {held.path} at {commit}: {exc}"
            ) from exc

    def _open(self, clone: Path, held: _Held) -> pygit2.Repository:
        """The slot's worktree, made first if it does not exist."""
        if (held.path / ".git").is_file():
            tree = pygit2.Repository(str(held.path))
            admin = clone / ".git" / "worktrees" / f"{WORKTREE_PREFIX}{held.number}"
            if Path(tree.path).resolve() != admin.resolve():
                raise pygit2.GitError(f"its git directory is {tree.path}, not {admin}")
            return tree
        if held.path.exists():
            shutil.rmtree(held.path)
        main = pygit2.Repository(str(clone))
        name = f"{WORKTREE_PREFIX}{held.number}"
        _forget_worktree(main, name)
        main.add_worktree(name, str(held.path))
        # add_worktree checks out a new branch named after the worktree; the slot
        # only needs a detached HEAD, and the clone must not grow stray branches.
        tree = pygit2.Repository(str(held.path))
        tree.set_head(tree.head.target)
        branch = main.branches.local.get(name)
        if branch is not None:
            branch.delete()
        return tree

    def _remove(self, clone: Path, held: _Held) -> None:
        shutil.rmtree(held.path, ignore_errors=True)
        try:
            _forget_worktree(pygit2.Repository(str(clone)), f"{WORKTREE_PREFIX}{held.number}")
        except pygit2.GitError as exc:
            raise WorkspaceError(f"opening the cached clone {clone}: {exc}") from exc


def _forget_worktree(main: pygit2.Repository, name: str) -> None:
    """Drop the clone's record of worktree ``name`` (and its branch) if there is one."""
    if name in main.list_worktrees():
        main.lookup_worktree(name).prune(True)
    admin = Path(main.path) / "worktrees" / name
    if admin.exists():
        shutil.rmtree(admin, ignore_errors=True)
    branch = main.branches.local.get(name)
    if branch is not None:
        branch.delete()


def _detach_at(tree: pygit2.Repository, commit: str) -> None:
    """Check out ``commit`` in the worktree, detached, discarding anything else there."""
    target = tree.revparse_single(commit).peel(pygit2.Commit)
    tree.checkout_tree(target.tree, strategy=_RESET)
    tree.set_head(target.id)
