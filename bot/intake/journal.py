"""The intake journal: the durable commit point of a webhook delivery in ``agentforge serve``.

A DuckDB commit costs milliseconds of CPU and an fsync of its WAL; an fsync'd append
to one file costs a fraction of that. So the server acknowledges a delivery once it is
in ``<data_dir>/intake.journal`` and feeds DuckDB from there in the background::

    request ─► writer thread: dedupe (in memory) ─► job id ─► append + fdatasync ─► 202
                                                                   │
                         feeder thread: insert into deliveries/jobs (idempotent) ─► workers

- **Dedupe stays atomic.** One process writes a data directory (the writer lock), and
  one writer thread checks and adds both unique keys (``forge:delivery id`` and the
  content key) in memory before the append. The sets are loaded from ``deliveries`` and
  from the journal at start; DuckDB's unique keys stay as a backstop.
- **Job ids** are drawn from ``job_id_seq`` ahead of time (committed), so a 202 names
  its job before DuckDB has the row. At start the ids drawn but never used by the last
  process (above every stored job) are used first, so ids continue without a jump.
- **Feeding in batches.** While deliveries keep arriving the feeder gathers records
  and writes them when intake pauses (:data:`bot.jobs.queue.INTAKE_QUIET_SECONDS`), at the
  latest after :data:`FEED_MAX_DELAY_SECONDS` or :data:`FEED_MAX_RECORDS`: one large
  transaction costs less CPU per row than many small ones during a burst.
- **Replay.** At start every complete record is inserted with ``ON CONFLICT DO
  NOTHING`` (records already fed are skipped), a torn tail (a crash mid-append, never
  acknowledged) is cut off, and the file is emptied. While running, the file is emptied
  whenever everything in it has been committed to DuckDB.

Record format: ``length (4 bytes, big endian) | crc32 (4) | body``, where the body is a
JSON line of the delivery's fields followed by the raw payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue as stdqueue
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import QueueUnavailable, StoreError
from bot.jobs.queue import Delivery, EnqueueResult, JobQueue, Stored, Waiter, settle_waiters
from bot.logs import get_logger

log = get_logger("bot.intake.journal")

JOURNAL_NAME = "intake.journal"
_HEADER = struct.Struct(">II")
_ID_BLOCK = 2048
_TRUNCATE_BYTES = 8 * 1024 * 1024
FEED_MAX_DELAY_SECONDS = 1.0
"""Longest a journaled delivery waits for DuckDB while intake is busy."""
FEED_MAX_RECORDS = 5000
"""Largest backlog the feeder gathers before it writes, busy intake or not."""
FEED_SATURATED_DELAY_SECONDS = 10.0
"""Longest a journaled delivery waits for DuckDB while intake is saturated (a burst)."""
FEED_SATURATED_BYTES = 128 * 1024 * 1024
"""Largest backlog (payload bytes held in memory) the feeder gathers during a burst."""
FEED_RECHECK_SECONDS = 0.005
"""How often a feeder with a backlog checks whether intake has gone quiet."""
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


def read_records(path: Path) -> tuple[list[Stored], int]:
    """Every complete record, and the byte offset where the valid part of the file ends."""
    data = path.read_bytes() if path.exists() else b""
    records: list[Stored] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        body = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        try:
            records.append(decode(body))
        except (ValueError, KeyError, TypeError):
            break
        offset += _HEADER.size + length
    return records, offset


class JournalIntake:
    """Durable, deduplicated intake for one server process (see the module docstring).

    Args:
        queue: The job queue whose database is fed.
        path: The journal file.
    """

    def __init__(self, queue: JobQueue, path: Path) -> None:
        self.queue = queue
        self.path = Path(path)
        self.last_error: str | None = None
        self._pending: stdqueue.SimpleQueue[tuple[Delivery, Waiter] | None] = stdqueue.SimpleQueue()
        self._feed: stdqueue.SimpleQueue[list[Stored] | None] = stdqueue.SimpleQueue()
        self._keys: set[str] = set()
        self._ids: deque[int] = deque()
        self._ids_cond = threading.Condition()
        self._closed = False
        self._writing = False
        self._written = 0  # records appended since the file was last emptied
        self._fed = 0  # of those, records committed to DuckDB
        self._fed_cond = threading.Condition()
        self._recover()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._writer = threading.Thread(target=self._write_loop, name="agentforge-journal")
        self._feeder = threading.Thread(target=self._feed_loop, name="agentforge-feeder")
        self._writer.daemon = self._feeder.daemon = True
        self._writer.start()
        self._feeder.start()
        queue.add_intake(self)
        # Follow-up jobs (a light job's hand-over to the heavy lane) draw their ids
        # here too, so ids stay in arrival order with journaled deliveries.
        queue.id_source = self.next_job_id

    # --- start-up --------------------------------------------------------------------------

    def _recover(self) -> None:
        try:
            for dkey, ckey in self.queue.db.fetchall(
                "SELECT delivery_key, content_key FROM deliveries"
            ):
                self._keys.add(dkey)
                if ckey:
                    self._keys.add("c:" + ckey)
            records, good = read_records(self.path)
            if records:
                self.queue.store(records)
                log.warning("replayed intake journal", records=len(records))
            # Ids the previous process drew but never used come first: job ids continue
            # after a restart (or a kill) instead of jumping by a block.
            leftover = self.queue.unused_job_ids()
            fresh = self.queue.reserve_job_ids(max(0, _ID_BLOCK - len(leftover)))
            self._ids = deque([*leftover, *fresh])
        except StoreError as exc:
            raise StoreError(f"recovering intake journal {self.path}: {exc}") from exc
        for stored in records:
            self._keys.update(_keys_of(stored.delivery))
        if self.path.exists():
            if self.path.stat().st_size > good:
                log.warning("cut a torn record off the intake journal", offset=good)
            with open(self.path, "r+b") as f:
                f.truncate(0)
                os.fsync(f.fileno())

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
        """Wait until every acknowledged delivery is also in DuckDB; False on timeout."""
        with self._fed_cond:
            return self._fed_cond.wait_for(lambda: self._fed >= self._written, timeout)

    def busy(self) -> bool:
        """True while deliveries wait for (or are in) an append."""
        return self._writing or not self._pending.empty()

    @property
    def healthy(self) -> bool:
        """True while both threads run and the last append and feed succeeded."""
        alive = self._writer.is_alive() and self._feeder.is_alive()
        return alive and not self._closed and self.last_error is None

    def _write_loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                self._feed.put(None)
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
            self.queue.intake_seen(len(batch))
            try:
                self._write_batch(batch)
            finally:
                self._writing = False
                self.queue.notify_intake_idle()
            if stop:
                self._feed.put(None)
                return

    def _write_batch(self, batch: list[tuple[Delivery, Waiter]]) -> None:
        outcomes: list[Any] = []
        fresh: list[Stored] = []
        added: list[str] = []
        now = self.queue.clock()
        for delivery, _ in batch:
            keys = _keys_of(delivery)
            if not keys.isdisjoint(self._keys):
                outcomes.append(EnqueueResult("duplicate"))
                continue
            self._keys.update(keys)
            added.extend(keys)
            stored = Stored(delivery, self._next_id(), now)
            fresh.append(stored)
            outcomes.append(EnqueueResult("queued", stored.job_id))
        if fresh:
            if self._written == self._fed and self._size > _TRUNCATE_BYTES:
                self._empty_file()
            try:
                self._append(b"".join(encode(s) for s in fresh))
            except OSError as exc:
                self._keys.difference_update(added)
                self.last_error = f"appending to intake journal {self.path}: {exc}"
                error = QueueUnavailable(self.last_error)
                outcomes = [error] * len(batch)
                fresh = []
            else:
                self.last_error = None
                with self._fed_cond:
                    self._written += len(fresh)
        settle_waiters(batch, outcomes)
        if fresh:
            self._feed.put(fresh)

    def _append(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fdatasync(self._fd)
        except OSError:
            # Never leave a partial record in the middle of the file: later records
            # would be unreadable at replay.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def _empty_file(self) -> None:
        # Everything appended so far is committed in DuckDB: the journal can start over.
        try:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        except OSError as exc:
            log.error("could not empty the intake journal", error=str(exc))
            return
        self._size = 0
        with self._fed_cond:
            self._written = self._fed = 0

    def next_job_id(self) -> int:
        """The next job id in arrival order (thread-safe; may wait for a new block)."""
        return self._next_id()

    def _next_id(self) -> int:
        with self._ids_cond:
            if len(self._ids) == _ID_BLOCK // 2:
                self._feed.put([])  # ask the feeder for the next block, ahead of time
            while not self._ids:
                self._feed.put([])
                self._ids_cond.wait(1.0)
            return self._ids.popleft()

    # --- feeding DuckDB ------------------------------------------------------------------

    def _feed_loop(self) -> None:
        stopping = False
        backlog: list[Stored] = []
        size = 0  # payload bytes in the backlog
        since = 0.0  # when the oldest record in the backlog arrived
        while not stopping:
            try:
                # With a backlog, wake up soon to see whether intake has gone quiet.
                items = [self._feed.get(timeout=FEED_RECHECK_SECONDS if backlog else None)]
            except stdqueue.Empty:
                items = []
            refill = False
            for item in [*items, *_drain(self._feed)]:
                if item is None:
                    stopping = True
                elif not item:
                    refill = True
                else:
                    if not backlog:
                        since = time.monotonic()
                    backlog.extend(item)
                    size += sum(len(s.delivery.payload) for s in item)
            if refill:
                self._refill_ids()
            if backlog and not stopping and self._defer(len(backlog), size, since):
                continue
            if backlog and not self._store(backlog, stopping):
                return  # replayed from the journal at the next start
            backlog = []
            size = 0

    def _defer(self, records: int, size: int, since: float) -> bool:
        # Each transaction costs CPU on the cores that also answer webhooks, and a large
        # one costs less per row than many small ones: while deliveries keep arriving,
        # gather records until intake pauses, bounded in records and in delay. While
        # intake is saturated (requests queue up behind each append) every CPU-us spent
        # here is taken from acknowledgements: wait for the burst to end, under a wider
        # bound in delay and memory.
        age = time.monotonic() - since
        if size >= FEED_SATURATED_BYTES or age >= FEED_SATURATED_DELAY_SECONDS:
            return False
        if self.queue.intake_saturated():
            return True
        if records >= FEED_MAX_RECORDS or age >= FEED_MAX_DELAY_SECONDS:
            return False
        return not self.queue.intake_quiet()

    def _store(self, backlog: list[Stored], stopping: bool) -> bool:
        """Store ``backlog`` until it succeeds; False if stopping while DuckDB fails."""
        while True:
            try:
                self.queue.store(backlog)
            except StoreError as exc:
                # The records are safe in the journal (replayed at the next start);
                # keep them and try again.
                self.last_error = f"feeding the job queue from the intake journal: {exc}"
                log.error("feeding the job queue failed", error=str(exc))
                if stopping or self._closed:
                    return False
                threading.Event().wait(0.5)
                continue
            self.last_error = None
            with self._fed_cond:
                self._fed += len(backlog)
                self._fed_cond.notify_all()
            return True

    def _refill_ids(self) -> None:
        try:
            ids = self.queue.reserve_job_ids(_ID_BLOCK)
        except StoreError as exc:
            log.error("reserving job ids failed", error=str(exc))
            return
        with self._ids_cond:
            self._ids.extend(ids)
            self._ids_cond.notify_all()

    def close(self, timeout: float = 30) -> None:
        """Append what was submitted, feed everything to DuckDB, then empty the file."""
        if self._closed:
            return
        self._closed = True
        self._pending.put(None)
        self._writer.join(timeout)
        self._feeder.join(timeout)
        if not self._feeder.is_alive() and self._written == self._fed:
            self._empty_file()
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _keys_of(delivery: Delivery) -> set[str]:
    keys = {delivery.delivery_key}
    if delivery.content_key:
        keys.add("c:" + delivery.content_key)
    return keys


def _drain(q: stdqueue.SimpleQueue) -> Iterator[Any]:
    while True:
        try:
            yield q.get_nowait()
        except stdqueue.Empty:
            return
