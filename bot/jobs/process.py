"""The jobs process: DuckDB's one writer, the journal feeder and the workers.

``agentforge serve`` starts this as its supervised child (:mod:`bot.intake.supervisor`)::

    python -m bot.jobs.process --socket PATH [--import MODULE]... --grace S --parent-fd N

It reads the same ``AGENTFORGE_*`` settings as the server (plus the overrides the
server passes in ``AGENTFORGE_JOBS_OVERRIDES``, JSON), opens the records database as
its single writer, builds the dispatcher, and serves on a Unix socket the routes that
read or write DuckDB: ``/admin/*``, the dashboard, ``/readyz`` (its own problems) and
``/metrics`` (job metrics). The server forwards those requests here; the socket is in
a directory only the server's user can enter, and the client's address and scheme
arrive as ``x-agentforge-client`` and ``x-agentforge-scheme`` headers that only the
server sets.

SIGTERM (from the supervisor, or from itself once the server is gone) stops it as the
single-process server stops: the workers get ``--grace`` seconds, unfinished jobs are
released, everything journaled is stored, and the database is closed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

OVERRIDES_ENV = "AGENTFORGE_JOBS_OVERRIDES"
CLIENT_HEADER = "x-agentforge-client"
SCHEME_HEADER = "x-agentforge-scheme"
OPEN_RETRY_SECONDS = 60.0
"""How long a starting child waits for the data directory's writer lock (a previous
child that is still shutting down holds it)."""


def jobs_app(settings: Any, db: Any, dispatcher: Any, grace: float) -> Any:
    """The jobs process's ASGI app: runtime in its lifespan, DuckDB routes, metrics."""
    from fastapi import FastAPI, Response
    from starlette.concurrency import run_in_threadpool

    from bot.dashboard import dashboard_router
    from bot.intake.journal import JOURNAL_DIR
    from bot.intake.server_admin import admin_router
    from bot.intake.state import ServerState
    from bot.jobs.ids import IDS_NAME, IdCounter
    from bot.jobs.runtime import JobsRuntime
    from bot.logs import get_logger
    from bot.metrics import Metrics

    log = get_logger("bot.jobs.process")
    metrics = Metrics(intake=False)
    state = ServerState(settings=settings, verifier=None, metrics=metrics, db=db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ids = IdCounter(db.path.parent / IDS_NAME)
        runtime = JobsRuntime(
            settings, db, dispatcher, metrics, journal=db.path.parent / JOURNAL_DIR, ids=ids
        )
        state.queue, state.pool, state.runtime = runtime.queue, runtime.pool, runtime
        await run_in_threadpool(runtime.start)
        log.info("jobs process started", pid=os.getpid(), workers=settings.lanes())
        try:
            yield
        finally:
            state.shutting_down = True
            await run_in_threadpool(runtime.stop, grace)
            ids.close()
            db.close()
            log.info("jobs process stopped", pid=os.getpid())

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = ["shutting down"] if state.shutting_down else []
        if state.runtime is not None:
            problems += await run_in_threadpool(state.runtime.problems)
        else:
            problems.append("starting")
        body = json.dumps({"problems": problems}).encode()
        return Response(body, status_code=503 if problems else 200, media_type="application/json")

    @app.get("/metrics")
    async def metrics_route() -> Response:
        body, content_type = await run_in_threadpool(metrics.render)
        return Response(body, media_type=content_type)

    app.include_router(admin_router(state))
    app.include_router(dashboard_router(state))
    return _ForwardedClient(app)


class _ForwardedClient:
    """ASGI wrapper: the client's address and scheme from the server's headers.

    Only the server reaches the socket, and it always sets (and never passes on) both
    headers, so the admin API's loopback rule and the dashboard's secure cookie see the
    real client, not the socket.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = []
            for name, value in scope["headers"]:
                if name == CLIENT_HEADER.encode():
                    scope["client"] = (value.decode("latin-1"), 0) if value else None
                elif name == SCHEME_HEADER.encode():
                    scope["scheme"] = value.decode("latin-1")
                else:
                    headers.append((name, value))
            scope["headers"] = headers
        await self.app(scope, receive, send)


def lower_priority(nice: int) -> None:
    """Run this process at ``nice``: handlers burn CPU on the cores that acknowledge
    webhooks, and intake should win.

    With autogroup scheduling (Linux's default on desktops and many servers) CPU time is
    shared between sessions first and a nice value counts only inside its session. The
    supervisor starts this process in a session of its own, so the session gets the
    same nice value (``/proc/self/autogroup``); without autogroup that file is absent.
    """
    os.nice(nice)
    autogroup = Path("/proc/self/autogroup")
    if autogroup.exists():
        # Not permitted everywhere: the per-thread nice value still applies then.
        with contextlib.suppress(OSError):
            autogroup.write_text(str(nice))


def _open_writer(data_dir: Path) -> Any:
    from bot.errors import StoreLocked
    from bot.store.db import Database

    deadline = time.monotonic() + OPEN_RETRY_SECONDS
    while True:
        try:
            return Database.open(data_dir)
        except StoreLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def duckdb_threads() -> int:
    """DuckDB's thread count in the jobs process: every CPU this process may use but one.

    DuckDB runs a statement on as many threads as there are CPUs; the feeder's insert of
    a burst's deliveries (thousands of rows) then took both cores of a 2-core machine
    from the intake process answering the forge. One core is left to the intake.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus - 1)


def main(argv: list[str] | None = None) -> int:
    """Run the jobs process until SIGTERM (or until the server is gone)."""
    parser = argparse.ArgumentParser(prog="python -m bot.jobs.process")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--import", dest="imports", action="append", default=[])
    parser.add_argument("--grace", type=float, default=30.0)
    parser.add_argument("--parent-fd", type=int, default=None)
    args = parser.parse_args(argv)

    import uvicorn

    server_class = _graceful_server_class()

    from bot.commands._imports import import_modules, register_shipped_handlers
    from bot.intake.supervisor import watch_parent
    from bot.logs import configure_logging
    from bot.services import build_dispatcher
    from bot.settings import load_settings

    overrides = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    if settings.jobs_nice > 0:
        lower_priority(settings.jobs_nice)
    register_shipped_handlers()
    import_modules(args.imports)
    db = _open_writer(settings.data_dir)
    db.execute(f"SET threads TO {duckdb_threads()}")
    dispatcher = build_dispatcher(settings, db)
    if settings.dispatch_secret is not None:
        from bot.jobs.ci_dispatch import build_routing

        dispatcher = build_routing(settings, dispatcher)
    app = jobs_app(settings, db, dispatcher, args.grace)
    if args.parent_fd is not None:
        watch_parent(args.parent_fd, lambda: os.kill(os.getpid(), signal.SIGTERM))
    if args.socket.exists():
        args.socket.unlink()  # left by a child that was killed
    config = uvicorn.Config(
        app,
        uds=str(args.socket),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(args.grace) or None,
    )
    gc.freeze()  # as in the intake process (bot.commands.serve.tune_process)
    server_class(config).run()
    return 0


def _graceful_server_class() -> type:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """A uvicorn server that a repeated signal does not cut short.

        A second SIGINT (a terminal's Ctrl-C reaches the whole process group, then the
        server's SIGTERM follows) would make uvicorn exit at once, skipping the release
        of unfinished jobs; the supervisor's SIGKILL after the grace is the hard stop.
        """

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.should_exit = True

    return GracefulServer


if __name__ == "__main__":
    sys.exit(main())
