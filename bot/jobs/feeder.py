"""The journal feeder: intake journal segments into DuckDB's ``deliveries`` and ``jobs``.

Runs in the jobs process, the data directory's one DuckDB writer (see
docs/architecture.md, "Processes"). It tails the segments the intake process appends to
(:mod:`bot.intake.journal`), stores complete records in batches with ``ON CONFLICT DO
NOTHING`` and deletes a segment once a newer one exists and everything in it is
committed. Progress is kept in memory only: a restarted feeder reads the remaining
segments from their start again, and the rows it already stored are skipped, so a
``kill -9`` at any moment loses nothing and stores nothing twice.

While records keep arriving it gathers them, and writes when the journal has not grown
for one poll, at the latest after :data:`FEED_MAX_DELAY_SECONDS` or
:data:`FEED_MAX_RECORDS` / :data:`FEED_MAX_BYTES`: one large transaction costs less CPU
per row than many small ones during a burst. While intake is saturated (a burst: see
:meth:`bot.jobs.queue.JobQueue.intake_saturated`) the delay may grow to
:data:`FEED_SATURATED_MAX_DELAY_SECONDS`: the coordinator leases nothing new during a
burst for as long, so storing earlier would start no job sooner, and a DuckDB insert
(~100-200 us of CPU per delivery) in the middle of a burst takes CPU the intake process
is short of. A :meth:`JournalFeeder.flush` stores at once.

It is also how the jobs process knows that deliveries are arriving: it tells the queue
(:meth:`bot.jobs.queue.JobQueue.intake_seen`, and :meth:`JournalFeeder.busy` as one of
its intakes), so the workers' coordinator keeps deferring its commits to pauses in
intake as it does in one process. That matters across processes too: every DuckDB
commit is an fsync on the disk the journal's synchronous append waits for.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from bot.errors import StoreError
from bot.intake.journal import parse_records, segment_number, segments
from bot.jobs.queue import JobQueue, Stored
from bot.jobs.subjects import MrAliases, alias_subject
from bot.logs import get_logger

log = get_logger("bot.jobs.feeder")

FEED_POLL_SECONDS = 0.01
"""How often the feeder looks for new records (or is woken by an intake in-process)."""
FEED_MAX_DELAY_SECONDS = 1.0
"""Longest a journaled delivery waits for DuckDB while records keep arriving."""
FEED_SATURATED_MAX_DELAY_SECONDS = 10.0
"""Longest it waits while intake is saturated (the coordinator's own bound, by default)."""
FEED_MAX_RECORDS = 20_000
"""Largest backlog (in deliveries) the feeder gathers before it writes, arrivals or not."""
FEED_MAX_BYTES = 64 * 1024 * 1024
"""Largest backlog (in payload bytes) it holds in memory before it writes."""
FEED_RETRY_SECONDS = 0.5


def append_sizes(records: list[Stored]) -> list[int]:
    """How many deliveries each journal append among ``records`` held, in order.

    The intake's writer stamps every record of one append with the same ``received_at``.
    Counting records per poll instead would make a steady 200/s (two per 10 ms poll)
    look like a saturated intake, and hold the workers back as if a burst were on.
    """
    sizes: list[int] = []
    last = None
    for record in records:
        if sizes and record.received_at == last:
            sizes[-1] += 1
        else:
            sizes.append(1)
            last = record.received_at
    return sizes


class JournalFeeder:
    """Feeds one journal directory into the queue's database (see the module docstring).

    Args:
        queue: The job queue (its database is the writer).
        directory: The journal's directory.
        aliases: The MR → issue map: a record's MR subject becomes its run's issue's
            here, where the run store keeps the map current.
    """

    def __init__(self, queue: JobQueue, directory: Path, aliases: MrAliases | None = None) -> None:
        self.queue = queue
        self.directory = Path(directory)
        self.aliases = aliases
        self.last_error: str | None = None
        self._offsets: dict[str, int] = {}  # segment name -> bytes consumed
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._committed = (0, 0)  # (segment number, offset): everything before is stored
        self._growing = False  # the last read found new records
        self._flush_to = (0, 0)  # a flush() waits for this position: no holding before it
        self._thread = threading.Thread(target=self._loop, name="agentforge-feeder", daemon=True)
        queue.add_intake(self)

    def start(self) -> None:
        """Start the feeding thread."""
        self._thread.start()

    def wake(self) -> None:
        """Look for new records now (an intake in the same process appended)."""
        self._wake.set()

    def busy(self) -> bool:
        """True while the journal grows (deliveries are arriving)."""
        return self._growing

    @property
    def healthy(self) -> bool:
        """True while the thread runs and the last store succeeded."""
        return self._thread.is_alive() and self.last_error is None

    def flush(self, timeout: float = 10) -> bool:
        """Wait until everything journaled so far is in DuckDB; False on timeout.

        "So far" is the newest segment's size now: every delivery acknowledged before
        the call is inside it. ``timeout=0`` only checks.
        """
        found = segments(self.directory)
        target = (segment_number(found[-1]), found[-1].stat().st_size) if found else (0, 0)
        with self._idle:
            self._flush_to = max(self._flush_to, target)
        self.wake()
        with self._idle:
            return self._idle.wait_for(lambda: self._committed >= target, timeout)

    def stop(self, timeout: float = 30) -> None:
        """Store what is journaled, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        backlog: list[Stored] = []
        held_bytes = 0
        since = 0.0
        while True:
            stopping = self._stop.is_set()
            fresh, done_segments, position = self._read()
            self._growing = bool(fresh)
            if fresh:
                for size in append_sizes(fresh):
                    self.queue.intake_seen(size)
                if not backlog:
                    since = time.monotonic()
                backlog.extend(fresh)
                held_bytes += sum(len(s.delivery.payload) for s in fresh)
            else:
                self.queue.notify_intake_idle()
            if backlog and not (fresh and self._hold(len(backlog), held_bytes, since, stopping)):
                if not self._store(backlog):
                    if stopping:
                        return  # still in the journal: stored at the next start
                    self._stop.wait(FEED_RETRY_SECONDS)
                    continue
                backlog, held_bytes = [], 0
            if not backlog:
                self._delete(done_segments)
                with self._idle:
                    # Everything read so far is stored: up to here.
                    self._committed = max(self._committed, position)
                    self._idle.notify_all()
                if stopping:
                    return
            self._wake.wait(FEED_POLL_SECONDS)
            self._wake.clear()

    def _hold(self, records: int, size: int, since: float, stopping: bool) -> bool:
        """Whether to keep gathering while the journal grows (see the module docstring)."""
        if stopping or records >= FEED_MAX_RECORDS or size >= FEED_MAX_BYTES:
            return False
        if self._committed < self._flush_to:
            return False  # someone waits in flush()
        waited = time.monotonic() - since
        if waited < FEED_MAX_DELAY_SECONDS:
            return True
        return waited < FEED_SATURATED_MAX_DELAY_SECONDS and self.queue.intake_saturated()

    def _read(self) -> tuple[list[Stored], list[Path], tuple[int, int]]:
        """New complete records, the closed segments read to their end, and the position
        (segment number, offset) read up to."""
        found = segments(self.directory)
        records: list[Stored] = []
        finished: list[Path] = []
        position = self._committed
        for index, path in enumerate(found):
            newest = index == len(found) - 1
            start = self._offsets.get(path.name, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read()
            except FileNotFoundError:
                continue
            got, end, damaged = parse_records(data)
            self._offsets[path.name] = start + end
            if not damaged:
                position = max(position, (segment_number(path), start + end))
            records.extend(self._resolved(got))
            if damaged:
                self.last_error = f"damaged record in {path} at byte {start + end}"
                log.error(
                    "intake journal segment is damaged", segment=path.name, offset=start + end
                )
                continue  # kept for the intake process's recovery; never deleted here
            if not newest and end == len(data):
                finished.append(path)
        return records, finished, position

    def _resolved(self, records: list[Stored]) -> list[Stored]:
        if self.aliases is None:
            return records
        out = []
        for s in records:
            subject = alias_subject(s.delivery.subject, self.aliases)
            if subject != s.delivery.subject:
                s = Stored(replace(s.delivery, subject=subject), s.job_id, s.received_at)
            out.append(s)
        return out

    def _store(self, backlog: list[Stored]) -> bool:
        try:
            self.queue.store(backlog)
        except StoreError as exc:
            # The records are safe in the journal: keep them and try again.
            self.last_error = f"feeding the job queue from the intake journal: {exc}"
            log.error("feeding the job queue failed", error=str(exc))
            return False
        self.last_error = None
        return True

    def _delete(self, finished: list[Path]) -> None:
        for path in finished:
            # Everything in it is committed in DuckDB, and the intake writes only to
            # the newest segment: it can go.
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.error(
                    "could not delete a fed journal segment", segment=path.name, error=str(exc)
                )
                continue
            self._offsets.pop(path.name, None)
