"""``agentforge jobs list|show|retry``: inspect and retry the durable queue.

When no server runs, the records are opened directly. While ``agentforge serve`` holds
the data directory (DuckDB allows one process), the command asks that server's admin API
instead (``--url``, with ``AGENTFORGE_ADMIN_TOKEN`` if set) and says so on stderr.
"""

from __future__ import annotations

import json
from typing import Any

import click

from bot.commands._admin import admin_request, holder_of, url_option

STATE_CHOICES = ("queued", "running", "done", "failed", "dead")


class _Access:
    """Either the local records (no server running) or the server's admin API."""

    def __init__(self, url: str) -> None:
        from bot.settings import load_settings

        self.settings = load_settings()
        self.url = url.rstrip("/")
        self.holder = holder_of(self.settings.data_dir, self.url)

    def _http(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        return admin_request(self.settings, self.url, self.holder, method, path, params)

    # --- operations

    def list(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        if self.holder is not None:
            params: dict[str, Any] = {"limit": limit}
            if state:
                params["state"] = state
            return self._http("GET", "/admin/jobs", params)
        from bot.jobs.queue import list_jobs

        db = self._open_readonly()
        if db is None:
            return []
        with db:
            return list_jobs(db, state, limit)

    def show(self, job_id: int) -> dict[str, Any]:
        if self.holder is not None:
            return self._http("GET", f"/admin/jobs/{job_id}")
        from bot.jobs.queue import get_job

        db = self._open_readonly()
        job = None
        if db is not None:
            with db:
                job = get_job(db, job_id)
        if job is None:
            raise click.ClickException(f"no job {job_id}")
        return job

    def retry(self, job_id: int) -> dict[str, Any]:
        if self.holder is not None:
            return self._http("POST", f"/admin/jobs/{job_id}/retry")
        from bot.jobs.queue import JobQueue, RetryOutcome
        from bot.store.db import Database

        with Database.open(self.settings.data_dir) as db:
            queue = JobQueue(db)
            try:
                outcome = queue.retry(job_id)
            finally:
                queue.close()
        if outcome == RetryOutcome.NOT_FOUND:
            raise click.ClickException(f"no job {job_id}")
        if outcome == RetryOutcome.NOT_RETRYABLE:
            raise click.ClickException(
                f"job {job_id} is not dead or failed; only those are retried"
            )
        return {"status": outcome.value, "job_id": job_id}

    def _open_readonly(self) -> Any:
        from bot.store.db import Database

        if not (self.settings.data_dir / "agentforge.duckdb").exists():
            return None
        return Database.open_readonly(self.settings.data_dir)


@click.group()
def jobs() -> None:
    """Inspect and retry queued jobs."""


@jobs.command("list")
@click.option("--state", type=click.Choice(STATE_CHOICES), default=None, help="Only this state.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@url_option
def list_cmd(state: str | None, limit: int, as_json: bool, url: str) -> None:
    """List jobs, newest first."""
    rows = _Access(url).list(state, limit)
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no jobs")
        return
    click.echo(
        f"{'ID':>7}  {'STATE':<8} {'HANDLED':<7} {'ATT':>3}  {'QUEUE':<5} {'PRI':>3}  "
        f"{'FORGE':<6} {'EVENT':<28} "
        f"{'REPO':<30} ERROR / REASON"
    )
    for r in rows:
        error = (r.get("last_error") or "").splitlines()[0][:60] if r.get("last_error") else ""
        attempts = f"{r['attempts']}/{r['max_attempts']}"
        click.echo(
            f"{r['id']:>7}  {r['state']:<8} {_handled(r.get('handled')):<7} {attempts:>3}  "
            f"{r.get('queue') or '-':<5} "
            f"{r.get('priority') if r.get('priority') is not None else '-':>3}  "
            f"{r['forge']:<6} {(r['event_name'] or '')[:28]:<28} {(r['repo'] or '')[:30]:<30} "
            f"{error or (r.get('reason') or '')[:60]}"
        )


def _handled(value: bool | None) -> str:
    """``yes``/``no`` once the job ran (``no``: no handler took the event), else ``-``."""
    return "-" if value is None else ("yes" if value else "no")


@jobs.command("show")
@click.argument("job_id", type=int)
@url_option
def show_cmd(job_id: int, url: str) -> None:
    """Show one job (state, attempts, last error, result) as JSON."""
    click.echo(json.dumps(_Access(url).show(job_id), indent=2))


@jobs.command("retry")
@click.argument("job_id", type=int)
@url_option
def retry_cmd(job_id: int, url: str) -> None:
    """Queue a dead or failed job again with fresh attempts."""
    result = _Access(url).retry(job_id)
    click.echo(f"job {result['job_id']}: {result['status']}")
