"""The intake journal: the durable commit point of a webhook delivery in ``agentforge serve``.

A DuckDB commit costs milliseconds of CPU and an fsync of its WAL; an fsync'd append
to one file costs a fraction of that. So the intake process acknowledges a delivery
once it is in the journal, and the jobs process feeds DuckDB from there
(:mod:`bot.jobs.feeder`)::

    intake process                                            jobs process (DuckDB's writer)
    request ─► event loop: dedupe, stage ─► end of the loop's round: job ids, encode
                 ─► writer thread: append (O_DSYNC) ─► 202 for the whole round
                                                     │
                         <data_dir>/journal/000…N.journal ──► feeder: insert (idempotent)
                                                                 └─► delete fed segments

- **Segments.** The journal is a directory of numbered files. The writer appends to the
  newest and starts a new one past :data:`SEGMENT_BYTES`; it never deletes. The feeder
  deletes a segment once it is not the newest and every record in it is committed to
  DuckDB. Each file has one writer and one deleter, so the two processes need no lock.
- **Dedupe stays atomic.** One process takes deliveries for a data directory, and both
  unique keys (``forge:delivery id`` and the content key) are checked and added in
  memory under one lock when a delivery is staged, before its append; a failed append
  takes its keys out again, so the forge's redelivery is new. The set is loaded from
  ``deliveries`` at start (:func:`recover`); DuckDB's unique keys stay as a backstop.
- **Job ids** come from the counter shared with the jobs process (:mod:`bot.jobs.ids`),
  one draw per hand-off, in hand-off order (so records reach the file in id order),
  and a 202 names its job before DuckDB has the row.
- **Recovery.** Before the jobs process starts, :func:`recover` stores every complete
  record with ``ON CONFLICT DO NOTHING`` (records already fed are skipped), cuts a torn
  tail (a crash mid-append, never acknowledged) and deletes the segments.

Record format: ``length (4 bytes, big endian) | crc32 (4) | body``, where the body is a
JSON line of the delivery's fields followed by the raw payload. (Encoding a 12 KB
record, CRC included, measures ~5 us of the ~350 us of server CPU per delivery, so a
binary encoding is not worth a format change.)
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

import msgspec.json

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


_CRC_CHUNK = 4096
"""Below zlib's 5 KiB threshold for releasing the GIL (see :func:`crc32`)."""


def crc32(data: bytes, start: int = 0) -> int:
    """``zlib.crc32(data, start)``, computed without giving up the GIL.

    zlib releases the GIL for inputs over 5 KiB; on the event loop thread that costs a
    wait to get it back whenever the journal writer holds it, far more than the
    checksum itself (~3 us for a 12 KB record).
    """
    view = memoryview(data)
    crc = start
    for offset in range(0, len(view), _CRC_CHUNK):
        crc = zlib.crc32(view[offset : offset + _CRC_CHUNK], crc)
    return crc


def encode(stored: Stored) -> bytes:
    """One framed journal record."""
    return b"".join(encode_parts(stored, stored.received_at.isoformat()))


def encode_parts(stored: Stored, received_at: str) -> tuple[bytes, bytes, bytes]:
    """One framed record as (frame header, metadata line, payload), to be joined.

    A batch joins the parts of all its records once, so a 12 KB payload is copied once
    on its way to the file; ``received_at`` is the record's time, formatted once per
    batch.
    """
    d = stored.delivery
    meta = {f: getattr(d, f) for f in _FIELDS}
    meta.update(action=d.action, headers=d.headers, job_id=stored.job_id)
    meta.update(queue=d.queue, priority=d.priority, received_at=received_at)
    line = msgspec.json.encode(meta) + b"\n"  # several times faster than json.dumps here
    crc = crc32(d.payload, zlib.crc32(line))
    return _HEADER.pack(len(line) + len(d.payload), crc), line, d.payload


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
        if crc32(body) != crc:
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


class _Batch:
    """Records encoded on the caller's thread, for the writer to append as they are."""

    __slots__ = ("data", "items", "job_ids", "keys")

    def __init__(self, data: bytes, items: list, job_ids: range, keys: list[str]) -> None:
        self.data = data
        self.items = items
        self.job_ids = job_ids
        self.keys = keys


