"""``agentforge stats``: runs, phases and model cost from the DuckDB records.

The records are opened read-only, so this works on a copy of a data directory; while
``agentforge serve`` holds the directory, the numbers come from its admin API
(``GET /admin/stats``, see :mod:`bot.commands._admin`).
DuckDB and rich are imported only when the command runs, keeping ``--help`` fast.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.commands._admin import admin_request, holder_of, url_option

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]


def resolve_data_dir(data_dir: Path | None) -> Path:
    """``--data-dir`` if given, else the settings' ``AGENTFORGE_DATA_DIR``."""
    if data_dir is not None:
        return data_dir
    from bot.settings import load_settings

    return load_settings().data_dir


def data_dir_option(func: Any) -> Any:
    """The shared ``--data-dir`` option of the records commands."""
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Data directory holding agentforge.duckdb [default: $AGENTFORGE_DATA_DIR].",
    )(func)


@click.command("stats")
@data_dir_option
@click.option("--repo", default=None, help="Only this repository (full name, e.g. acme/app).")
@click.option(
    "--since",
    type=click.DateTime(formats=DATE_FORMATS),
    default=None,
    help="Only runs, phases and model calls from this UTC date/time on (YYYY-MM-DD).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@url_option
def stats(
    data_dir: Path | None, repo: str | None, since: datetime | None, as_json: bool, url: str
) -> None:
    """Runs (by state), phases, and model cost/tokens per repo, role and model."""
    from bot.settings import load_settings
    from bot.store.db import Database
    from bot.store.stats import collect_stats

    directory = resolve_data_dir(data_dir)
    holder = holder_of(directory, url)
    if holder is not None:
        params: dict[str, str] = {}
        if repo is not None:
            params["repo"] = repo
        if since is not None:
            params["since"] = since.isoformat()
        data = admin_request(load_settings(), url, holder, "GET", "/admin/stats", params)
    else:
        with Database.open_readonly(directory) as db:
            data = collect_stats(db, repo=repo, since=since)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    _print_tables(data, directory)


def _print_tables(data: dict[str, Any], directory: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    scope = data["filters"]["repo"] or "all repositories"
    if data["filters"]["since"]:
        scope += f", since {data['filters']['since']}"
    runs, usage = data["runs"], data["usage"]
    if runs["total"] == 0 and usage["total"]["calls"] == 0:
        console.print(f"No runs or model calls recorded in {directory} ({scope}).")
        return

    table = Table(title=f"Runs ({scope})")
    table.add_column("state")
    table.add_column("runs", justify="right")
    for state, n in runs["by_state"].items():
        table.add_row(state, str(n))
    table.add_row("[bold]total[/bold]", f"[bold]{runs['total']}[/bold]")
    console.print(table)

    if data["phases"]:
        table = Table(title="Phases")
        for col in ("phase", "state"):
            table.add_column(col)
        table.add_column("count", justify="right")
        for row in data["phases"]:
            table.add_row(row["phase"], row["state"], str(row["count"]))
        console.print(table)

    for key, title, labels in (
        ("by_repo", "Model usage per repository", ("repo",)),
        ("by_role", "Model usage per role", ("role",)),
        ("by_model", "Model usage per model", ("provider", "model")),
    ):
        table = Table(title=title)
        for label in labels:
            table.add_column(label, overflow="fold", min_width=8)
        for col in ("calls", "failed", "in tok", "out tok", "cached", "USD"):
            table.add_column(col, justify="right", no_wrap=True)
        for row in [*usage[key], None]:
            total = row is None
            row = usage["total"] if total else row
            names = [_name(row.get(label)) for label in labels]
            if total:
                names = ["[bold]total[/bold]", *([""] * (len(labels) - 1))]
            table.add_row(
                *names,
                str(row["calls"]),
                str(row["failed"]),
                f"{row['input_tokens']:,}",
                f"{row['output_tokens']:,}",
                f"{row['cached_tokens']:,}",
                f"{row['cost_usd']:.4f}",
            )
        console.print(table)


def _name(value: Any) -> str:
    return "-" if value is None else str(value)
