"""Webhook payload parsers: forge event name + raw body → :class:`bot.events.Event`.

One module per forge, one registry line each. A parser never raises for an event it
does not know: it returns an ``ignored`` event with a reason. It raises
:class:`bot.errors.MalformedPayload` for bodies that are not UTF-8 JSON objects and
:class:`bot.errors.PayloadShapeError` when a known event lacks a field it needs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from bot.errors import MalformedPayload, PayloadError
from bot.events import Event

Parser = Callable[[str, dict[str, Any], str | None], Event]
"""(event name, decoded payload, delivery id) -> Event."""


@functools.cache
def _registry() -> dict[str, Parser]:
    from bot.parsers import github, gitlab, local

    return {"github": github.parse, "gitlab": gitlab.parse, "local": local.parse}


@functools.cache
def _webhook_reads() -> dict[str, Any]:
    """Per forge whose parser module states ``READS``, the decoder of those fields."""
    import sys

    from bot.parsers import slim

    modules = {forge: sys.modules[parse.__module__] for forge, parse in _registry().items()}
    return {
        forge: slim.decoder(module.READS)
        for forge, module in modules.items()
        if hasattr(module, "READS")
    }


@functools.cache
def _reconcile() -> tuple[str, Callable[..., Event]]:
    from bot.jobs.reconcile import RECONCILE_EVENT, parse_reconcile

    return RECONCILE_EVENT, parse_reconcile


@functools.cache
def _decoder() -> Any:
    import msgspec.json

    return msgspec.json.Decoder()


def decode_body(body: bytes | str) -> dict[str, Any]:
    """Decode a webhook body into a JSON object, or raise :class:`MalformedPayload`.

    msgspec decodes first (half the time of ``json.loads`` on a 12 KB payload, integers
    of any size kept exact); what it refuses but the standard library reads (a lone
    surrogate escape, ``NaN``, a UTF-16 body, a number past the float range) goes
    through ``json.loads``, which also words the error for a body that is not JSON.
    """
    if isinstance(body, bytes):
        import msgspec  # here: the CLI's start-up never pays for it

        try:
            data = _decoder().decode(body)
        except msgspec.MsgspecError:
            pass
        else:
            if not isinstance(data, dict):
                raise MalformedPayload(f"payload must be a JSON object, got {type(data).__name__}")
            return data
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(
                f"payload is not UTF-8 (invalid byte at offset {exc.start})"
            ) from None
    else:
        text = body
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedPayload(
            f"payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise MalformedPayload(f"payload must be a JSON object, got {type(data).__name__}")
    return data


def parse_event(
    forge: str,
    event_name: str,
    body: bytes | str | dict[str, Any],
    delivery_id: str | None = None,
) -> Event:
    """Parse one delivery.

    Args:
        forge: ``github``, ``gitlab`` or ``local`` (a local forge's stored event).
        event_name: The ``X-GitHub-Event`` / ``X-Gitlab-Event`` header value (for
            ``local``: the event's kind).
        body: The raw body (bytes or str) or an already-decoded JSON object.
        delivery_id: ``X-GitHub-Delivery`` / GitLab ``Idempotency-Key`` if known.

    Raises:
        PayloadError: unknown forge, or a body that cannot be an event of that name.
    """
    parsers = _registry()
    if forge not in parsers:
        raise PayloadError(f"unknown forge {forge!r}; expected one of {', '.join(parsers)}")
    payload = body if isinstance(body, dict) else decode_body(body)
    reconcile_event, parse_reconcile = _reconcile()
    if event_name == reconcile_event:  # the bot's own sweep job, never from a webhook
        return parse_reconcile(forge, payload, delivery_id)
    return parsers[forge](event_name, payload, delivery_id)


def parse_for_intake(
    forge: str, event_name: str, body: bytes, delivery_id: str | None = None
) -> Event:
    """:func:`parse_event` of a webhook body, decoding only the fields the parser reads.

    Gives the event :func:`parse_event` gives, or raises the error it raises, except
    that ``raw`` holds only the fields the parser read (see :mod:`bot.parsers.slim`):
    for the intake, which classifies a delivery and keeps its body, not the event.
    A body the narrow decode refuses, and an event the parser refuses from it, go
    through :func:`parse_event`, whose answer (and error wording) is the one given.

    Raises:
        PayloadError: as :func:`parse_event`.
    """
    decoder = _webhook_reads().get(forge)
    if decoder is None or event_name == _reconcile()[0]:
        return parse_event(forge, event_name, body, delivery_id)
    import msgspec

    from bot.parsers import slim

    try:
        payload = slim.decode(decoder, body)
    except msgspec.MsgspecError:
        return parse_event(forge, event_name, body, delivery_id)
    try:
        return _registry()[forge](event_name, payload, delivery_id)
    except PayloadError:
        return parse_event(forge, event_name, body, delivery_id)
