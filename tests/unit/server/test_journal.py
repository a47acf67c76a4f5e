"""The intake journal: durable before the answer, atomic dedupe, idempotent replay, torn tails."""

from __future__ import annotations

import pytest

from bot.errors import QueueUnavailable, StoreError
from bot.intake.journal import JOURNAL_NAME, JournalIntake, read_records
from bot.jobs.queue import Delivery, JobQueue, count_rows
from bot.store.db import Database


def delivery(n: int, content: str | None = None) -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name="issue_comment",
        payload=b'{"n": %d}\n\x00binary-safe' % n,
        content_key=content if content is not None else f"c{n}",
        subject=f"github:acme/app:issue:{n}",
        repo="acme/app",
        kind="issue_comment",
        action="created",
        headers={"x-github-delivery": f"d{n}"},
    )


def unavailable(records: list) -> int:
    """Stands in for JobQueue.store while DuckDB cannot be written."""
    raise StoreError(f"records database unavailable ({len(records)} records)")


class Opened:
    """A data directory opened the way the server opens it: database, queue, journal."""

    def __init__(self, data_dir) -> None:
        self.db = Database.open(data_dir)
        self.queue = JobQueue(self.db)
        self.intake = JournalIntake(self.queue, data_dir / JOURNAL_NAME)

    def crash(self) -> None:
        """Stop without feeding or emptying the journal (what SIGKILL leaves behind)."""
        self.intake._closed = True
        self.intake._pending.put(None)
        self.intake._writer.join(5)
        self.intake._feeder.join(5)
        self.queue.close()
        self.db.close()

    def close(self) -> None:
        self.intake.close()
        self.queue.close()
        self.db.close()


@pytest.fixture
def opened(data_dir):
    o = Opened(data_dir)
    yield o
    if not o.intake._closed:
        o.close()


