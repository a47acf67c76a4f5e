"""``agentforge run``: handle the one event a GitHub Action or GitLab CI job is for.

See :mod:`bot.runner` for where the event and the credentials come from. Prints a JSON
summary; exits 0 when the event was handled (or ignored, or already handled), 1 when
an action failed on the forge or proposed actions could not be applied (no credentials:
the missing setting is named; ``--dry-run`` only shows them), 2 on bad input (a missing
variable is named).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from bot.commands._imports import import_modules, import_option


@click.command()
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab"]),
    default=None,
    help="Which forge the event is from (default: detected from the CI environment).",
)
@click.option(
    "--event",
    "event_name",
    default=None,
    metavar="NAME",
    help='Event name, e.g. "issue_comment" or "Note Hook" (default: from the CI environment).',
)
@click.option(
    "--payload",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Webhook payload file (default: GITHUB_EVENT_PATH / TRIGGER_PAYLOAD).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Records for dedupe and the audit log (default: AGENTFORGE_DATA_DIR if it exists).",
)
@import_option
@click.option("--dry-run", is_flag=True, help="Run the handlers; print actions, write nothing.")
def run(
    forge: str | None,
    event_name: str | None,
    payload: Path | None,
    data_dir: Path | None,
    imports: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Handle one event in a CI job (GitHub Action / GitLab CI) and print a JSON summary."""
    from bot.runner import run_in_ci

    import_modules(imports)
    result = run_in_ci(
        os.environ,
        forge=forge,
        event_name=event_name,
        payload=payload,
        data_dir=data_dir,
        dry_run=dry_run,
    )
    click.echo(json.dumps(result.summary, indent=2, ensure_ascii=False, default=str))
    if result.summary.get("status") == "not_applied":
        click.echo(f"agentforge run: {result.summary['reason']}", err=True)
    if result.exit_code:
        click.get_current_context().exit(result.exit_code)
