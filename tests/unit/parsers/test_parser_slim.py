"""The intake's narrow decode gives the events (and errors) of the full parse.

``parse_for_intake`` decodes only the fields a parser's ``READS`` names. These tests
hold it to :func:`bot.parsers.parse_event` on every recorded payload, on every payload
damaged one field at a time, and check that ``READS`` names every field the parsers
actually read (recorded while they parse the full payloads).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.errors import PayloadError
from bot.parsers import github, gitlab, parse_event, parse_for_intake, slim
from tests.conftest import webhook_path
from tests.unit.parsers.test_parser_fixtures import EXPECTED, header_for
from tests.unit.parsers.test_parser_robustness import _damaged

READS = {"github": github.READS, "gitlab": gitlab.READS}


def _outcome(forge: str, header: str, body: bytes, parse: Any) -> Any:
    """The event without ``raw``, or the error's type and message."""
    try:
        event = parse(forge, header, body, "delivery-1")
    except PayloadError as exc:
        return type(exc).__name__, str(exc)
    return event.model_dump(exclude={"raw"})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_parses_as_the_full_parse_does(name: str) -> None:
    forge, header = header_for(name)
    body = webhook_path(name).read_bytes()
    full = _outcome(forge, header, body, parse_event)
    assert _outcome(forge, header, body, parse_for_intake) == full


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_damaged_payload_parses_or_fails_as_the_full_parse_does(name: str) -> None:
    forge, header = header_for(name)
    payload = json.loads(webhook_path(name).read_text(encoding="utf-8"))
    differ = []
    for label, damaged in _damaged(payload):
        body = json.dumps(damaged).encode()
        full = _outcome(forge, header, body, parse_event)
        if _outcome(forge, header, body, parse_for_intake) != full:
            differ.append(label)
    assert differ == []


class _Recording(dict):
    """A JSON object that notes every key path read from it."""

    def __init__(self, data: dict[str, Any], path: tuple[str, ...], reads: set) -> None:
        super().__init__({k: _record(v, (*path, k), reads) for k, v in data.items()})
        self.path = path
        self.reads = reads

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.add((*self.path, key))
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.reads.add((*self.path, key))
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.reads.add((*self.path, str(key)))
        return super().__contains__(key)

    def __iter__(self) -> Any:
        self.reads.add((*self.path, "*"))  # every key: the whole object must be kept
        return super().__iter__()


def _record(value: Any, path: tuple[str, ...], reads: set) -> Any:
    if isinstance(value, dict):
        return _Recording(value, path, reads)
    if isinstance(value, list):
        return [_record(item, (*path, "[]"), reads) for item in value]
    return value


def _covered(reads: slim.Reads, path: tuple[str, ...]) -> bool:
    if path[-1] == "*":
        # Iterated: only an object read whole keeps all its keys.
        return slim.covers(reads, path[:-1]) and _read_whole(reads, path[:-1])
    return slim.covers(reads, path)


def _read_whole(reads: slim.Reads, path: tuple[str, ...]) -> bool:
    node: Any = reads
    for key in path:
        if node is None:
            return True
        node = node[0] if key == "[]" else node[key]
    return node is None


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_reads_name_every_field_the_parser_reads(forge: str) -> None:
    reads: set[tuple[str, ...]] = set()
    parsed = 0
    for name in sorted(EXPECTED):
        if not name.startswith(f"{forge}/"):
            continue
        _, header = header_for(name)
        payload = json.loads(webhook_path(name).read_text(encoding="utf-8"))
        try:
            parse_event(forge, header, _record(payload, (), reads))
        except PayloadError:
            continue
        parsed += 1
    assert parsed > 10
    assert sorted(p for p in reads if not _covered(READS[forge], p)) == []


def test_covers_follows_objects_arrays_and_whole_values() -> None:
    reads: slim.Reads = {"a": {"b": None}, "c": [{"d": None}], "e": None}
    assert slim.covers(reads, ("a", "b"))
    assert slim.covers(reads, ("c", "[]", "d"))
    assert slim.covers(reads, ("e", "anything", "below"))
    assert not slim.covers(reads, ("a", "x"))
    assert not slim.covers(reads, ("c", "[]", "x"))
    assert not slim.covers(reads, ("z",))


def test_decode_keeps_absent_apart_from_null_and_skips_the_rest() -> None:
    dec = slim.decoder({"a": {"b": None}, "n": None, "l": [{"name": None}]})
    body = b'{"a":{"b":1,"skip":2},"n":null,"l":[{"name":"x","id":3},"y"],"big":{"k":[1]}}'
    assert slim.decode(dec, body) == {"a": {"b": 1}, "n": None, "l": [{"name": "x"}, "y"]}
    assert slim.decode(dec, b"{}") == {}
    assert slim.decode(dec, b'{"a":null}') == {"a": None}


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b"not json",
        b"\xff\xfe",
        b'{"action": "created", "issue": "not an object"}',
        b'{"action": "created", "issue": {"number": "1"}, "comment": {"id": 1}}',
        b'{"action": "created", "issue": {"number": 1, "labels": [7]}, "comment": {"id": 1}}',
    ],
)
def test_a_refused_body_gets_the_full_parse_error(body: bytes) -> None:
    full = _outcome("github", "issue_comment", body, parse_event)
    assert isinstance(full, tuple), "the full parse must refuse this body"
    assert _outcome("github", "issue_comment", body, parse_for_intake) == full


def test_the_event_keeps_only_the_fields_read() -> None:
    body = webhook_path("github", "issue_comment.created.variant-1.json").read_bytes()
    event = parse_for_intake("github", "issue_comment", body, "d-1")
    assert set(event.raw) <= set(github.READS)
    assert "url" not in event.raw["issue"]
    assert event.raw["issue"]["number"] == event.number
