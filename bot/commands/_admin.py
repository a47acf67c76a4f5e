"""Asking a running server's admin API, for the commands whose records it holds.

DuckDB lets one process open a data directory, so while ``agentforge serve`` runs,
``agentforge jobs``, ``stats`` and ``audit verify`` send their question to its read-only
admin endpoints (:mod:`bot.intake.server_admin`) instead of opening the records, and say so on
stderr. ``AGENTFORGE_ADMIN_TOKEN`` is sent as the bearer token when set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8080"

url_option = click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    envvar="AGENTFORGE_SERVER_URL",
    help="The running server to ask when the data directory is in use.",
)
"""The shared ``--url`` option of the commands that can ask a running server."""


def holder_of(data_dir: Path, url: str) -> int | None:
    """The pid of the server holding ``data_dir`` (announced on stderr), or None."""
    from bot.store.db import writer_pid

    holder = writer_pid(data_dir)
    if holder is not None:
        click.echo(
            f"{data_dir} is in use by process {holder} (agentforge serve); "
            f"asking it at {url.rstrip('/')}/admin",
            err=True,
        )
    return holder


def admin_request(
    settings: Any,
    url: str,
    holder: int | None,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
) -> Any:
    """One admin API call; its JSON answer.

    Raises:
        StoreLocked: the server holding the data directory did not answer at ``url``.
        click.ClickException: it answered with an error status (its reason is shown).
    """
    import httpx

    from bot.errors import StoreLocked

    headers = {}
    if settings.admin_token is not None:
        headers["authorization"] = f"Bearer {settings.admin_token.get_secret_value()}"
    base = url.rstrip("/")
    try:
        resp = httpx.request(method, f"{base}{path}", params=params, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise StoreLocked(
            f"the data directory is in use by process {holder}, and its admin "
            f"API at {base} did not answer ({type(exc).__name__}); pass --url"
        ) from None
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise click.ClickException(f"server answered {resp.status_code}: {detail}")
    return resp.json()
