"""``agentforge serve``: the webhook server and its workers, on the embedded stores.

At start it logs, per forge, where its webhook secret comes from (an environment
variable or the settings file) and how many are set, never the secret itself: the user
must configure the forge's webhook with the same value, so they need to know where it is
kept.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from bot.commands._imports import import_modules, import_option, register_shipped_handlers

GIL_SWITCH_INTERVAL = 0.0005
"""Seconds a thread waiting for the GIL waits before the holder must hand it over."""

UVICORN_OPTIONS: dict[str, Any] = {
    # uvloop and httptools when installed (uvicorn[standard], a dependency), asyncio and
    # h11 otherwise: the pair cut the server's CPU per delivery by about a third.
    "loop": "auto",
    "http": "auto",
    "log_config": None,
    "access_log": False,
    "server_header": False,
}
"""How ``agentforge serve`` runs uvicorn (bench/webhook_load.py's baseline uses the same)."""


def tune_process() -> None:
    """Process-wide settings of a serving process (the benchmark's baseline applies them too).

    The journal's writer thread gives up the GIL for its synchronous append; with the
    default 5 ms switch interval it then waits up to that long for the event loop thread
    to let it back in, which holds every acknowledgement of the batch.

    Everything loaded by then (the libraries, the app) lives as long as the process, so
    it is moved out of the garbage collector's generations: the collections that decoding
    payloads triggers then scan what requests left, not the ~100k objects of the
    libraries (~18 us per delivery measured on a 12 KB payload).
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    gc.freeze()


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104 - a server is meant to be reachable
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker threads of the heavy queue, role runs (default: AGENTFORGE_WORKERS_HEAVY, "
    "else AGENTFORGE_WORKERS, 4).",
)
@click.option(
    "--light-workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker threads of the light queue, commands and gate checks "
    "(default: AGENTFORGE_WORKERS_LIGHT, 2).",
)
@click.option(
    "--local",
    "local_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also feed this local forge's events to the queue (default: AGENTFORGE_LOCAL_DIR).",
)
@import_option
@click.option(
    "--shutdown-grace",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds running jobs get to finish after SIGTERM before they are released.",
)
def serve(
    host: str,
    port: int,
    workers: int | None,
    light_workers: int | None,
    local_dir: Path | None,
    imports: tuple[str, ...],
    shutdown_grace: float,
) -> None:
    """Run the webhook server and workers.

    Webhook secrets come from AGENTFORGE_GITHUB_WEBHOOK_SECRET,
    AGENTFORGE_GITLAB_WEBHOOK_TOKEN and AGENTFORGE_GITLAB_SIGNING_TOKEN (comma-separated
    during rotation). Without any, the server refuses to start unless
    AGENTFORGE_INSECURE_NO_WEBHOOK_SECRET=true. SIGTERM stops it gracefully.

    With --local DIR (or AGENTFORGE_LOCAL_DIR) the events of that local forge go
    through the same queue and handlers, and the bot writes back to it.
    """
    import uvicorn

    from bot.commands.doctor import token_scope_warnings
    from bot.intake.journal import take_intake_lock
    from bot.intake.server import JobsProcess, create_app
    from bot.intake.verify import Verifier
    from bot.logs import configure_logging, get_logger
    from bot.settings import load_settings

    overrides: dict[str, object] = {}
    if workers is not None:
        overrides["workers_heavy"] = workers
    if light_workers is not None:
        overrides["workers_light"] = light_workers
    if local_dir is not None:
        overrides["local_dir"] = local_dir
    settings = load_settings(**overrides)
    if settings.local_dir is not None and not (settings.local_dir / "forge.duckdb").exists():
        raise click.UsageError(
            f"--local / AGENTFORGE_LOCAL_DIR: no local forge in {settings.local_dir} "
            "(create one with `agentforge local init DIR --from PATH`)"
        )
    configure_logging(settings.log_level, settings.log_format)
    register_shipped_handlers()  # the shipped workflow handlers, then any --import ones
    import_modules(imports)
    verifier = Verifier.from_settings(settings)  # refuses to start without a secret
    log = get_logger("bot.serve")
    for line in secret_sources(settings, os.environ):
        log.info("webhook secret", **line)
    for warning in token_scope_warnings(settings):
        log.warning("token_scope", message=warning)
    # Fails fast (StoreLocked) before binding the port if another server has the data
    # directory. The jobs process (bot.jobs.process) opens DuckDB, builds the handlers'
    # services and the dispatcher, and runs the workers; this process takes deliveries.
    intake_lock = take_intake_lock(settings.data_dir)
    jobs = JobsProcess(imports=tuple(imports), overrides=overrides, intake_lock=intake_lock)
    app = create_app(settings, verifier=verifier, shutdown_grace=shutdown_grace, jobs_process=jobs)
    log.info("listening", host=host, port=port)
    tune_process()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        **UVICORN_OPTIONS,
        timeout_graceful_shutdown=int(shutdown_grace) or None,
        lifespan="on",
    )
    uvicorn.Server(config).run()


_SECRETS = (
    ("github", "github_webhook_secret", "the webhook's Secret on GitHub"),
    ("gitlab", "gitlab_webhook_token", "the webhook's Secret token on GitLab"),
    ("gitlab", "gitlab_signing_token", "the webhook's signing token on GitLab"),
)


def secret_sources(settings: Any, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Where each configured webhook secret comes from, for the start-up log.

    One entry per configured setting: ``forge``, ``setting`` (the variable name),
    ``source`` (``environment`` or the settings file's path), ``count`` (several during
    rotation) and ``hint`` (where the same value goes on the forge, and how to see it).
    The secret's value is never part of it.
    """
    from bot.settings import ENV_PREFIX, SETTINGS_FILE_ENV

    in_env = {name.upper() for name in environ}
    lines = []
    for forge, field, where in _SECRETS:
        values = getattr(settings, field)
        if not values:
            continue
        variable = f"{ENV_PREFIX}{field.upper()}"
        if variable in in_env:
            source = "environment"
            see = f'echo "${variable}" in the shell that started the server'
        else:
            source = f"settings file {environ.get(SETTINGS_FILE_ENV, '?')}"
            see = f"the {field} key of that file"
        lines.append(
            {
                "forge": forge,
                "setting": variable,
                "source": source,
                "count": len(values),
                "hint": f"set the same value as {where}; it is not logged (see it with {see})",
            }
        )
    return lines