def test_acknowledged_delivery_is_in_the_journal_then_in_the_queue(opened, data_dir) -> None:
    result = opened.intake.submit(delivery(1)).result(10)
    assert result.status == "queued"
    # On disk before the answer: the journal already holds it, byte for byte.
    records, _ = read_records(data_dir / JOURNAL_NAME)
    assert [(r.delivery, r.job_id) for r in records] == [(delivery(1), result.job_id)]
    assert opened.intake.flush(10)
    row = opened.db.fetchone(
        "SELECT payload, state, subject FROM jobs WHERE id = ?", [result.job_id]
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
    assert (data_dir / JOURNAL_NAME).stat().st_size == 0  # everything fed: emptied
    second = Opened(data_dir)
    try:
        assert second.intake.submit(delivery(1)).result(10).status == "duplicate"
        fresh = second.intake.submit(delivery(2)).result(10)
        assert fresh.status == "queued" and fresh.job_id > job_id
    finally:
        second.close()


def test_crash_before_feeding_is_replayed_once(data_dir) -> None:
    first = Opened(data_dir)
    first.queue.store = unavailable
    ids = [first.intake.submit(delivery(n)).result(10).job_id for n in range(3)]
    first.crash()
    assert len(read_records(data_dir / JOURNAL_NAME)[0]) == 3
    second = Opened(data_dir)
    try:
        rows = second.db.fetchall("SELECT id, delivery_id FROM jobs ORDER BY id")
        assert rows == [(ids[n], f"d{n}") for n in range(3)]  # same job ids as answered
        assert second.intake.submit(delivery(0)).result(10).status == "duplicate"
    finally:
        second.close()
    third = Opened(data_dir)  # replaying again (journal emptied or not) adds nothing
    try:
        assert count_rows(third.db, "jobs") == 3 and count_rows(third.db, "deliveries") == 3
    finally:
        third.close()


def test_records_already_fed_are_skipped_at_replay(data_dir) -> None:
    first = Opened(data_dir)
    first.intake.submit(delivery(1)).result(10)
    assert first.intake.flush(10)
    first.crash()  # fed, but the journal was not emptied
    assert len(read_records(data_dir / JOURNAL_NAME)[0]) == 1
    second = Opened(data_dir)
    try:
        assert count_rows(second.db, "jobs") == 1
    finally:
        second.close()


@pytest.mark.parametrize("cut", [1, 5, 9, -1])
def test_torn_tail_is_cut_off_and_earlier_records_kept(data_dir, cut) -> None:
    first = Opened(data_dir)
    first.queue.store = unavailable
    kept = first.intake.submit(delivery(1)).result(10).job_id
    first.intake.submit(delivery(2)).result(10)
    first.crash()
    path = data_dir / JOURNAL_NAME
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
    first.crash()
    path = data_dir / JOURNAL_NAME
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # the checksum no longer matches
    path.write_bytes(bytes(data))
    assert read_records(path) == ([], 0)


def test_closed_intake_refuses_new_deliveries(opened) -> None:
    opened.close()
    with pytest.raises(QueueUnavailable):
        opened.intake.submit(delivery(1)).result(10)


class BusyIntake:
    """Marks intake as busy without pause, the way a long burst of webhooks does."""

    def __init__(self, queue: JobQueue) -> None:
        import threading

        self.queue = queue
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.queue.intake_seen()
            self.stop.wait(0.001)

    def __enter__(self) -> BusyIntake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_feeding_waits_for_a_pause_in_intake_but_not_forever(opened) -> None:
    with BusyIntake(opened.queue):
        assert not opened.queue.intake_quiet()
        assert not opened.queue.wait_intake_idle(0.05)
        result = opened.intake.submit(delivery(1)).result(10)
        # Intake never pauses here: the feeder's delay bound still gets it stored.
        assert opened.intake.flush(10)
    assert opened.queue.wait_intake_idle(10)
    assert opened.queue.intake_quiet()
    assert opened.db.fetchone("SELECT state FROM jobs WHERE id = ?", [result.job_id]) == ("queued",)


def test_feeding_gathers_records_while_intake_is_busy(opened, monkeypatch) -> None:
    import bot.intake.journal

    monkeypatch.setattr(bot.intake.journal, "FEED_MAX_DELAY_SECONDS", 60.0)
    batches: list[int] = []
    store = opened.queue.store

    def counting(records: list) -> int:
        batches.append(len(records))
        return store(records)

    monkeypatch.setattr(opened.queue, "store", counting)
    with BusyIntake(opened.queue):
        for n in range(1, 41):
            assert opened.intake.submit(delivery(n)).result(10).status == "queued"
        # Acknowledged (on disk in the journal), but not written to DuckDB mid-burst.
        assert not opened.intake.flush(0.2)
        assert batches == []
    assert opened.intake.flush(10)
    assert batches == [40]
    assert count_rows(opened.db, "jobs") == 40


class Saturation:
    """Stands in for JobQueue.intake_saturated: a burst that the test switches off."""

    def __init__(self) -> None:
        self.on = True

    def __call__(self) -> bool:
        return self.on


def test_feeding_waits_out_a_saturated_burst(opened, monkeypatch) -> None:
    import bot.intake.journal

    # Outside a burst these would store every record at once.
    monkeypatch.setattr(bot.intake.journal, "FEED_MAX_DELAY_SECONDS", 0.0)
    monkeypatch.setattr(bot.intake.journal, "FEED_MAX_RECORDS", 1)
    saturated = Saturation()
    monkeypatch.setattr(opened.queue, "intake_saturated", saturated)
    for n in range(1, 31):
        assert opened.intake.submit(delivery(n)).result(10).status == "queued"
    assert not opened.intake.flush(0.2)
    assert count_rows(opened.db, "jobs") == 0
    saturated.on = False
    assert opened.intake.flush(10)
    assert count_rows(opened.db, "jobs") == 30


@pytest.mark.parametrize(
    ("bound", "value"), [("FEED_SATURATED_DELAY_SECONDS", 0.05), ("FEED_SATURATED_BYTES", 100)]
)
def test_a_saturated_burst_delays_feeding_only_within_bounds(
    opened, monkeypatch, bound: str, value: float
) -> None:
    import bot.intake.journal

    monkeypatch.setattr(bot.intake.journal, bound, value)
    monkeypatch.setattr(opened.queue, "intake_saturated", Saturation())
    for n in range(1, 6):
        assert opened.intake.submit(delivery(n)).result(10).status == "queued"
    # Intake never stops being saturated here: the bound still gets the records stored.
    assert opened.intake.flush(10)
    assert count_rows(opened.db, "jobs") == 5


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
    first.crash()  # acknowledged, journaled, maybe not fed yet
    second = Opened(data_dir)
    ids.append(second.intake.submit(delivery(3)).result(10).job_id)
    assert second.intake.flush(10)
    stored = [r[0] for r in second.db.fetchall("SELECT id FROM jobs ORDER BY id")]
    second.close()
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    assert stored == ids  # the replayed jobs kept their ids; the new one is the next
