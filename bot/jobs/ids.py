"""Job ids shared by two processes: a counter file both draw from under ``flock``.

The intake process names a delivery's job in its 202, before DuckDB has the row, and
the jobs process draws ids for follow-up jobs; both take the next ids from one counter
so ids keep arrival order across the two (a ``/cancel`` that arrives after an
``/approve``'s follow-up is ordered after it). The counter is 8 bytes in
``<data_dir>/job-ids`` read and advanced under an exclusive ``flock``, which the kernel
releases when a process dies, so a ``kill -9`` at any moment never leaves it locked.

Both processes map the 8 bytes into memory: a draw is the lock, a read and a write of
memory, and the unlock, so the intake's journal writer makes two syscalls per batch for
its ids instead of four (each syscall gives up the GIL, and getting it back can wait on
the busy event loop thread).

The file is not fsync'd: a machine crash may set it back, which is why the intake
process sets it again at start from what is durable (:meth:`IdCounter.reset_above`).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

IDS_NAME = "job-ids"
_VALUE = struct.Struct(">Q")


class IdCounter:
    """The shared next-job-id counter (see the module docstring).

    Args:
        path: The counter file (created, holding 1, if missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size < _VALUE.size:
                # New (or cut short by a crash): the first id is 1, as it always was.
                os.pwrite(self._fd, _VALUE.pack(1), 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._map = mmap.mmap(self._fd, _VALUE.size)

    def take(self, n: int = 1) -> range:
        """Draw ``n`` consecutive ids, atomically across processes."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            first = self._read()
            _VALUE.pack_into(self._map, 0, first + n)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return range(first, first + n)

    def next(self) -> int:
        """One id (see :meth:`take`)."""
        return self.take(1)[0]

    def reset_above(self, used: int) -> int:
        """Make the next id ``used + 1`` or more; returns the next id."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            value = max(self._read(), used + 1)
            _VALUE.pack_into(self._map, 0, value)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return value

    def _read(self) -> int:
        return _VALUE.unpack_from(self._map, 0)[0]

    def close(self) -> None:
        """Close the file (the counter stays on disk)."""
        if self._fd >= 0:
            self._map.close()
            os.close(self._fd)
            self._fd = -1
