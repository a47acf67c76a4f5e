"""The intake journal and its feeder: durable before the answer, atomic dedupe,
idempotent replay, torn tails, segments, a feeder killed and restarted."""

from __future__ import annotations

import pytest

import bot.jobs.feeder
from bot.errors import QueueUnavailable, StoreError
from bot.intake.journal import (
    JOURNAL_DIR,
    JournalIntake,
    read_records,
    recover,
    segments,
)
from bot.jobs.feeder import JournalFeeder
from bot.jobs.ids import IDS_NAME, IdCounter
from bot.jobs.queue import Delivery, JobQueue, count_rows
from bot.jobs.subjects import MrAliases
from bot.store.db import Database


def delivery(n: int, content: str | None = None, subject: str | None = None) -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name="issue_comment",
        payload=b'{"n": %d}\n\x00binary-safe' % n,
        content_key=content if content is not None else f"c{n}",
        subject=subject or f"github:acme/app:issue:{n}",
        repo="acme/app",
        kind="issue_comment",
        action="created",
        headers={"x-github-delivery": f"d{n}"},
    )


def unavailable(records: list) -> int:
    """Stands in for JobQueue.store while DuckDB cannot be written."""
    raise StoreError(f"records database unavailable ({len(records)} records)")


class Opened:
    """A data directory opened the way the single-process server opens it."""

    def __init__(self, data_dir, *, segment_bytes: int = 8 * 1024 * 1024) -> None:
        self.dir = data_dir / JOURNAL_DIR
        self.db = Database.open(data_dir)
        self.ids = IdCounter(data_dir / IDS_NAME)
        keys = recover(self.db, self.dir, 5, self.ids)
        self.queue = JobQueue(self.db)
        self.queue.id_source = self.ids.next
        self.feeder = JournalFeeder(self.queue, self.dir, MrAliases.for_db(self.db))
        self.feeder.start()
        self.intake = JournalIntake(
            self.dir, keys=keys, ids=self.ids, feeder=self.feeder, segment_bytes=segment_bytes
        )

    def crash(self) -> None:
        """Stop without storing anything more (what SIGKILL leaves behind)."""
        self.queue.store = unavailable
        self.intake.close()
        self.feeder.stop()
        self.queue.close()
        self.db.close()

    def close(self) -> None:
        self.intake.close()
        self.feeder.stop()
        self.queue.close()
        self.db.close()

    def records(self) -> list:
        return [r for path in segments(self.dir) for r in read_records(path)[0]]


@pytest.fixture
def opened(data_dir):
    o = Opened(data_dir)
    yield o
    if not o.intake._closed:
        o.close()


def test_acknowledged_delivery_is_in_the_journal_then_in_the_queue(opened) -> None:
    result = opened.intake.submit(delivery(1)).result(10)
    assert result.status == "queued"
    # On disk before the answer: the journal already holds it, byte for byte.
    assert [(r.delivery, r.job_id) for r in opened.records()] == [(delivery(1), result.job_id)]
    assert opened.intake.flush(10)
    row = opened.db.fetchone(
        "SELECT p.payload, state, subject FROM jobs JOIN job_payloads p ON p.job_id = jobs.id"
        " WHERE id = ?",
        [result.job_id],
    )
    assert row == (delivery(1).payload, "queued", "github:acme/app:issue:1")


def test_duplicates_by_either_key_get_no_job(opened) -> None:
    futures = [opened.intake.submit(d) for d in (delivery(1), delivery(1), delivery(2, "c1"))]
    assert [f.result(10).status for f in futures] == ["queued", "duplicate", "duplicate"]
    assert opened.intake.submit(delivery(3)).result(10).status == "queued"
    assert opened.intake.flush(10)
    assert count_rows(opened.db, "jobs") == 2


def test_restart_remembers_what_was_already_accepted(data_dir) -> None:
    first = Opened(data_dir)
    job_id = first.intake.submit(delivery(1)).result(10).job_id
    first.close()
    second = Opened(data_dir)
    try:
        assert not second.records()  # recovery stored the journal and emptied it
        assert second.intake.submit(delivery(1)).result(10).status == "duplicate"
        fresh = second.intake.submit(delivery(2)).result(10)
        assert fresh.status == "queued" and fresh.job_id == job_id + 1
    finally:
        second.close()


def test_crash_before_feeding_is_replayed_once(data_dir) -> None:
    first = Opened(data_dir)
    first.queue.store = unavailable
    ids = [first.intake.submit(delivery(n)).result(10).job_id for n in range(3)]
    records = first.records()
    first.crash()
    assert len(records) == 3
    with Database.open(data_dir) as db:
        assert count_rows(db, "jobs") == 0  # acknowledged, journaled, never fed
    second = Opened(data_dir)
    try:
        rows = second.db.fetchall("SELECT id, delivery_id FROM jobs ORDER BY id")
        assert rows == [(ids[n], f"d{n}") for n in range(3)]  # same job ids as answered
        assert second.intake.submit(delivery(0)).result(10).status == "duplicate"
    finally:
        second.close()
    third = Opened(data_dir)
    try:
        assert count_rows(third.db, "jobs") == 3 and count_rows(third.db, "deliveries") == 3
    finally:
        third.close()


