"""No payload, however mangled, makes a parser fail with anything but PayloadShapeError.

Each recorded fixture is damaged one field at a time (first and second level): the
field is removed, set to null, or replaced by a value of another JSON type. The
parser must then either still produce an Event or raise PayloadShapeError; a
KeyError, TypeError or pydantic ValidationError would be a bug.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.errors import PayloadShapeError
from bot.events import Event
from bot.parsers import parse_event
from tests.conftest import webhook_path
from tests.unit.parsers.test_parser_fixtures import EXPECTED, header_for

REPLACEMENTS: list[Any] = [None, 7, "text", [1], {"k": "v"}, True]


def _damaged(payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in payload.items():
        removed = copy.deepcopy(payload)
        del removed[key]
        yield f"-{key}", removed
        for replacement in REPLACEMENTS:
            changed = copy.deepcopy(payload)
            changed[key] = replacement
            yield f"{key}={replacement!r}", changed
        if isinstance(value, dict):
            for inner in value:
                for replacement in [*REPLACEMENTS, "<drop>"]:
                    changed = copy.deepcopy(payload)
                    if replacement == "<drop>":
                        del changed[key][inner]
                    else:
                        changed[key][inner] = replacement
                    yield f"{key}.{inner}={replacement!r}", changed


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_damaged_payloads_parse_or_raise_shape_errors(name: str) -> None:
    forge, header = header_for(name)
    payload = json.loads(webhook_path(name).read_text(encoding="utf-8"))
    unnamed = []
    for label, damaged in _damaged(payload):
        try:
            event = parse_event(forge, header, damaged)
        except PayloadShapeError as exc:
            message = str(exc)
            if header not in message:
                unnamed.append((label, message))
        else:
            assert isinstance(event, Event), label
    assert unnamed == [], "shape errors must name the event"
