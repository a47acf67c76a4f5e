"""The intake journal: the durable commit point of a webhook delivery in ``agentforge serve``.

A DuckDB commit costs milliseconds of CPU and an fsync of its WAL; an fsync'd append
to one file costs a fraction of that. So the intake process acknowledges a delivery
once it is in the journal, and the jobs process feeds DuckDB from there
(:mod:`bot.jobs.feeder`)::

    intake process                                        jobs process (DuckDB's writer)
    request ─► writer thread: dedupe ─► job id ─► append (O_DSYNC) ─► 202
                                                     │
                         <data_dir>/journal/000…N.journal ──► feeder: insert (idempotent)
                                                                 └─► delete fed segments

- **Segments.** The journal is a directory of numbered files. The writer appends to the
  newest and starts a new one past :data:`SEGMENT_BYTES`; it never deletes. The feeder
  deletes a segment once it is not the newest and every record in it is committed to
  DuckDB. Each file has one writer and one deleter, so the two processes need no lock.
- **Dedupe stays atomic.** One process takes deliveries for a data directory, and one
  writer thread checks and adds both unique keys (``forge:delivery id`` and the content
  key) in memory before the append. The set is loaded from ``deliveries`` at start
  (:func:`recover`); DuckDB's unique keys stay as a backstop.
- **Job ids** come from the counter shared with the jobs process (:mod:`bot.jobs.ids`),
  one draw per append, so a 202 names its job before DuckDB has the row.
- **Recovery.** Before the jobs process starts, :func:`recover` stores every complete
  record with ``ON CONFLICT DO NOTHING`` (records already fed are skipped), cuts a torn
  tail (a crash mid-append, never acknowledged) and deletes the segments.

Record format: ``length (4 bytes, big endian) | crc32 (4) | body``, where the body is a
JSON line of the delivery's fields followed by the raw payload. (Encoding a 12 KB
record, CRC included, measured ~10 us against ~500 us of server CPU per delivery, so a
binary encoding was not worth a format change.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue as stdqueue
import struct
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import QueueUnavailable, StoreError
from bot.jobs.ids import IdCounter
from bot.jobs.queue_types import Delivery, EnqueueResult, Stored, Waiter, settle_waiters, utcnow
from bot.logs import get_logger

log = get_logger("bot.intake.journal")

JOURNAL_DIR = "journal"
"""The journal's directory inside the data directory."""
SEGMENT_SUFFIX = ".journal"
SEGMENT_BYTES = 8 * 1024 * 1024
"""A segment past this size is closed and a new one started (bounds what a restarted
feeder reads again)."""
_HEADER = struct.Struct(">II")
_FIELDS = ("forge", "delivery_id", "event_name", "content_key", "subject", "repo", "kind")


def encode(stored: Stored) -> bytes:
    """One framed journal record."""
    d = stored.delivery
    meta = {f: getattr(d, f) for f in _FIELDS}
    meta.update(action=d.action, headers=d.headers, job_id=stored.job_id)
    meta.update(queue=d.queue, priority=d.priority)
    meta["received_at"] = stored.received_at.isoformat()
    body = json.dumps(meta, separators=(",", ":")).encode() + b"\n" + d.payload
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


def decode(body: bytes) -> Stored:
    """The stored delivery in one record body (raises ValueError/KeyError if malformed)."""
    line, _, payload = body.partition(b"\n")
    meta = json.loads(line)
    delivery = Delivery(
        **{f: meta[f] for f in _FIELDS},
        action=meta["action"],
        headers=meta["headers"],
        payload=payload,
        # Records journaled before queues existed have none: they ran in one pool.
        queue=meta.get("queue", "heavy"),
        priority=int(meta.get("priority", 1)),
    )
    return Stored(delivery, int(meta["job_id"]), datetime.fromisoformat(meta["received_at"]))


def parse_records(data: bytes, offset: int = 0) -> tuple[list[Stored], int, bool]:
    """Complete records in ``data`` from ``offset``.

    Returns:
        The records, the offset after the last one, and whether reading stopped at
        damage (a bad checksum or an undecodable body) rather than at the end of what
        has been written.
    """
    records: list[Stored] = []
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        body = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(body) < length:
            return records, offset, False  # not written yet (or torn by a crash)
        if zlib.crc32(body) != crc:
            return records, offset, True
        try:
            records.append(decode(body))
        except (ValueError, KeyError, TypeError):
            return records, offset, True
        offset += _HEADER.size + length
    return records, offset, False


