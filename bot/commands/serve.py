"""``agentforge serve``: the webhook server and its workers, on the embedded stores."""

from __future__ import annotations

import click

from bot.commands._imports import import_modules, import_option


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104 - a server is meant to be reachable
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="In-process worker threads (default: AGENTFORGE_WORKERS, 4).",
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
    host: str, port: int, workers: int | None, imports: tuple[str, ...], shutdown_grace: float
) -> None:
    """Run the webhook server and workers.

    Webhook secrets come from AGENTFORGE_GITHUB_WEBHOOK_SECRET,
    AGENTFORGE_GITLAB_WEBHOOK_TOKEN and AGENTFORGE_GITLAB_SIGNING_TOKEN (comma-separated
    during rotation). Without any, the server refuses to start unless
    AGENTFORGE_INSECURE_NO_WEBHOOK_SECRET=true. SIGTERM stops it gracefully.
    """
    import uvicorn

    from bot.commands.doctor import token_scope_warnings
    from bot.executor import build_dispatcher
    from bot.logs import configure_logging, get_logger
    from bot.server import create_app
    from bot.settings import load_settings
    from bot.store.db import Database
    from bot.verify import Verifier

    overrides = {"workers": workers} if workers is not None else {}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    import_modules(imports)
    verifier = Verifier.from_settings(settings)  # refuses to start without a secret
    for warning in token_scope_warnings(settings):
        get_logger("bot.serve").warning("token_scope", message=warning)
    db = Database.open(settings.data_dir)  # fails fast (StoreLocked) before binding the port
    dispatcher = build_dispatcher(settings, db)  # handlers, then the executor if a forge is set
    app = create_app(
        settings, db=db, dispatcher=dispatcher, verifier=verifier, shutdown_grace=shutdown_grace
    )
    get_logger("bot.serve").info("listening", host=host, port=port)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(shutdown_grace) or None,
        lifespan="on",
    )
    uvicorn.Server(config).run()
