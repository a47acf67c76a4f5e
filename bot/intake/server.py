"""The webhook server: verify, parse, dedupe and durably queue, then acknowledge.

``POST /webhooks/github`` and ``POST /webhooks/gitlab`` take deliveries; ``/healthz``,
``/readyz`` and ``/metrics`` are for operators; ``/admin/jobs`` (see
:mod:`bot.intake.server_admin`) lets ``agentforge jobs`` work while the server holds the
data directory; ``/`` and the pages under it are the read-only dashboard (see
:mod:`bot.dashboard`).

Order of checks for a delivery (each answer is what the forge should do next)::

    body over the limit ......................... 413  (nothing read past the limit)
    content type not JSON ....................... 415
    signature / token missing or wrong .......... 401  (checked on the raw bytes, before parsing)
    event header (or GitHub delivery id) missing  400
    body not a JSON object / wrong shape ........ 400
    ping ........................................ 200 pong, nothing stored
    unknown event, or repository not allowed .... 200 ignored + reason, nothing stored
    already seen (delivery id or content key) ... 200 duplicate
    stored and queued (committed to disk) ....... 202 queued
    queue cannot be written ..................... 503  (the forge retries; never a 2xx + loss)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from bot.errors import PayloadError, QueueUnavailable, VerificationError
from bot.events import EventKind
from bot.intake.access import repo_allowed
from bot.intake.journal import JOURNAL_DIR, JournalIntake, recover, take_intake_lock
from bot.intake.state import ServerState
from bot.intake.verify import Verifier
from bot.jobs.dispatch import Dispatcher, InProcessDispatcher
from bot.jobs.ids import IDS_NAME, IdCounter
from bot.jobs.priorities import classify
from bot.jobs.queue import Delivery
from bot.jobs.runtime import JobsRuntime
from bot.jobs.subjects import resolve_subject
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.parsers import parse_for_intake
from bot.settings import Settings
from bot.store.db import Database

log = get_logger("bot.intake.server")

ENQUEUE_TIMEOUT = 8.0
"""Seconds to wait for the durable commit; GitHub gives up on a delivery after 10 s."""
PARSE_INLINE_BYTES = 256 * 1024
"""Bodies larger than this are parsed in a thread so the event loop keeps answering."""

_EVENT_HEADER = {"github": "x-github-event", "gitlab": "x-gitlab-event"}
CONTENT_DELIVERY_PREFIX = "content:"
"""Delivery ids made from the content key, for GitLab deliveries without an id header."""
_KEPT_HEADERS = (
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-type",
    "x-github-hook-installation-target-id",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-webhook-uuid",
    "x-gitlab-instance",
    "idempotency-key",
    "webhook-id",
    "webhook-timestamp",
    "user-agent",
)


class Reply(Exception):
    """An early answer to a delivery (status, outcome label, reason)."""

    def __init__(self, status: int, outcome: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.outcome = outcome
        self.reason = reason
        self.extra = extra


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class IntakeApp(FastAPI):
    """The FastAPI app, with ``POST /webhooks/<forge>`` answered before its middleware.

    A delivery needs none of what FastAPI wraps every request in (telemetry, body-limit,
    exception and exit-stack middleware, route matching, dependency resolution), nor
    Starlette's request and response objects: :class:`WebhookEndpoint` reads the body
    under its own limit from the ASGI messages and turns every outcome into an answer.
    That wrapping was ~15%, and the two objects another ~8%, of the server's
    main-thread profile samples per delivery (py-spy during bench/webhook_load.py).
    Every other request, and a webhook path under a ``root_path``, goes through FastAPI.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.webhooks: dict[str, WebhookEndpoint] = {}
        """Exact path -> endpoint of the webhook routes."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.webhooks.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class WebhookEndpoint:
    """The ASGI app of ``POST /webhooks/<forge>``: one delivery in, one answer out."""

    def __init__(self, state: ServerState, forge: str) -> None:
        self.state = state
        self.forge = forge

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Answer one delivery (nothing, if the client went away before sending it)."""
        answer = await take_delivery(self.state, self.forge, scope, receive)
        if answer is None:
            return
        status, body, headers = answer
        headers = [(b"content-length", str(len(body)).encode()), *headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


@dataclass(frozen=True)
class JobsProcess:
    """How ``agentforge serve`` runs its jobs side: as a supervised child process.

    Attributes:
        imports: ``--import`` modules the child imports (handlers to register).
        overrides: Settings given on the command line (the child reads the rest from
            the same environment, and gets the data directory from here).
        env: The child's environment (default: this process's).
        backoff_initial: First delay before restarting a child that died.
        intake_lock: The fd of :func:`bot.intake.journal.take_intake_lock` if the caller
            took it already (to fail before binding a port); taken at start otherwise.
    """

    imports: tuple[str, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] | None = None
    backoff_initial: float = 0.5
    intake_lock: int | None = None


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    dispatcher: Dispatcher | None = None,
    verifier: Verifier | None = None,
    start_workers: bool = True,
    shutdown_grace: float = 30.0,
    jobs_process: JobsProcess | None = None,
) -> FastAPI:
    """Build the app. Stores open and workers start in its lifespan.

    Two shapes (docs/architecture.md, "Processes"):

    - with ``jobs_process`` (``agentforge serve``): this process only takes deliveries
      in (verify, dedupe, journal, acknowledge); the feeder and the workers run in a
      supervised child that is DuckDB's one writer, and the routes that read DuckDB
      are forwarded to it;
    - without (tests, embedding, in-memory stores): everything in this process, on
      ``db`` or the data directory's database.

    Args:
        settings: Process settings (secrets, limits, workers, data dir).
        db: An already-open writer database (the app closes it on shutdown); only
            without ``jobs_process``.
        dispatcher: Where jobs go; in-process handlers by default (the child builds its
            own).
        verifier: Secrets checker; built from ``settings`` by default.
        start_workers: False to only accept and queue (tests, benchmarks of intake).
        shutdown_grace: Seconds running jobs get to finish at shutdown.
        jobs_process: Run the jobs side as a child process.

    Raises:
        SettingsError: no webhook secret and no insecure flag, or a bad signing token.
    """
    if jobs_process is not None and db is not None:
        raise ValueError("db is opened by the jobs process when jobs_process is given")
    state = ServerState(
        settings=settings,
        verifier=verifier or Verifier.from_settings(settings),
        metrics=Metrics(jobs=jobs_process is None),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for warning in state.verifier.warnings():
            log.warning("webhook secret check", warning=warning)
        if jobs_process is not None:
            await _start_split(state, jobs_process, shutdown_grace)
        else:
            await _start_single(state, db, dispatcher, start_workers)
        if settings.local_dir is not None:
            from bot.intake.local_feed import LocalFeed

            # Local forge events reach the intake here instead of through a webhook.
            state.local_feed = LocalFeed.for_server(
                settings, state.intake or state.queue, state.aliases
            )
            state.local_feed.start()
        log.info("server started", data_dir=str(settings.data_dir), workers=settings.lanes())
        try:
            yield
        finally:
            state.shutting_down = True
            if state.local_feed is not None:
                await run_in_threadpool(state.local_feed.stop)
            if state.intake is not None:
                await run_in_threadpool(state.intake.close)
            if state.supervisor is not None:
                # The child feeds what the journal holds and gives running jobs the
                # grace before it exits.
                await run_in_threadpool(state.supervisor.stop)
                state.extras["jobs_socket_dir"].cleanup()
                os.close(state.extras["intake_lock"])
            if state.runtime is not None:
                await run_in_threadpool(state.runtime.stop, shutdown_grace)
            if state.db is not None:
                state.db.close()
            log.info("server stopped")

    app = IntakeApp(title="AgentForge", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.agentforge = state

    # IntakeApp answers these itself (see there); the routes stay for an app mounted
    # under a root path, and so that they are listed with the others.
    for forge in ("github", "gitlab"):
        path = f"/webhooks/{forge}"
        app.webhooks[path] = WebhookEndpoint(state, forge)
        app.router.routes.append(Route(path, app.webhooks[path], methods=["POST"]))

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json(200, {"status": "alive"})

    @app.get("/readyz")
    async def readyz() -> Response:
        problems = await run_in_threadpool(readiness_problems, state)
        if problems:
            return _json(503, {"status": "not ready", "problems": problems})
        return _json(200, {"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = await run_in_threadpool(_render_metrics, state)
        return Response(body, media_type=content_type)

    if jobs_process is not None:
        # Everything else reads DuckDB: the jobs process answers it.
        async def forward(request: Request) -> Response:
            return await _forward(state, request)

        app.router.add_route("/{path:path}", forward, methods=["GET", "HEAD", "POST"])
    else:
        from bot.dashboard import dashboard_router
        from bot.intake.server_admin import admin_router

        app.include_router(admin_router(state))
        app.include_router(dashboard_router(state))
    return app


async def _start_single(
    state: ServerState, db: Database | None, dispatcher: Dispatcher | None, start_workers: bool
) -> None:
    """Open the stores and start the jobs side in this process."""
    settings = state.settings
    state.db = db or Database.open(settings.data_dir)
    journal = None if state.db.path.name == ":memory:" else state.db.path.parent / JOURNAL_DIR
    ids = IdCounter(state.db.path.parent / IDS_NAME) if journal is not None else None
    keys: set[str] = set()
    if journal is not None:
        keys = await run_in_threadpool(recover, state.db, journal, settings.job_max_attempts, ids)
    runtime = JobsRuntime(
        settings,
        state.db,
        dispatcher or InProcessDispatcher(),
        state.metrics,
        journal=journal,
        ids=ids,
        start_workers=start_workers,
    )
    state.runtime, state.queue, state.pool = runtime, runtime.queue, runtime.pool
    # MR -> issue aliases for ordering subjects, kept current by the run store (see
    # bot.jobs.subjects): intake never reads the database for them.
    state.aliases = runtime.aliases
    if journal is not None:
        # The durable commit point of a delivery (see bot.intake.journal); DuckDB is fed
        # from it in the background.
        state.intake = JournalIntake(journal, keys=keys, ids=ids, feeder=runtime.feeder)
        runtime.queue.add_intake(state.intake)
    await run_in_threadpool(runtime.start)


async def _start_split(state: ServerState, spec: JobsProcess, grace: float) -> None:
    """Recover the journal, start taking deliveries, and start the jobs process."""
    import sys
    import tempfile

    from bot.intake.jobs_client import JobsClient
    from bot.intake.supervisor import Supervisor
    from bot.jobs.process import OVERRIDES_ENV

    settings = state.settings
    data_dir = Path(settings.data_dir)
    lock = spec.intake_lock if spec.intake_lock is not None else take_intake_lock(data_dir)
    state.extras["intake_lock"] = lock
    ids = IdCounter(data_dir / IDS_NAME)
    journal = data_dir / JOURNAL_DIR
    keys = await run_in_threadpool(_recover_alone, settings, journal, ids)
    state.intake = JournalIntake(journal, keys=keys, ids=ids)
    # A directory only this user can enter (a Unix socket path must be short, so not
    # inside the data directory).
    sockets = tempfile.TemporaryDirectory(prefix="agentforge-")
    state.extras["jobs_socket_dir"] = sockets
    socket_path = Path(sockets.name) / "jobs.sock"
    command = [sys.executable, "-m", "bot.jobs.process", "--socket", str(socket_path)]
    command += ["--grace", str(grace)]
    for module in spec.imports:
        command += ["--import", module]
    env = dict(spec.env if spec.env is not None else os.environ)
    # The child reads its settings from the same environment; the data directory is
    # always passed, so that the two can never work on different ones.
    overrides = {**spec.overrides, "data_dir": data_dir.resolve()}
    env[OVERRIDES_ENV] = json.dumps({k: str(v) for k, v in overrides.items()})
    state.supervisor = Supervisor(
        "jobs", command, env=env, grace=grace, backoff_initial=spec.backoff_initial
    )
    state.jobs = JobsClient(socket_path)
    state.metrics.watch_process(
        "jobs", lambda: state.supervisor.alive, lambda: state.supervisor.restarts
    )
    state.supervisor.start()


def _recover_alone(settings: Settings, journal: Path, ids: IdCounter) -> set[str]:
    """Open the database as its only user, store the journal, return the dedupe keys.

    A jobs process left by a server that was killed may still be finishing (it stops
    by itself once it sees the server gone): wait for its lock, up to its grace.
    """
    from bot.errors import StoreLocked

    deadline = time.monotonic() + RECOVER_WAIT_SECONDS
    while True:
        try:
            db = Database.open(settings.data_dir)
            break
        except StoreLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        return recover(db, journal, settings.job_max_attempts, ids)
    finally:
        db.close()


FORWARD_MAX_BODY_BYTES = 64 * 1024
"""Largest body forwarded to the jobs process (the admin API takes no large bodies)."""
RECOVER_WAIT_SECONDS = 90.0
"""How long a starting server waits for the data directory's writer lock."""


def readiness_problems(state: ServerState) -> list[str]:
    """Why the server cannot take deliveries or run jobs right now (empty when ready)."""
    problems = []
    if state.shutting_down:
        problems.append("shutting down")
    if state.intake is not None and not state.intake.healthy:
        problems.append(f"intake journal: {state.intake.last_error or 'writer stopped'}")
    if state.local_feed is not None and not state.local_feed.healthy:
        problems.append(f"local forge feed: {state.local_feed.last_error or 'stopped'}")
    if state.supervisor is not None:
        return problems + _jobs_process_problems(state)
    if state.runtime is None:
        return [*problems, "stores not open"]
    return problems + state.runtime.problems()


def _jobs_process_problems(state: ServerState) -> list[str]:
    if not state.supervisor.alive:
        return [f"jobs process not running (restarts so far: {state.supervisor.restarts})"]
    try:
        answer = state.jobs.request("GET", "/readyz", timeout=5)
        return list(json.loads(answer.body).get("problems", []))
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return [f"jobs process not answering: {type(exc).__name__}: {exc}"]


def _render_metrics(state: ServerState) -> tuple[bytes, str]:
    body, content_type = state.metrics.render()
    if state.jobs is None:
        return body, content_type
    try:
        answer = state.jobs.request("GET", "/metrics", timeout=5)
    except (OSError, http.client.HTTPException) as exc:
        log.warning("jobs process metrics unavailable", error=str(exc))
        return body, content_type
    return body + answer.body, content_type


async def _forward(state: ServerState, request: Request) -> Response:
    """Answer a DuckDB-reading route through the jobs process."""
    try:
        # Read before anything checks who is asking (the jobs process does): bounded.
        body = await read_body(
            request.receive, request.headers.get("content-length"), FORWARD_MAX_BODY_BYTES
        )
    except ClientGone:
        return Response(status_code=400)
    except Reply as reply:
        return _json(reply.status, {"status": reply.outcome, "reason": reply.reason})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        answer = await run_in_threadpool(
            state.jobs.request,
            request.method,
            target,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
            body,
            client=request.client.host if request.client else None,
            scheme=request.url.scheme,
        )
    except (OSError, http.client.HTTPException) as exc:
        return _json(
            503,
            {"status": "unavailable", "reason": f"the jobs process is not answering: {exc}"},
            {"retry-after": "5"},
        )
    response = Response(answer.body, status_code=answer.status)
    for name, value in answer.headers:
        response.headers.append(name, value)
    return response


Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]
"""An HTTP answer as ASGI sends it: status, JSON body, raw headers."""


async def take_delivery(
    state: ServerState, forge: str, scope: dict[str, Any], receive: Any
) -> Answer | None:
    """Handle one delivery for ``forge``; never raises (every outcome is an HTTP answer).

    Returns None only if the client went away before its body was complete.
    """
    started = time.perf_counter()
    event_name = ""
    delivery_id: str | None = None
    try:
        headers = _headers(scope)
        body = await read_body(
            receive, headers.get("content-length"), state.settings.max_body_bytes
        )
        _check_content_type(headers)
        try:
            state.verifier.verify(forge, headers, body)
        except VerificationError as exc:
            raise Reply(401, "unauthorized", str(exc)) from None
        # Only a verified sender's headers are trusted enough to label metrics.
        event_name = headers.get(_EVENT_HEADER[forge], "")
        delivery_id = _delivery_id(forge, headers)
        if not event_name:
            raise Reply(400, "bad_request", f"missing {_EVENT_HEADER[forge]} header")
        if not delivery_id and forge == "github":
            raise Reply(400, "bad_request", "missing X-GitHub-Delivery header")
        # No contextvars binding here: nothing below logs but the line at the end of
        # _accept, which names the delivery itself (binding costs ~5 us per request).
        job_id = await _accept(state, forge, event_name, delivery_id, body, headers)
        state.metrics.delivery(forge, event_name, "queued")
        return 202, b'{"status":"queued","job_id":%d}' % job_id, _QUEUED_HEADERS
    except ClientGone:
        return None
    except Reply as reply:
        state.metrics.delivery(forge, event_name, reply.outcome)
        level = "warning" if reply.status >= 400 else "info"
        getattr(log, level)(
            "webhook answered",
            forge=forge,
            event_name=event_name or None,
            delivery_id=delivery_id,
            status=reply.status,
            outcome=reply.outcome,
            reason=reply.reason,
        )
        raw_headers = [*_JSON_HEADERS, (b"x-agentforge-outcome", reply.outcome.encode())]
        if reply.status == 503:
            raw_headers.append((b"retry-after", b"5"))
        body = {"status": reply.outcome, "reason": reply.reason, **reply.extra}
        return reply.status, json.dumps(body).encode(), raw_headers
    finally:
        state.metrics.acknowledged(forge, time.perf_counter() - started)


_JSON_HEADERS = ((b"content-type", b"application/json"),)
_QUEUED_HEADERS = [*_JSON_HEADERS, (b"x-agentforge-outcome", b"queued")]


async def _accept(
    state: ServerState,
    forge: str,
    event_name: str,
    delivery_id: str | None,
    body: bytes,
    headers: dict[str, str],
) -> int:
    """Parse, check and durably queue a verified delivery; returns its job id.

    Raises:
        Reply: every outcome but ``queued``.
    """
    try:
        if len(body) > PARSE_INLINE_BYTES:
            event = await run_in_threadpool(parse_for_intake, forge, event_name, body, delivery_id)
        else:
            event = parse_for_intake(forge, event_name, body, delivery_id)
    except PayloadError as exc:
        raise Reply(400, "bad_request", str(exc)) from None
    if event.kind == EventKind.PING:
        raise Reply(200, "ping", "pong: webhook reached AgentForge")
    if event.kind == EventKind.RECONCILE:
        # The sweep is the bot's own job (bot.jobs.reconcile), never something a forge sends.
        raise Reply(400, "bad_request", f"{event_name} is not a webhook event")
    if event.kind == EventKind.IGNORED:
        reason = event.reason or f"{event_name} is not an event AgentForge acts on"
        raise Reply(200, "ignored", reason)
    if not repo_allowed(event.repo.full_name, state.settings.repo_allowlist):
        raise Reply(200, "ignored", f"repository {event.repo.full_name} is not in the allowlist")
    if (state.intake or state.queue) is None or state.shutting_down:
        raise Reply(503, "unavailable", "the server is shutting down; retry later")
    content_key = event.content_key()
    if delivery_id is None:
        # GitLab before 17.4 sends no Idempotency-Key: the change itself is the key, so a
        # redelivery (same body) is still a duplicate. See docs/server.md for the cost.
        delivery_id = CONTENT_DELIVERY_PREFIX + content_key
    placement = classify(event)
    delivery = Delivery(
        forge=forge,
        delivery_id=delivery_id,
        event_name=event_name,
        payload=body,
        content_key=content_key,
        subject=resolve_subject(event, state.aliases),
        repo=event.repo.full_name,
        kind=event.kind.value,
        action=event.action,
        headers={name: headers[name] for name in _KEPT_HEADERS if name in headers},
        queue=placement.queue,
        priority=placement.priority,
    )
    kind, repo = event.kind.value, event.repo.full_name
    # The event holds the decoded payload (hundreds of objects). Dropped here, it is freed
    # now instead of living through the commit wait, where the garbage collector would
    # scan the payloads of every request in flight, again and again.
    del event
    try:
        result = await _committed((state.intake or state.queue).submit_async(delivery))
    except QueueUnavailable as exc:
        raise Reply(503, "unavailable", f"the job queue cannot be written: {exc}") from None
    except TimeoutError:
        raise Reply(503, "unavailable", "the job queue did not commit in time") from None
    if result.status == "duplicate":
        raise Reply(200, "duplicate", "already received (same delivery id or same change)")
    log.info(
        "webhook queued",
        delivery_id=delivery_id,
        forge=forge,
        event_name=event_name,
        job_id=result.job_id,
        kind=kind,
        repo=repo,
    )
    return result.job_id


async def _committed(fut: asyncio.Future) -> Any:
    """The result of an intake future, or TimeoutError after :data:`ENQUEUE_TIMEOUT`.

    One timer per request instead of :func:`asyncio.wait_for`, which wraps the future
    in a task and costs several times more on the hot path.
    """
    timer = asyncio.get_running_loop().call_later(ENQUEUE_TIMEOUT, _expire, fut)
    try:
        return await fut
    finally:
        timer.cancel()


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("the job queue did not commit in time"))


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name; the first of repeated headers wins.

    One pass over the raw list (Starlette's ``Headers.get()`` scans it once per name).
    """
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        if key not in headers:
            headers[key] = value.decode("latin-1")
    return headers


async def read_body(receive: Any, declared: str | None, limit: int) -> bytes:
    """The request body from ASGI ``receive``, refused past ``limit`` bytes.

    Raises:
        Reply: 400 for a malformed Content-Length, 413 over the limit (nothing read
            past it).
        ClientGone: the client disconnected first.
    """
    if declared is not None:
        if not declared.isdigit():
            raise Reply(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise Reply(413, "too_large", f"body is over the {limit}-byte limit")
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Reply(413, "too_large", f"body is over the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_content_type(headers: dict[str, str]) -> None:
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Reply(
            415,
            "unsupported_media_type",
            "expected Content-Type application/json (set the webhook's content type to JSON)",
        )


def _delivery_id(forge: str, headers: dict[str, str]) -> str | None:
    """The forge's delivery id; None for a GitLab delivery that carries none.

    GitLab sends ``Idempotency-Key`` from 17.4 on, the same on retries (``webhook-id``
    with Standard Webhooks signing). The other two GitLab ids are kept as headers for
    the logs but never used as a key: ``X-Gitlab-Event-UUID`` (14.8+) is one value per
    request and webhook, shared by every event that request sends to the webhook (an
    issue and a note of one API call) and by recursive webhooks, so keying on it would
    drop distinct events; ``X-Gitlab-Webhook-UUID`` (16.2+) is new on every send,
    retries included, so it cannot recognise a redelivery.
    """
    if forge == "github":
        return headers.get("x-github-delivery") or None
    return headers.get("idempotency-key") or headers.get("webhook-id") or None
