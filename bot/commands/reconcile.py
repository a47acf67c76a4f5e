"""``agentforge reconcile``: one reconcile sweep of a repository, from a CI schedule.

The sweep (see :mod:`bot.jobs.reconcile` and :mod:`handlers.workflow.reconcile`) acts on
commands written while nothing was listening, starts runs whose label event was
missed, answers unanswered reviews, starts fix-ups for red pipelines and fails stuck
runs. ``agentforge serve`` runs it by itself every few minutes; in CI, run this
command on a schedule (GitHub Actions ``on: schedule``, a GitLab pipeline schedule).
Prints the same JSON summary as ``agentforge run``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.commands._imports import import_modules, import_option


@click.command()
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab"]),
    default=None,
    help="Which forge (default: detected from the CI environment).",
)
@click.option(
    "--repo",
    default=None,
    metavar="FULL_NAME",
    help="The repository (default: GITHUB_REPOSITORY / CI_PROJECT_PATH).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Records for dedupe and the audit log (default: AGENTFORGE_DATA_DIR if it exists).",
)
@import_option
def reconcile(
    forge: str | None, repo: str | None, data_dir: Path | None, imports: tuple[str, ...]
) -> None:
    """Sweep one repository's runs once (missed commands, stuck runs)."""
    from bot.errors import SettingsError
    from bot.jobs.reconcile import RECONCILE_EVENT, payload
    from bot.runner import CIEvent, ci_settings, detect_forge, open_records, run_ci_event

    env = os.environ
    import_modules(imports)
    forge = forge or detect_forge(env)
    if forge is None:
        raise click.UsageError("say which forge with --forge (no CI environment detected)")
    variable = "GITHUB_REPOSITORY" if forge == "github" else "CI_PROJECT_PATH"
    repo = repo or env.get(variable)
    if not repo:
        raise click.UsageError(f"say which repository with --repo (or set {variable})")
    at = datetime.now(UTC)
    settings = ci_settings(env, data_dir=data_dir)
    body = payload(
        forge,
        repo,
        at,
        default_branch=env.get("CI_DEFAULT_BRANCH") or None,
        actor=settings.bot_login,
    )
    ci = CIEvent(forge, RECONCILE_EVENT, body, f"reconcile:{repo}:{at.strftime('%Y%m%dT%H%M%S')}")
    explicit = data_dir is not None or bool(env.get("AGENTFORGE_DATA_DIR", "").strip())
    try:
        db = open_records(settings, explicit=explicit)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        result = run_ci_event(ci, settings, db=db)
    finally:
        if db is not None:
            db.close()
    click.echo(json.dumps(result.summary, indent=2, ensure_ascii=False, default=str))
    if result.exit_code:
        click.get_current_context().exit(result.exit_code)
