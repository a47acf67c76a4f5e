"""``agentforge parse-event``: show how the bot reads one webhook payload.

Useful to check a captured delivery (from the forge's "Recent deliveries" page) before
a handler sees it. Imports only the parsers and pydantic, so it starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.errors import PayloadError


def _read(file: str) -> bytes:
    if file == "-":
        return click.get_binary_stream("stdin").read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise click.UsageError(f"cannot read payload file {file}: {reason}") from None


@click.command("parse-event")
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab"]),
    required=True,
    help="Which forge sent the payload.",
)
@click.option(
    "--event",
    "event_name",
    required=True,
    metavar="NAME",
    help='The X-GitHub-Event / X-Gitlab-Event header, e.g. "issues" or "Note Hook".',
)
@click.option("--delivery-id", default=None, help="The delivery id header, if known.")
@click.option("--raw", is_flag=True, help="Include the payload itself in the output.")
@click.argument("file")
def parse_event(forge: str, event_name: str, delivery_id: str | None, raw: bool, file: str) -> None:
    """Print FILE (a webhook body; "-" for stdin) as one normalised event, in JSON.

    Exits with status 2 when the file cannot be read or is not a valid payload for
    the event.
    """
    from bot.parsers import parse_event as parse

    body = _read(file)
    where = "<stdin>" if file == "-" else file
    try:
        event = parse(forge, event_name, body, delivery_id)
    except PayloadError as exc:
        # Same class, so callers (and main's exit status) still see what went wrong.
        raise type(exc)(f"{where}: {exc}") from None
    out = event.summary()
    if raw:
        out["raw"] = event.raw
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))
