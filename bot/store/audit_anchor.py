"""The audit chain's anchor: its head recorded outside the database, append-only.

The hash chain finds any changed, deleted or spliced row *except* the newest ones: cut
the last rows (or rewrite the last row and its hash) and what is left is a valid,
shorter chain. So every append also writes ``<seq> <hash>`` as one line to
``audit.anchor`` beside the database, opened with ``O_APPEND`` and fsync'd before the
append returns. :meth:`bot.store.audit.AuditLog.verify` then checks that the newest
anchored row is still in the table with the anchored hash.

Someone who can rewrite both the database and this file can still hide rows; the file
makes it a second, deliberate step; copying ``agentforge audit verify``'s head hash
elsewhere (or shipping the file) makes a third. See docs/security.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.errors import StoreError

_LINE = re.compile(r"^(\d+) ([0-9a-f]{64})$")
_TAIL_BYTES = 64 * 1024


class AuditAnchor:
    """The anchor file of one data directory.

    Args:
        path: The file (``<data dir>/audit.anchor``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, seq: int, digest: str) -> None:
        """Append ``seq digest`` and fsync it.

        Raises:
            StoreError: the file could not be written (the caller fails closed).
        """
        line = f"{int(seq)} {digest}\n".encode("ascii")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)  # one short write: atomic with O_APPEND
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"recording the audit anchor in {self.path}: {exc}") from exc

    def exists(self) -> bool:
        """Whether the anchor file is there."""
        return self.path.exists()

    def head(self) -> tuple[int, str] | None:
        """The newest anchored ``(seq, hash)``, or None when there is none.

        Only the file's tail is read: lines are appended in (nearly) seq order, and the
        newest is among the last ones.

        Raises:
            StoreError: the file exists but cannot be read.
        """
        try:
            with self.path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _TAIL_BYTES))
                tail = handle.read().decode("ascii", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"reading the audit anchor {self.path}: {exc}") from exc
        best: tuple[int, str] | None = None
        for raw in tail.splitlines():
            match = _LINE.match(raw.strip())
            if match and (best is None or int(match.group(1)) > best[0]):
                best = (int(match.group(1)), match.group(2))
        return best