def test_a_restarted_feeder_reads_the_journal_again_and_stores_nothing_twice(opened) -> None:
    # What a kill -9 of the jobs process leaves: a journal partly fed, a new feeder
    # that knows nothing of what the old one did.
    for n in range(1, 4):
        opened.intake.submit(delivery(n)).result(10)
    assert opened.intake.flush(10)
    opened.feeder.stop()
    second = JournalFeeder(opened.queue, opened.dir)
    opened.intake.feeder = second
    second.start()
    try:
        opened.intake.submit(delivery(4)).result(10)
        assert second.flush(10)
        assert count_rows(opened.db, "jobs") == 4 and count_rows(opened.db, "deliveries") == 4
    finally:
        second.stop()


def test_records_already_fed_are_skipped_at_replay(data_dir) -> None:
    first = Opened(data_dir)
    first.intake.submit(delivery(1)).result(10)
    assert first.intake.flush(10)
    first.crash()  # fed; the segment is still there
    second = Opened(data_dir)
    try:
        assert count_rows(second.db, "jobs") == 1
    finally:
        second.close()


def _only_segment(o: Opened):
    (path,) = segments(o.dir)
    return path


@pytest.mark.parametrize("cut", [1, 5, 9, -1])
def test_torn_tail_is_cut_off_and_earlier_records_kept(data_dir, cut) -> None:
    first = Opened(data_dir)
    first.queue.store = unavailable
    kept = first.intake.submit(delivery(1)).result(10).job_id
    first.intake.submit(delivery(2)).result(10)
    path = _only_segment(first)
    first.crash()
    data = path.read_bytes()
    one = len(data) // 2  # both records have the same length
    path.write_bytes(data[: one + cut] if cut > 0 else data[:-1])  # a crash mid-append
    second = Opened(data_dir)
    try:
        assert second.db.fetchall("SELECT id FROM jobs") == [(kept,)]
        # The torn delivery was never acknowledged: the forge's retry is accepted.
        assert second.intake.submit(delivery(2)).result(10).status == "queued"
    finally:
        second.close()


def test_corrupted_record_stops_replay_at_the_damage(data_dir) -> None:
    first = Opened(data_dir)
    first.queue.store = unavailable
    first.intake.submit(delivery(1)).result(10)
    path = _only_segment(first)
    first.crash()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # the checksum no longer matches
    path.write_bytes(bytes(data))
    assert read_records(path) == ([], 0)


def test_closed_intake_refuses_new_deliveries(opened) -> None:
    opened.close()
    with pytest.raises(QueueUnavailable):
        opened.intake.submit(delivery(1)).result(10)


def test_segments_rotate_and_fed_ones_are_deleted_but_never_the_newest(data_dir) -> None:
    o = Opened(data_dir, segment_bytes=200)  # every append past 200 bytes starts a segment
    try:
        for n in range(1, 7):
            assert o.intake.submit(delivery(n)).result(10).status == "queued"
        assert o.intake.flush(10)
        assert o.feeder.flush(10)  # one more pass deletes what the last one stored
        left = segments(o.dir)
        assert len(left) == 1  # only the one the intake still appends to
        assert count_rows(o.db, "jobs") == 6
    finally:
        o.close()


def test_feeder_gathers_records_while_the_journal_grows(opened, monkeypatch) -> None:
    monkeypatch.setattr(bot.jobs.feeder, "FEED_MAX_DELAY_SECONDS", 60.0)
    batches: list[int] = []
    store = opened.queue.store

    def counting(records: list) -> int:
        batches.append(len(records))
        return store(records)

    monkeypatch.setattr(opened.queue, "store", counting)
    futures = [opened.intake.submit(delivery(n)) for n in range(1, 41)]
    assert all(f.result(10).status == "queued" for f in futures)
    assert opened.intake.flush(10)
    assert sum(batches) == 40 and len(batches) < 40  # batched, not one transaction each
    assert count_rows(opened.db, "jobs") == 40


def test_feeder_gives_an_mr_subject_its_runs_issue(opened) -> None:
    MrAliases.for_db(opened.db).add("github", "acme/app", 7, 3)
    result = opened.intake.submit(delivery(1, subject="github:acme/app:mr:7")).result(10)
    other = opened.intake.submit(delivery(2, subject="github:acme/app:mr:8")).result(10)
    assert opened.intake.flush(10)
    subjects = dict(opened.db.fetchall("SELECT id, subject FROM jobs"))
    assert subjects[result.job_id] == "github:acme/app:issue:3"
    assert subjects[other.job_id] == "github:acme/app:mr:8"  # no run: left as it is


def test_a_damaged_closed_segment_is_reported_and_kept(data_dir) -> None:
    first = Opened(data_dir)
    first.queue.store = unavailable
    first.intake.submit(delivery(1)).result(10)
    path = _only_segment(first)
    first.crash()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    db = Database.open(data_dir)
    queue = JobQueue(db)
    (path.parent / "999999999999.journal").write_bytes(b"")  # a newer segment exists
    feeder = JournalFeeder(queue, path.parent)
    feeder.start()
    try:
        assert not feeder.flush(0.5) or not feeder.healthy
        assert not feeder.healthy and "damaged" in (feeder.last_error or "")
        assert path.exists()  # left for the intake's recovery, never deleted unread
    finally:
        feeder.stop()
        queue.close()
        db.close()


