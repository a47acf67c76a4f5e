"""``agentforge audit``: check (and read) the hash-chained audit log.

``audit verify`` exits 0 when every row checks out and 1 naming the first bad row
otherwise; it also checks the anchor (``audit.anchor`` beside the records), so deleting
or rewriting the newest rows is reported with the rows that are missing, and with
``--forge-repo`` the audit head the bot's commits on the forge carry
(:mod:`bot.audit_forge`). ``audit
export`` writes the rows as JSON lines. The records are opened read-only (see
:mod:`bot.commands.stats`); while ``agentforge serve`` holds them, ``audit verify``
asks its admin API (``GET /admin/audit/verify``) instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
@click.option(
    "--forge-repo",
    "forge_repos",
    multiple=True,
    help="Also check the audit head recorded in this repository's commits on the forge "
    "(Agentforge-Audit trailers); repeatable.",
)
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "gitlab", "local"]),
    default="github",
    show_default=True,
    help="The forge of --forge-repo.",
)
@url_option
@click.pass_context
def verify(
    ctx: click.Context,
    data_dir: Path | None,
    as_json: bool,
    forge_repos: tuple[str, ...],
    forge_name: str,
    url: str,
) -> None:
    """Check every row's hash and link; exit 1 naming the first tampered row.

    With --forge-repo, also check that the newest audit row each repository's commits
    recorded is still in the log with that hash (deleted newest rows are found even
    when the anchor file beside the records was rewritten too)."""
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
    checks = _forge_checks(directory, forge_name, forge_repos) if forge_repos else []
    if as_json:
        out = result.model_dump()
        if forge_repos:
            out["forge"] = [
                {"repo": c.repo, "ok": c.ok, "reason": c.reason, "message": c.message}
                for c in checks
            ]
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        if result.ok:
            click.echo(f"{result.rows} rows verified; head hash {result.head_hash}")
        else:
            where = f" at row {result.first_bad_seq}" if result.first_bad_seq is not None else ""
            click.echo(f"audit log BROKEN{where} ({result.reason}): {result.message}", err=True)
        for found in checks:
            if found.ok:
                click.echo(f"forge anchor ok: {found.message}")
            else:
                click.echo(f"forge anchor BROKEN ({found.reason}): {found.message}", err=True)
    if not result.ok or not all(c.ok for c in checks):
        ctx.exit(1)


def _forge_checks(directory: Path, forge_name: str, repos: tuple[str, ...]) -> list:
    """The forge anchor of each repository checked against the records (a fresh clone
    of each; see :mod:`bot.audit_forge`)."""
    from bot import audit_forge
    from bot.errors import AgentForgeError
    from bot.forges import make_forge
    from bot.settings import load_settings
    from bot.store.audit import AuditLog
    from bot.store.db import Database

    forge = make_forge(forge_name, load_settings())
    out = []
    with Database.open_readonly(directory) as db:
        log = AuditLog(db, anchor=None)
        for repo in repos:
            try:
                anchor = audit_forge.read_anchor(forge.clone_url(repo), repo)
            except AgentForgeError as exc:
                out.append(
                    audit_forge.ForgeCheck(
                        repo, False, f"reading {repo}'s commits: {exc}", "anchor_missing"
                    )
                )
                continue
            out.append(audit_forge.check(log, anchor, forge=forge.name, repo=repo))
    return out


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


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2026-05-01 or 2026-05-01T12:00:00Z)",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@audit.command("export")
@data_dir_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the JSON lines to this file (default: standard output).",
)
@click.option("--since", default=None, help="Only rows at or after this ISO 8601 time.")
def export(data_dir: Path | None, out: Path | None, since: str | None) -> None:
    """Write the audit rows as JSON lines (seq, at, actor, action, subject, detail,
    prev_hash, hash), oldest first; a reader can re-check every hash."""
    from bot.store.audit import AuditLog
    from bot.store.db import Database

    start = _since(since)
    written = 0
    with Database.open_readonly(resolve_data_dir(data_dir)) as db:
        log = AuditLog(db)
        handle = out.open("w", encoding="utf-8") if out is not None else None
        try:
            after = 0
            while rows := log.entries(after_seq=after, limit=1000):
                for row in rows:
                    after = row.seq
                    if start is not None and row.at < start:
                        continue
                    line = row.model_dump_json()
                    if handle is not None:
                        handle.write(line + "\n")
                    else:
                        click.echo(line)
                    written += 1
        finally:
            if handle is not None:
                handle.close()
    if out is not None:
        click.echo(f"{written} rows written to {out}", err=True)
