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

from bot.commands._imports import import_modules, import_option, register_shipped_handlers


@click.command()
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab", "local"]),
    default=None,
    help="Which forge the event is from (default: detected from the CI environment).",
)
@click.option(
    "--local",
    "local_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="With --forge local: the local forge directory (default: AGENTFORGE_LOCAL_DIR).",
)
@click.option(
    "--event-id",
    type=click.IntRange(min=1),
    default=None,
    help="With --forge local: the event's number, as `agentforge local events` lists it.",
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
    local_dir: Path | None,
    event_id: int | None,
    event_name: str | None,
    payload: Path | None,
    data_dir: Path | None,
    imports: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Handle one event in a CI job (GitHub Action / GitLab CI) and print a JSON summary."""
    from bot.runner import run_in_ci

    register_shipped_handlers()  # the shipped workflow handlers, then any --import ones
    import_modules(imports)
    if forge == "local" or local_dir is not None or event_id is not None:
        result = _run_local(local_dir, event_id, forge, data_dir, dry_run)
    else:
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


def _run_local(
    local_dir: Path | None,
    event_id: int | None,
    forge: str | None,
    data_dir: Path | None,
    dry_run: bool,
):
    """One local forge event through the runner path.

    See :func:`bot.intake.local_feed.run_local_event`.
    """
    from bot.errors import NotFound
    from bot.intake.local_feed import run_local_event

    if forge != "local":
        raise click.UsageError("--local and --event-id go with --forge local")
    directory = local_dir or os.environ.get("AGENTFORGE_LOCAL_DIR")
    if not directory:
        raise click.UsageError("--forge local needs --local DIR (or AGENTFORGE_LOCAL_DIR)")
    if not (Path(directory) / "forge.duckdb").exists():
        raise click.UsageError(f"--local: no local forge in {directory}")
    if event_id is None:
        raise click.UsageError("--forge local needs --event-id N (see `agentforge local events`)")
    try:
        return run_local_event(os.environ, directory, event_id, data_dir=data_dir, dry_run=dry_run)
    except NotFound as exc:
        raise click.BadParameter(str(exc), param_hint="--event-id") from None
