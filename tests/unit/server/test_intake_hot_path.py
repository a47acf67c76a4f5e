"""The intake's hot path: checksums and HMAC that keep the GIL, payload decoding with its
standard-library fallback, and journal appends grouped per round of the event loop."""

from __future__ import annotations

import asyncio
import hmac
import json
import zlib

import pytest

from bot.errors import MalformedPayload, QueueUnavailable
from bot.intake.journal import JOURNAL_DIR, JournalIntake, crc32, read_records, segments
from bot.intake.verify import hmac_sha256
from bot.jobs.ids import IDS_NAME, IdCounter
from bot.jobs.queue import Delivery
from bot.parsers import decode_body

SIZES = (0, 1, 2046, 2047, 2048, 4095, 4096, 4097, 5121, 12_000, 100_003)


@pytest.mark.parametrize("size", SIZES)
def test_hmac_in_pieces_is_the_one_shot_hmac(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    for key in (b"k", b"a-longer-webhook-secret-0123456789", b"x" * 100):
        assert hmac_sha256(key, data) == hmac.digest(key, data, "sha256")


@pytest.mark.parametrize("size", SIZES)
def test_crc_in_pieces_is_zlib_crc(size: int) -> None:
    data = bytes((i * 7) % 256 for i in range(size))
    assert crc32(data) == zlib.crc32(data)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 18446744073709551616, "neg": -9223372036854775809}',
        b'{"text": "\\ud800 lone surrogate"}',
        b'{"x": NaN, "y": Infinity}',
        b'{"big": 1e400}',
        b'{"a": 1, "a": 2}',
        '{"caf\u00e9": "\u00fc"}'.encode(),
        b'  {"nested": {"list": [1, 2.5, "x", null, false]}}  ',
    ],
)
def test_decoding_reads_what_the_standard_library_reads(body: bytes) -> None:
    decoded = decode_body(body)
    expected = json.loads(body)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "payload must be a JSON object, got list"),
        (b'"text"', "payload must be a JSON object, got str"),
        (b"true", "payload must be a JSON object, got bool"),
        (b'{"a": 1', "payload is not valid JSON: Expecting ',' delimiter at line 1 column 8"),
        (b"", "payload is not valid JSON: Expecting value at line 1 column 1"),
        (b'{"a": "\xff"}', "payload is not UTF-8 (invalid byte at offset 7)"),
        ('{"utf16": true}'.encode("utf-16"), "payload is not UTF-8 (invalid byte at offset 0)"),
        (
            b'\xef\xbb\xbf{"bom": 1}',
            "payload is not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) "
            "at line 1 column 1",
        ),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        decode_body(body)
    assert str(caught.value) == message


def _delivery(n: int) -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=f"d{n}",
        event_name="issues",
        payload=b'{"n": %d}' % n,
        content_key=f"c{n}",
        subject=f"github:acme/app:issue:{n}",
        repo="acme/app",
        kind="issue",
        action="opened",
    )


@pytest.fixture
def intake(tmp_path):
    ids = IdCounter(tmp_path / IDS_NAME)
    journal = JournalIntake(tmp_path / JOURNAL_DIR, keys=set(), ids=ids)
    yield journal
    journal.close()
    ids.close()


def test_deliveries_of_one_loop_round_share_one_append(intake, monkeypatch) -> None:
    appends: list[int] = []
    real = intake._append
    monkeypatch.setattr(intake, "_append", lambda data: (appends.append(len(data)), real(data)))

    async def round_of(first: int, count: int) -> list:
        futures = [intake.submit_async(_delivery(n)) for n in range(first, first + count)]
        return await asyncio.gather(*futures)

    results = asyncio.run(round_of(0, 25))
    assert [r.status for r in results] == ["queued"] * 25
    assert [r.job_id for r in results] == list(range(results[0].job_id, results[0].job_id + 25))
    assert len(appends) == 1
    results = asyncio.run(round_of(25, 3))
    assert len(appends) == 2 and all(r.status == "queued" for r in results)
    records = [r for path in segments(intake.directory) for r in read_records(path)[0]]
    assert [r.delivery.delivery_id for r in records] == [f"d{n}" for n in range(28)]


def test_a_duplicate_is_answered_before_the_loop_turns(intake) -> None:
    async def scenario() -> tuple:
        first = intake.submit_async(_delivery(1))
        again = intake.submit_async(_delivery(1))
        done_at_once = again.done()
        return done_at_once, (await again).status, (await first).status

    assert asyncio.run(scenario()) == (True, "duplicate", "queued")


def test_a_failed_append_fails_its_batch_and_forgets_its_keys(intake, monkeypatch) -> None:
    real = intake._append
    calls: list[int] = []

    def failing_once(data: bytes) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real(data)

    monkeypatch.setattr(intake, "_append", failing_once)

    async def submit(ns: range) -> list:
        futures = [intake.submit_async(_delivery(n)) for n in ns]
        return await asyncio.gather(*futures, return_exceptions=True)

    failed = asyncio.run(submit(range(3)))
    assert all(isinstance(f, QueueUnavailable) for f in failed)
    assert "No space left on device" in str(failed[0]) and not intake.healthy
    # The forge redelivers: the same deliveries are new again, and now stored.
    retried = asyncio.run(submit(range(3)))
    assert [r.status for r in retried] == ["queued"] * 3
    assert intake.healthy


def test_a_caller_off_the_loop_is_appended_at_once(intake) -> None:
    assert intake.submit(_delivery(7)).result(10).status == "queued"
    assert intake.submit(_delivery(7)).result(10).status == "duplicate"
