"""The DuckDB records database: opening, migrating, and the one-writer rule.

DuckDB lets one process write a database file. AgentForge makes that explicit: the
process that opens a data directory for writing takes an exclusive lock on
``<data_dir>/writer.lock`` (and records its pid there); a second writer gets
:class:`bot.errors.StoreLocked` naming the holder instead of a low-level IO error.
Inside the writer, threads share one DuckDB connection through per-thread cursors, and
every write goes through :meth:`Database.transaction`, which serialises writers with a
lock so that concurrent workers never hit write-write conflicts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from bot.errors import StoreError, StoreLocked
from bot.store.schema import MIGRATIONS

LOCK_NAME = "writer.lock"


class Database:
    """An open DuckDB records database.

    Use :meth:`open` for the writer and :meth:`open_readonly` for tools that only read
    while no writer runs. Close it (or use it as a context manager) to release the lock.
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, lock_fd: int | None):
        self.path = path
        self._con = con
        self._lock_fd = lock_fd
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self.read_only = lock_fd is None

    # --- opening

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        """Open (creating and migrating) the records in ``data_dir`` as its single writer.

        Raises:
            StoreLocked: another process already writes this data directory.
            StoreError: the database file cannot be opened.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = _take_writer_lock(data_dir)
        path = data_dir / "agentforge.duckdb"
        try:
            con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            _release(lock_fd)
            raise StoreError(f"opening records database {path}: {exc}") from exc
        db = cls(path, con, lock_fd)
        try:
            db.migrate()
        except duckdb.Error as exc:
            db.close()
            raise StoreError(f"migrating records database {path}: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open_readonly(cls, data_dir: Path) -> Database:
        """Open existing records for reading.

        Raises:
            StoreLocked: a writer process holds the data directory (DuckDB cannot share
                a file between a writer and other processes).
            StoreError: there is no database yet.
        """
        data_dir = Path(data_dir)
        path = data_dir / "agentforge.duckdb"
        if not path.exists():
            raise StoreError(f"no records yet in {data_dir} (nothing has run with this data dir)")
        holder = writer_pid(data_dir)
        if holder is not None:
            raise StoreLocked(
                f"{data_dir} is in use by process {holder}; stop it first (`agentforge "
                f"jobs`, `stats` and `audit verify` ask a running server's admin API instead)"
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise StoreError(f"opening records database {path} read-only: {exc}") from exc
        return cls(path, con, None)

    @classmethod
    def in_memory(cls) -> Database:
        """A throw-away migrated database (tests, dry runs)."""
        db = cls(Path(":memory:"), duckdb.connect(":memory:"), None)
        db.read_only = False
        db.migrate()
        return db

    # --- use

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the shared connection."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        """Run one statement on this thread's cursor (reads, or single-statement writes)."""
        if params is None:
            return self.cursor().execute(sql)
        return self.cursor().execute(sql, params)

    def fetchall(self, sql: str, params: Any = None) -> list[tuple]:
        """Run a query and return all rows."""
        return self.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Any = None) -> tuple | None:
        """Run a query and return its first row, or None."""
        return self.execute(sql, params).fetchone()

    def fetch_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        """Run a query and return rows as dicts keyed by column name."""
        cur = self.execute(sql, params)
        cols = [d[0] for d in cur.description or []]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A serialised write transaction; commits on success, rolls back on error."""
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; returns the versions applied."""
        applied: list[int] = []
        with self.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, description TEXT,"
                " applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
            done = {row[0] for row in cur.execute("SELECT version FROM schema_version").fetchall()}
            for version, description, sql in MIGRATIONS:
                if version in done:
                    continue
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                    [version, description],
                )
                applied.append(version)
        return applied

    def schema_version(self) -> int:
        """The highest applied migration."""
        row = self.fetchone("SELECT max(version) FROM schema_version")
        return int(row[0] or 0) if row else 0

    def close(self) -> None:
        """Close the connection and release the writer lock."""
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        if self._lock_fd is not None:
            _release(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def writer_pid(data_dir: Path) -> int | None:
    """The pid of the process writing ``data_dir``, or None if nobody holds it."""
    lock = Path(data_dir) / LOCK_NAME
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(Path(lock).read_text().strip() or 0) or -1
        except ValueError:
            return -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _take_writer_lock(data_dir: Path) -> int:
    lock = data_dir / LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = writer_pid(data_dir)
        raise StoreLocked(
            f"{data_dir} is already in use by process {holder}: DuckDB allows one writer "
            "per data directory (stop that process or use another AGENTFORGE_DATA_DIR)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)
