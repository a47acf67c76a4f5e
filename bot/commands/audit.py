"""``agentforge audit``: check (and read) the hash-chained audit log.

``audit verify`` exits 0 when every row checks out and 1 naming the first bad row
otherwise. The records are opened read-only; while ``agentforge serve`` holds them,
``audit verify`` asks its admin API (``GET /admin/audit/verify``) instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.commands._admin import admin_request, holder_of, url_option
from bot.commands.stats import data_dir_option, resolve_data_dir


@click.group("audit")
def audit() -> None:
    """Verify and read the hash-chained audit log."""


@audit.command("verify")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@url_option
@click.pass_context
def verify(ctx: click.Context, data_dir: Path | None, as_json: bool, url: str) -> None:
    """Check every row's hash and link; exit 1 naming the first tampered row."""
    from bot.settings import load_settings
    from bot.store.audit import AuditLog, VerifyResult
    from bot.store.db import Database

    directory = resolve_data_dir(data_dir)
    holder = holder_of(directory, url)
    if holder is not None:
        answer = admin_request(load_settings(), url, holder, "GET", "/admin/audit/verify")
        result = VerifyResult.model_validate(answer)
    else:
        with Database.open_readonly(directory) as db:
            result = AuditLog(db).verify()
    if as_json:
        click.echo(json.dumps(result.model_dump(), indent=2, sort_keys=True))
    elif result.ok:
        click.echo(f"{result.rows} rows verified; head hash {result.head_hash}")
    else:
        click.echo(
            f"audit log BROKEN at row {result.first_bad_seq} ({result.reason}): {result.message}",
            err=True,
        )
    if not result.ok:
        ctx.exit(1)


@audit.command("log")
@data_dir_option
@click.option(
    "--after", "after_seq", type=click.IntRange(min=0), default=0, help="Start after seq."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def log(data_dir: Path | None, after_seq: int, limit: int, as_json: bool) -> None:
    """Print audit rows, oldest first."""
    from bot.store.audit import AuditLog
    from bot.store.db import Database

    with Database.open_readonly(resolve_data_dir(data_dir)) as db:
        rows = AuditLog(db).entries(after_seq=after_seq, limit=limit)
    for row in rows:
        if as_json:
            click.echo(row.model_dump_json())
        else:
            detail = json.dumps(row.detail, sort_keys=True) if row.detail is not None else ""
            click.echo(
                f"{row.seq:>6}  {row.at.isoformat(timespec='seconds')}  {row.actor}  "
                f"{row.action}  {row.subject or '-'}  {detail}"
            )
