"""The event a server hands to a CI run (``dispatch: {mode: ci}``), and its signature.

The server sends the normalised :class:`~bot.events.Event` as JSON (no raw payload:
the forge's own body can be larger than a dispatch may carry) together with an
HMAC-SHA256 of that text under ``AGENTFORGE_DISPATCH_SECRET``. ``agentforge run`` in
the CI job verifies the signature with the same secret before it acts: anyone who may
start the workflow by hand could otherwise hand the bot an event they wrote (an
``/approve`` "by" a maintainer). Both sides use this module.

Where the CI job finds it: GitHub ``workflow_dispatch`` inputs ``event``, ``signature``
and ``dispatch_id``; GitLab trigger variables ``AGENTFORGE_EVENT``,
``AGENTFORGE_EVENT_SIGNATURE`` and ``AGENTFORGE_DISPATCH_ID``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import ValidationError

from bot.errors import DispatchError, MalformedPayload, SettingsError, VerificationError
from bot.events import Event

MAX_EVENT_CHARS = 60_000
"""Largest event text sent (GitHub caps a dispatch's inputs at 65,535 characters)."""


def sign(secret: str, text: str) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of a dispatched event's text."""
    return "sha256=" + hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def event_text(event: Event) -> str:
    """The event as the JSON a CI run receives (no raw payload; trimmed to fit).

    Raises:
        DispatchError: even without the issue's title and body (which the handlers
            re-read from the forge) the event is over :data:`MAX_EVENT_CHARS`.
    """
    data = event.model_dump(mode="json", exclude={"raw"})
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    for field in ("body", "title"):
        if len(text) <= MAX_EVENT_CHARS:
            return text
        data[field] = None
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_EVENT_CHARS:
        raise DispatchError(
            f"the event is {len(text)} characters as JSON, over the {MAX_EVENT_CHARS} a CI "
            "dispatch can carry (a very long comment?): handle this repository on the server"
        )
    return text


def workflow_dispatch_inputs(body: bytes) -> tuple[str, str] | None:
    """(event text, signature) from a ``workflow_dispatch`` payload the server caused;
    None for one started by hand (no ``event`` input).

    Raises:
        MalformedPayload: the payload is not a JSON object.
    """
    from bot.parsers import decode_body

    inputs = decode_body(body).get("inputs")
    if not isinstance(inputs, dict) or not isinstance(inputs.get("event"), str):
        return None
    return inputs["event"], str(inputs.get("signature") or "")


def decode(
    text: str, signature: str | None, secret: str | None, *, source: str, forge: str
) -> Event:
    """The dispatched event, once its signature checks out.

    Args:
        text: The event JSON as received.
        signature: The ``sha256=...`` that came with it.
        secret: ``AGENTFORGE_DISPATCH_SECRET`` of this CI job.
        source: Where the event came from, for messages (``the workflow_dispatch inputs``).
        forge: The forge this CI job runs on (the event must be from it).

    Raises:
        SettingsError: this job has no dispatch secret.
        VerificationError: the signature is missing or does not match.
        MalformedPayload: the text is not an event.
    """
    if not secret:
        raise SettingsError(
            f"{source} carry an AgentForge event: set the CI secret AGENTFORGE_DISPATCH_SECRET "
            "(the server's value) so that it can be verified",
            variable="AGENTFORGE_DISPATCH_SECRET",
        )
    if not hmac.compare_digest(sign(secret, text), signature or ""):
        raise VerificationError(
            f"{source}: the event's signature does not match AGENTFORGE_DISPATCH_SECRET "
            "(not sent by the AgentForge server, or the secrets differ); nothing was done"
        )
    try:
        event = Event.model_validate_json(text)
    except ValidationError as exc:
        raise MalformedPayload(
            f"{source}: the signed event is not an AgentForge event: {exc}"
        ) from None
    if event.forge.value != forge:
        raise SettingsError(f"{source}: the event is from {event.forge.value}, not {forge}")
    return event