def read_records(path: Path) -> tuple[list[Stored], int]:
    """Every complete record of one segment, and the offset where its valid part ends."""
    data = path.read_bytes() if path.exists() else b""
    records, good, _ = parse_records(data)
    return records, good


def segments(directory: Path) -> list[Path]:
    """The journal's segments, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(SEGMENT_SUFFIX))


def segment_path(directory: Path, number: int) -> Path:
    """The path of segment ``number``."""
    return directory / f"{number:012d}{SEGMENT_SUFFIX}"


def segment_number(path: Path) -> int:
    """The number of a segment file."""
    return int(path.name.removesuffix(SEGMENT_SUFFIX))


def recover(db: Any, directory: Path, max_attempts: int, ids: IdCounter) -> set[str]:
    """Store what the journal holds, empty it, and return the dedupe keys.

    Run by the intake process while nothing else has the data directory open: before
    the jobs process starts. It also sets the id counter above every id in use and
    moves the database's id sequence up to it (so that commands run while the server is
    stopped never draw an id a journaled job holds).

    Raises:
        StoreError: the records could not be stored or read.
    """
    from bot.jobs import queue_store

    directory.mkdir(parents=True, exist_ok=True)
    stored = 0
    try:
        for path in segments(directory):
            records, good = read_records(path)
            for start in range(0, len(records), 2000):
                stored += len(
                    queue_store.store_records(db, records[start : start + 2000], max_attempts)
                )
            if path.stat().st_size > good:
                log.warning(
                    "cut a torn record off the intake journal", segment=path.name, offset=good
                )
        keys: set[str] = set()
        for dkey, ckey in db.fetchall("SELECT delivery_key, content_key FROM deliveries"):
            keys.add(dkey)
            if ckey:
                keys.add("c:" + ckey)
        used = queue_store.max_job_id(db)
        queue_store.advance_job_ids(db, ids.reset_above(used) - 1)
    except StoreError as exc:
        raise StoreError(f"recovering intake journal {directory}: {exc}") from exc
    if stored:
        log.warning("replayed intake journal", records=stored)
    for path in segments(directory):
        path.unlink()
    _fsync_dir(directory)
    return keys


INTAKE_LOCK_NAME = "intake.lock"


def take_intake_lock(data_dir: Path) -> int:
    """Become the one intake process of ``data_dir`` (an exclusive ``flock``, kept open).

    The jobs process is DuckDB's writer; this lock is the intake's own, so a second
    server on the same data directory fails at once, while a jobs process left by a
    killed server may still be finishing.

    Raises:
        StoreLocked: another server takes deliveries for ``data_dir``.
    """
    import fcntl

    from bot.errors import StoreLocked

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / INTAKE_LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = path.read_text().strip() or "unknown"
        os.close(fd)
        raise StoreLocked(
            f"{data_dir} is already in use by server process {holder} (one server per "
            "data directory: stop it or use another AGENTFORGE_DATA_DIR)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalIntake:
    """Durable, deduplicated intake for one server process (see the module docstring).

    Args:
        directory: The journal's directory (``<data_dir>/journal``), emptied by
            :func:`recover` before.
        keys: The dedupe keys :func:`recover` returned (kept current here).
        ids: The shared job id counter.
        feeder: A :class:`bot.jobs.feeder.JournalFeeder` in the same process (the
            single-process app), woken after each append; None when the jobs process
            feeds.
        segment_bytes: Size past which a new segment starts.
    """

    def __init__(
        self,
        directory: Path,
        *,
        keys: set[str],
        ids: IdCounter,
        feeder: Any = None,
        segment_bytes: int = SEGMENT_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ids = ids
        self.clock = clock
        self.last_error: str | None = None
        self.segment_bytes = segment_bytes
        self.feeder = feeder
        self._pending: stdqueue.SimpleQueue[tuple[Delivery, Waiter] | None] = stdqueue.SimpleQueue()
        self._keys = keys
        self._closed = False
        self._writing = False
        existing = segments(self.directory)
        self._segment = segment_number(existing[-1]) + 1 if existing else 1
        self._fd = self._open_segment()
        self._size = 0
        self._writer = threading.Thread(target=self._write_loop, name="agentforge-journal")
        self._writer.daemon = True
        self._writer.start()

    def _open_segment(self) -> int:
        path = segment_path(self.directory, self._segment)
        # O_DSYNC: each write returns once its data (and the size that reaches it) is on
        # disk, as write + fdatasync would, in one syscall. The writer thread gives up the
        # GIL once per batch instead of twice, and waits to get it back once.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_DSYNC, 0o600)
        _fsync_dir(self.directory)  # the new name survives a crash
        return fd

    # --- intake ----------------------------------------------------------------------------

    def submit(self, delivery: Delivery) -> Future[EnqueueResult]:
        """Journal a delivery; the future resolves once it is on disk (or a duplicate)."""
        fut: Future[EnqueueResult] = Future()
        if self._closed:
            fut.set_exception(QueueUnavailable("the job queue is shutting down"))
        else:
            self._pending.put((delivery, fut))
        return fut

    def submit_async(self, delivery: Delivery) -> asyncio.Future:
        """Like :meth:`submit`, as a future of the running event loop."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if self._closed:
            fut.set_exception(QueueUnavailable("the job queue is shutting down"))
        else:
            self._pending.put((delivery, (loop, fut)))
        return fut

    def flush(self, timeout: float = 10) -> bool:
        """Wait until every acknowledged delivery is in DuckDB (same-process feeder only).

        Raises:
            RuntimeError: the feeder runs in another process.
        """
        if self.feeder is None:
            raise RuntimeError("the journal is fed by the jobs process, not this one")
        return self.feeder.flush(timeout)

    def busy(self) -> bool:
        """True while deliveries wait for (or are in) an append."""
        return self._writing or not self._pending.empty()

    @property
    def healthy(self) -> bool:
        """True while the writer runs and the last append succeeded."""
        return self._writer.is_alive() and not self._closed and self.last_error is None

    def next_job_id(self) -> int:
        """The next job id in arrival order (the shared counter)."""
        return self.ids.next()

    def _write_loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while True:
                try:
                    item = self._pending.get_nowait()
                except stdqueue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._writing = True
            try:
                self._write_batch(batch)
            finally:
                self._writing = False
            if stop:
                return

    def _write_batch(self, batch: list[tuple[Delivery, Waiter]]) -> None:
        outcomes: list[Any] = []
        fresh: list[Delivery] = []
        added: list[str] = []
        for delivery, _ in batch:
            keys = _keys_of(delivery)
            if not keys.isdisjoint(self._keys):
                outcomes.append(EnqueueResult("duplicate"))
                continue
            self._keys.update(keys)
            added.extend(keys)
            fresh.append(delivery)
            outcomes.append(None)
        if fresh:
            try:
                if self._size > self.segment_bytes:
                    self._rotate()
                ids = self.ids.take(len(fresh))
                now = self.clock()
                stored = [Stored(d, i, now) for d, i in zip(fresh, ids, strict=True)]
                self._append(b"".join(encode(s) for s in stored))
            except OSError as exc:
                self._keys.difference_update(added)
                self.last_error = f"appending to intake journal {self.directory}: {exc}"
                outcomes = [QueueUnavailable(self.last_error)] * len(batch)
            else:
                self.last_error = None
                by_id = iter(stored)
                outcomes = [o or EnqueueResult("queued", next(by_id).job_id) for o in outcomes]
        settle_waiters(batch, outcomes)
        if fresh and self.last_error is None and self.feeder is not None:
            self.feeder.wake()

    def _append(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)  # synchronous: the segment is O_DSYNC
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        except OSError:
            # Never leave a partial record in the middle of the file: later records
            # would be unreadable.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def _rotate(self) -> None:
        # The feeder deletes a segment only once a newer one exists: create the new one
        # first, then stop writing the old one.
        self._segment += 1
        fd = self._open_segment()
        os.close(self._fd)
        self._fd, self._size = fd, 0

    def close(self, timeout: float = 30) -> None:
        """Append what was submitted, then stop (the feeder takes it from the file)."""
        if self._closed:
            return
        self._closed = True
        self._pending.put(None)
        self._writer.join(timeout)
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _keys_of(delivery: Delivery) -> set[str]:
    keys = {delivery.delivery_key}
    if delivery.content_key:
        keys.add("c:" + delivery.content_key)
    return keys
