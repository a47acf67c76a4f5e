"""The local forge's DuckDB file: schema and short, serialised connections.

DuckDB lets one process hold a database file open for writing. The local forge is
shared by the CLI, tests and a running server, so it never keeps the file open for
long: each operation takes a per-directory thread lock and an exclusive ``flock`` on
``forge.lock`` (so threads and processes queue instead of failing), opens a
connection, runs one transaction and closes it. Nested operations on the same thread
reuse the open connection. If something outside the forge holds the file, opening is
retried for a few seconds before :class:`bot.errors.Unavailable` is raised.

Opening a DuckDB file builds a database instance (tens of milliseconds, several times
that on a busy machine) and closing its last connection checkpoints it; one workflow
job makes dozens of forge operations. So after each operation the process keeps one
connection open for :data:`LINGER_SECONDS` (:class:`_Keeper`): the operations of a
burst reuse the open instance, and another process waits at most that long for the
file (its open is retried, see above) once this one goes quiet.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from bot.errors import Unavailable

DB_NAME = "forge.duckdb"
LOCK_NAME = "forge.lock"
OPEN_RETRY_SECONDS = 10.0
LINGER_SECONDS = 0.25
"""How long the file stays open after an operation (well inside another process's
retry window, longer than the gaps between one job's operations)."""

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS users (
        login TEXT PRIMARY KEY, id INTEGER NOT NULL, is_bot BOOLEAN NOT NULL DEFAULT false)""",
    """CREATE TABLE IF NOT EXISTS projects (
        id INTEGER PRIMARY KEY, full_name TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL,
        created_at TEXT NOT NULL, next_number INTEGER NOT NULL DEFAULT 1)""",
    """CREATE TABLE IF NOT EXISTS permissions (
        project_id INTEGER NOT NULL, login TEXT NOT NULL, level INTEGER NOT NULL,
        PRIMARY KEY (project_id, login))""",
    """CREATE TABLE IF NOT EXISTS items (
        project_id INTEGER NOT NULL, number INTEGER NOT NULL, is_mr BOOLEAN NOT NULL,
        title TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, author TEXT NOT NULL,
        draft BOOLEAN NOT NULL DEFAULT false, head_ref TEXT, base_ref TEXT,
        final_head_sha TEXT, merge_sha TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (project_id, number))""",
    """CREATE TABLE IF NOT EXISTS labels (
        project_id INTEGER NOT NULL, number INTEGER NOT NULL, label TEXT NOT NULL,
        seq INTEGER NOT NULL, PRIMARY KEY (project_id, number, label))""",
    """CREATE TABLE IF NOT EXISTS comments (
        id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, number INTEGER NOT NULL,
        author TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS reactions (
        project_id INTEGER NOT NULL, number INTEGER NOT NULL, comment_id INTEGER NOT NULL,
        login TEXT NOT NULL, content TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (project_id, number, comment_id, login, content))""",
    """CREATE TABLE IF NOT EXISTS reviews (
        id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, number INTEGER NOT NULL,
        author TEXT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL, commit_id TEXT,
        submitted_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS statuses (
        id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, sha TEXT NOT NULL,
        state TEXT NOT NULL, context TEXT NOT NULL, description TEXT NOT NULL,
        target_url TEXT, creator TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS refs (
        project_id INTEGER NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL,
        PRIMARY KEY (project_id, ref))""",
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY, created_at TEXT NOT NULL, event TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS review_comments (
        id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, number INTEGER NOT NULL,
        review_id INTEGER, author TEXT NOT NULL, path TEXT NOT NULL, line INTEGER,
        body TEXT NOT NULL, in_reply_to INTEGER, created_at TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS teams (name TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS team_members (
        team TEXT NOT NULL, login TEXT NOT NULL, PRIMARY KEY (team, login))""",
    """CREATE TABLE IF NOT EXISTS check_logs (
        project_id INTEGER NOT NULL, sha TEXT NOT NULL, name TEXT NOT NULL, log TEXT NOT NULL,
        PRIMARY KEY (project_id, sha, name))""",
]

_PROCESS_LOCKS: dict[str, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.RLock:
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(str(path), threading.RLock())


class _Keeper:
    """One connection to a database file, kept open for a moment after each operation.

    While it is open, every ``duckdb.connect`` of the same file in this process reuses
    the database instance instead of opening (and later checkpointing) the file again.
    A daemon thread closes it once no operation has renewed it for
    :data:`LINGER_SECONDS`; closing needs neither the thread lock nor the ``flock``, so
    a process queued on the ``flock`` and retrying its open always gets the file.

    Args:
        path: The database file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con: duckdb.DuckDBPyConnection | None = None
        self._until = 0.0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def holding(self) -> bool:
        """Whether the keeper's connection is open now."""
        with self._lock:
            return self._con is not None

    def hold(self) -> None:
        """Keep the file open :data:`LINGER_SECONDS` more.

        Called while the caller's own connection is open, so connecting here reuses
        its instance.
        """
        with self._lock:
            self._until = time.monotonic() + LINGER_SECONDS
            if self._con is None:
                try:
                    self._con = duckdb.connect(str(self.path))
                except duckdb.Error:
                    return  # nothing kept: the next operation opens the file itself
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._expire, name="agentforge-local-keeper", daemon=True
                )
                self._thread.start()

    def _expire(self) -> None:
        while True:
            with self._lock:
                left = self._until - time.monotonic()
                if left <= 0:
                    con, self._con, self._thread = self._con, None, None
                    break
            time.sleep(left)
        if con is not None:
            con.close()

    def release(self) -> None:
        """Close the connection now (waits for the closing thread)."""
        with self._lock:
            self._until = 0.0
            thread = self._thread
        if thread is not None:
            thread.join()


_KEEPERS: dict[Path, _Keeper] = {}


def _keeper_for(path: Path) -> _Keeper:
    with _PROCESS_LOCKS_GUARD:
        if path not in _KEEPERS:
            _KEEPERS[path] = _Keeper(path)
        return _KEEPERS[path]


@atexit.register
def release_all() -> None:
    """Close every kept connection (at exit, so the files are checkpointed)."""
    with _PROCESS_LOCKS_GUARD:
        keepers = list(_KEEPERS.values())
    for keeper in keepers:
        keeper.release()


class LocalStore:
    """The forge directory's database, opened for each operation (see the module doc)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory).resolve()
        self.db_path = self.directory / DB_NAME
        self._lock = _lock_for(self.directory)
        self.keeper = _keeper_for(self.db_path)
        self._local = threading.local()
        self._migrated = False

    @contextlib.contextmanager
    def connect(self, doing: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the database, serialised with every other user.

        Args:
            doing: What the caller is doing, for error messages.

        Raises:
            Unavailable: the database could not be opened (held by an outsider).
        """
        current = getattr(self._local, "con", None)
        if current is not None:
            yield current
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock, _file_lock(self.directory / LOCK_NAME):
            if not self.db_path.exists():
                # Removed since (a fresh forge at the same path): drop the old instance.
                self.keeper.release()
            con = self._open(doing)
            self._local.con = con
            try:
                if not self._migrated:
                    for statement in SCHEMA:
                        con.execute(statement)
                    self._migrated = True
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                self._local.con = None
                # Renewed before this connection closes, so the instance stays open.
                self.keeper.hold()
                con.close()

    def _open(self, doing: str) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.db_path))
            except duckdb.IOException as exc:
                # Another program (not a LocalForge, which would have queued on the
                # flock) holds the file: wait a little, it is usually brief.
                if time.monotonic() >= deadline:
                    raise Unavailable(
                        f"{doing}: local forge database {self.db_path} is locked: {exc}",
                        forge="local",
                        operation=doing,
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def next_id(con: duckdb.DuckDBPyConnection, table: str, column: str = "id") -> int:
    """The next integer id for ``table`` (safe: every writer is serialised)."""
    row = con.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}").fetchone()  # noqa: S608
    return int(row[0])


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str = "") -> str:
    """A value from the ``meta`` table."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    """Store a value in the ``meta`` table."""
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )
