"""Local forge events: a stored outbox event back into an :class:`Event`.

The local forge already writes forge-neutral events (see :mod:`bot.forges.local`): its
outbox holds each one as the JSON of :meth:`Event.model_dump_json`. A delivery from the
local forge (the ``serve`` feed, or ``agentforge run --forge local``) carries that JSON
as its body and the event's kind as its event name, so this parser only validates it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bot.errors import PayloadShapeError
from bot.events import Event, ForgeKind


def parse(event_name: str, payload: dict[str, Any], delivery_id: str | None) -> Event:
    """The event a local forge stored.

    Args:
        event_name: The event's kind as the local forge names it (``issue``...).
        payload: The stored event's JSON.
        delivery_id: The delivery id to carry (the stored event's own id if None).

    Raises:
        PayloadShapeError: the JSON is not a local forge event, or not of ``event_name``.
    """
    try:
        event = Event.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise PayloadShapeError(
            f"local event: field {where}: {first['msg']} ({exc.error_count()} problem(s))"
        ) from None
    if event.forge != ForgeKind.LOCAL:
        raise PayloadShapeError(f"local event: forge is {event.forge.value!r}, not 'local'")
    if event_name and event_name != event.event_name:
        raise PayloadShapeError(
            f"local event: the body is a {event.event_name!r} event, not {event_name!r}"
        )
    return event.model_copy(update={"delivery_id": delivery_id or event.delivery_id})