def test_job_ids_continue_after_a_restart(data_dir) -> None:
    first = Opened(data_dir)
    ids = [first.intake.submit(delivery(n)).result(10).job_id for n in (1, 2)]
    first.close()
    second = Opened(data_dir)
    ids.append(second.intake.submit(delivery(3)).result(10).job_id)
    second.close()
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


def test_job_ids_continue_after_a_kill_and_are_never_reused(data_dir) -> None:
    first = Opened(data_dir)
    ids = [first.intake.submit(delivery(n)).result(10).job_id for n in (1, 2)]
    first.crash()  # acknowledged, journaled, not fed
    second = Opened(data_dir)
    ids.append(second.intake.submit(delivery(3)).result(10).job_id)
    assert second.intake.flush(10)
    stored = [r[0] for r in second.db.fetchall("SELECT id FROM jobs ORDER BY id")]
    second.close()
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    assert stored == ids  # the replayed jobs kept their ids; the new one is the next


def test_the_id_counter_is_shared_so_jobs_stored_by_the_queue_keep_arrival_order(
    opened,
) -> None:
    first = opened.intake.submit(delivery(1)).result(10).job_id
    direct = opened.queue.enqueue(delivery(2))  # e.g. a reconcile sweep in the jobs process
    last = opened.intake.submit(delivery(3)).result(10).job_id
    assert (first, direct.job_id, last) == (first, first + 1, first + 2)
    # Commands run while the server is stopped draw from the sequence: it was moved up.
    assert opened.intake.flush(10)
    (seq,) = opened.db.fetchone("SELECT nextval('job_id_seq')")
    assert seq > 0


def test_append_sizes_group_records_by_the_append_that_wrote_them() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.jobs.feeder import append_sizes
    from bot.jobs.queue import Stored

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = [t0, t0, t0, t0 + timedelta(microseconds=1), t0 + timedelta(seconds=1)]
    stamps += [t0 + timedelta(seconds=1)]
    records = [Stored(delivery(n), n, at) for n, at in enumerate(stamps, 1)]
    assert append_sizes(records) == [3, 1, 2]
    assert append_sizes([]) == []


def test_separate_appends_read_in_one_poll_do_not_count_as_a_burst(data_dir) -> None:
    # A steady trickle (one delivery per append) that the feeder, polling from another
    # process, finds several of at once must not look like a saturated intake: the
    # workers would hold back for seconds as if a burst were on.
    db = Database.open(data_dir)
    ids = IdCounter(data_dir / IDS_NAME)
    journal = data_dir / JOURNAL_DIR
    intake = JournalIntake(journal, keys=recover(db, journal, 5, ids), ids=ids)
    for n in range(1, 11):
        assert intake.submit(delivery(n)).result(10).status == "queued"  # one append each
    queue = JobQueue(db)
    feeder = JournalFeeder(queue, journal)
    feeder.start()
    try:
        assert feeder.flush(10)
        assert count_rows(db, "jobs") == 10
        assert queue._load < 1.5  # ten batches of one, not one batch of ten
        assert not queue.intake_saturated()
    finally:
        intake.close()
        feeder.stop()
        queue.close()
        db.close()


def test_a_saturated_intake_lets_the_feeder_gather_longer_within_its_bounds(
    opened, monkeypatch
) -> None:
    feeder = opened.feeder
    saturated = {"on": False}
    monkeypatch.setattr(opened.queue, "intake_saturated", lambda: saturated["on"])
    monkeypatch.setattr(bot.jobs.feeder, "FEED_MAX_DELAY_SECONDS", 1.0)
    monkeypatch.setattr(bot.jobs.feeder, "FEED_SATURATED_MAX_DELAY_SECONDS", 10.0)
    now = bot.jobs.feeder.time.monotonic()
    assert feeder._hold(10, 1000, since=now, stopping=False)  # within the usual delay
    assert not feeder._hold(10, 1000, since=now - 2, stopping=False)  # past it
    saturated["on"] = True
    assert feeder._hold(10, 1000, since=now - 2, stopping=False)  # a burst: keep gathering
    assert not feeder._hold(10, 1000, since=now - 11, stopping=False)  # up to its own bound
    limit = bot.jobs.feeder.FEED_MAX_RECORDS
    assert not feeder._hold(limit, 1000, since=now, stopping=False)  # too many records
    size = bot.jobs.feeder.FEED_MAX_BYTES
    assert not feeder._hold(10, size, since=now, stopping=False)  # too much memory
    assert not feeder._hold(10, 1000, since=now, stopping=True)  # stopping: store now
    feeder._flush_to = (feeder._committed[0] + 1, 0)  # what flush() asks for
    assert not feeder._hold(10, 1000, since=now, stopping=False)  # someone waits: store now