class JournalIntake:
    """Durable, deduplicated intake for one server process (see the module docstring).

    Work is split so that the writer thread needs the interpreter as little as
    possible: whoever submits (the event loop thread, or a local feed's thread) checks
    the dedupe keys, and at the end of the loop's current round draws the job ids and
    encodes every record staged in that round; the writer thread only appends the bytes
    and settles the waiters. Each time the writer wants the GIL back while the event
    loop runs, both wait for a switch, so per-delivery work on the writer (it drew ids
    and encoded one record at a time) cost the loop more than the work itself.

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
        self._pending: stdqueue.SimpleQueue[_Batch | None] = stdqueue.SimpleQueue()
        # Guards the keys, the staged list and the id draw + hand-off order (records
        # reach the file in id order). Never held across a wait.
        self._lock = threading.Lock()
        self._staged: list[tuple[Delivery, list[str], Waiter]] = []
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
        # disk, as write + fdatasync would, in one syscall (one GIL hand-back per batch).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_DSYNC, 0o600)
        _fsync_dir(self.directory)  # the new name survives a crash
        return fd

    # --- intake ----------------------------------------------------------------------------

    def submit(self, delivery: Delivery) -> Future[EnqueueResult]:
        """Journal a delivery; the future resolves once it is on disk (or a duplicate).

        For callers off the event loop: what is staged is handed to the writer at once.
        """
        fut: Future[EnqueueResult] = Future()
        if self._stage(delivery, fut) is not None:
            self._hand_off()
        return fut

    def submit_async(self, delivery: Delivery) -> asyncio.Future:
        """Like :meth:`submit`, as a future of the running event loop.

        Deliveries submitted in one round of the loop are appended together: the
        hand-off runs once the loop has run what is ready now.
        """
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if self._stage(delivery, (loop, fut)):  # the first of this round schedules it
            loop.call_soon(self._hand_off)
        return fut

    def _stage(self, delivery: Delivery, waiter: Waiter) -> bool | None:
        """Check the keys and stage ``delivery``.

        Returns:
            None if it was answered already (a duplicate, or shutting down); else
            whether it is the first one staged since the last hand-off.
        """
        keys = _keys_of(delivery)
        with self._lock:
            if self._closed:
                outcome: Any = QueueUnavailable("the job queue is shutting down")
            elif not self._keys.isdisjoint(keys):
                outcome = EnqueueResult("duplicate")
            else:
                self._keys.update(keys)
                self._staged.append((delivery, keys, waiter))
                return len(self._staged) == 1
        _resolve(waiter, outcome)
        return False

    def _hand_off(self) -> None:
        """Draw ids for, encode and pass to the writer everything staged so far."""
        with self._lock:
            staged, self._staged = self._staged, []
            if not staged:
                return
            try:
                ids = self.ids.take(len(staged))
            except OSError as exc:
                error = QueueUnavailable(f"drawing job ids from {self.ids.path}: {exc}")
                self._keys.difference_update(k for _, keys, _ in staged for k in keys)
                failed = [(d, w) for d, _, w in staged]
                settle_waiters(failed, [error] * len(failed))
                return
            now = self.clock()
            stamp = now.isoformat()
            data = b"".join(
                part
                for (d, _, _), i in zip(staged, ids, strict=True)
                for part in encode_parts(Stored(d, i, now), stamp)
            )
            items = [(d, w) for d, _, w in staged]
            self._pending.put(_Batch(data, items, ids, [k for _, ks, _ in staged for k in ks]))

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
        return self._writing or bool(self._staged) or not self._pending.empty()

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
            batches = [first]
            stop = False
            while True:  # what was handed off while the last append ran goes in one write
                try:
                    item = self._pending.get_nowait()
                except stdqueue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batches.append(item)
            self._writing = True
            try:
                self._write(batches)
            finally:
                self._writing = False
            if stop:
                return

    def _write(self, batches: list[_Batch]) -> None:
        items = [item for b in batches for item in b.items]
        try:
            if self._size > self.segment_bytes:
                self._rotate()
            self._append(
                batches[0].data if len(batches) == 1 else b"".join(b.data for b in batches)
            )
        except OSError as exc:
            self.last_error = f"appending to intake journal {self.directory}: {exc}"
            with self._lock:  # a redelivery must not be taken for a duplicate of these
                self._keys.difference_update(k for b in batches for k in b.keys)
            settle_waiters(items, [QueueUnavailable(self.last_error)] * len(items))
            return
        self.last_error = None
        outcomes = [EnqueueResult("queued", i) for b in batches for i in b.job_ids]
        settle_waiters(items, outcomes)
        if self.feeder is not None:
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
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._hand_off()
        self._pending.put(None)
        self._writer.join(timeout)
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _resolve(waiter: Waiter, outcome: Any) -> None:
    """Settle one waiter now, from the thread it was created on."""
    fut = waiter if isinstance(waiter, Future) else waiter[1]
    if isinstance(outcome, BaseException):
        fut.set_exception(outcome)
    else:
        fut.set_result(outcome)


def _keys_of(delivery: Delivery) -> list[str]:
    key = delivery.delivery_key
    return [key, "c:" + delivery.content_key] if delivery.content_key else [key]
