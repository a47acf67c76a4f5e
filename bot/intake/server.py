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
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from bot.dashboard import dashboard_router
from bot.errors import PayloadError, QueueUnavailable, VerificationError
from bot.events import EventKind
from bot.intake.access import repo_allowed
from bot.intake.journal import JOURNAL_NAME, JournalIntake
from bot.intake.state import ServerState
from bot.intake.verify import Verifier
from bot.jobs.dispatch import Dispatcher, InProcessDispatcher
from bot.jobs.priorities import classify
from bot.jobs.queue import Delivery, JobQueue
from bot.jobs.subjects import MrAliases, resolve_subject
from bot.jobs.worker import WorkerPool
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.parsers import parse_event
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

_KEPT_HEADER_NAMES = frozenset(name.encode() for name in _KEPT_HEADERS)


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


def _reconcile_scheduler(settings: Settings, state: ServerState) -> Any:
    """The thread enqueueing reconcile sweeps (None when turned off or nothing to sweep
    with: no forge configured, no workers)."""
    if not settings.reconcile_minutes or state.pool is None:
        return None
    from bot.jobs.reconcile import ReconcileScheduler, known_repos

    forges = [
        name
        for name, ok in (
            ("github", settings.github_token or settings.github_app_id),
            ("gitlab", settings.gitlab_token),
            ("local", getattr(settings, "local_dir", None)),
        )
        if ok
    ]
    if not forges:
        return None
    queue = state.queue

    def repos() -> list[tuple[str, str]]:
        return known_repos(state.db, settings.repo_allowlist, forges)

    return ReconcileScheduler(
        lambda delivery: queue.enqueue(delivery),
        repos,
        interval=settings.reconcile_minutes * 60,
        actor=settings.bot_login,
    )


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    dispatcher: Dispatcher | None = None,
    verifier: Verifier | None = None,
    start_workers: bool = True,
    shutdown_grace: float = 30.0,
) -> FastAPI:
    """Build the app. Stores open (if ``db`` is None) and workers start in its lifespan.

    Args:
        settings: Process settings (secrets, limits, workers, data dir).
        db: An already-open writer database (the app closes it on shutdown).
        dispatcher: Where jobs go; in-process handlers by default.
        verifier: Secrets checker; built from ``settings`` by default.
        start_workers: False to only accept and queue (tests, benchmarks of intake).
        shutdown_grace: Seconds running jobs get to finish at shutdown.

    Raises:
        SettingsError: no webhook secret and no insecure flag, or a bad signing token.
    """
    state = ServerState(
        settings=settings,
        verifier=verifier or Verifier.from_settings(settings),
        metrics=Metrics(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for warning in state.verifier.warnings():
            log.warning("webhook secret check", warning=warning)
        state.db = db or Database.open(settings.data_dir)
        tune_store(state.db)
        # MR -> issue aliases for ordering subjects, read once here and kept current by
        # the run store (see bot.jobs.subjects): intake never reads the database for them.
        state.aliases = MrAliases.for_db(state.db)
        state.queue = JobQueue(
            state.db,
            max_attempts=settings.job_max_attempts,
            lease_seconds=settings.job_lease_seconds,
            backoff_seconds=settings.job_backoff_seconds,
        )
        if state.db.path.name != ":memory:":
            # The durable commit point of a delivery (see bot.intake.journal); DuckDB is fed
            # from it in the background.
            state.intake = await run_in_threadpool(
                JournalIntake, state.queue, state.db.path.parent / JOURNAL_NAME
            )
        state.metrics.watch_queue(state.queue.depth)
        state.metrics.watch_queues(state.queue.depth_by_queue)
        if start_workers:
            state.pool = WorkerPool(
                state.queue,
                dispatcher or InProcessDispatcher(),
                # One lane per queue, each with its own limit (bot.jobs.priorities).
                lanes=settings.lanes(),
                metrics=state.metrics,
            )
            await run_in_threadpool(state.pool.start)
        scheduler = _reconcile_scheduler(settings, state)
        if scheduler is not None:
            scheduler.start()
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
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop)
            if state.local_feed is not None:
                await run_in_threadpool(state.local_feed.stop)
            if state.pool is not None:
                await run_in_threadpool(state.pool.stop, shutdown_grace)
            if state.intake is not None:
                await run_in_threadpool(state.intake.close)
            await run_in_threadpool(state.queue.close)
            state.db.close()
            log.info("server stopped")

    app = FastAPI(title="AgentForge", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.agentforge = state

    async def github_webhook(request: Request) -> Response:
        return await receive(state, "github", request)

    async def gitlab_webhook(request: Request) -> Response:
        return await receive(state, "gitlab", request)

    # Plain Starlette routes: a webhook takes no parameters for FastAPI to resolve, and
    # skipping its dependency machinery is a measurable share of the intake cost.
    app.router.add_route("/webhooks/github", github_webhook, methods=["POST"])
    app.router.add_route("/webhooks/gitlab", gitlab_webhook, methods=["POST"])

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
        body, content_type = await run_in_threadpool(state.metrics.render)
        return Response(body, media_type=content_type)

    from bot.intake.server_admin import admin_router

    app.include_router(admin_router(state))
    app.include_router(dashboard_router(state))
    return app


STORE_SETTINGS = ("SET threads = 1", "SET checkpoint_threshold = '256MB'")
"""DuckDB settings for a server process. Intake writes small transactions back to back
on a machine whose cores also run the event loop: one DuckDB thread avoids handing tiny
inserts between threads, and a larger WAL threshold keeps the automatic checkpoint
(which rewrites tables and stalls commits) out of bursts; DuckDB still checkpoints at
that size and when the server closes the database."""


def tune_store(db: Database) -> None:
    """Apply :data:`STORE_SETTINGS` to the server's database (in-memory ones too)."""
    for statement in STORE_SETTINGS:
        db.execute(statement)


def readiness_problems(state: ServerState) -> list[str]:
    """Why the server cannot take deliveries right now (empty when ready)."""
    problems = []
    if state.shutting_down:
        problems.append("shutting down")
    if state.db is None or state.queue is None:
        return [*problems, "stores not open"]
    try:
        state.db.fetchone("SELECT count(*) FROM jobs WHERE false")
    except Exception as exc:  # noqa: BLE001 - any failure here means "not ready"
        problems.append(f"records database unreadable: {type(exc).__name__}")
    if not state.queue.healthy:
        problems.append(f"queue not writable: {state.queue.last_error or 'committer stopped'}")
    if state.intake is not None and not state.intake.healthy:
        problems.append(f"intake journal: {state.intake.last_error or 'writer stopped'}")
    if state.local_feed is not None and not state.local_feed.healthy:
        problems.append(f"local forge feed: {state.local_feed.last_error or 'stopped'}")
    if state.pool is not None and state.pool.alive < state.pool.size:
        problems.append(f"{state.pool.size - state.pool.alive} worker thread(s) stopped")
    return problems


async def receive(state: ServerState, forge: str, request: Request) -> Response:
    """Handle one delivery for ``forge``; never raises (every outcome is an HTTP answer)."""
    started = time.perf_counter()
    event_name = ""
    delivery_id: str | None = None
    try:
        body = await _read_body(request, state.settings.max_body_bytes)
        _check_content_type(request)
        try:
            state.verifier.verify(forge, request.headers, body)
        except VerificationError as exc:
            raise Reply(401, "unauthorized", str(exc)) from None
        # Only a verified sender's headers are trusted enough to label metrics.
        event_name = request.headers.get(_EVENT_HEADER[forge], "")
        delivery_id = _delivery_id(forge, request)
        if not event_name:
            raise Reply(400, "bad_request", f"missing {_EVENT_HEADER[forge]} header")
        if not delivery_id and forge == "github":
            raise Reply(400, "bad_request", "missing X-GitHub-Delivery header")
        # No contextvars binding here: nothing below logs but the line at the end of
        # _accept, which names the delivery itself (binding costs ~5 us per request).
        response = await _accept(state, forge, event_name, delivery_id, body, request)
        outcome = response.headers.get("x-agentforge-outcome", "queued")
        state.metrics.deliveries.labels(forge, event_name, outcome).inc()
        return response
    except Reply as reply:
        state.metrics.deliveries.labels(forge, event_name, reply.outcome).inc()
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
        headers = {"x-agentforge-outcome": reply.outcome}
        if reply.status == 503:
            headers["retry-after"] = "5"
        return _json(
            reply.status, {"status": reply.outcome, "reason": reply.reason, **reply.extra}, headers
        )
    finally:
        state.metrics.ack_seconds.labels(forge).observe(time.perf_counter() - started)


async def _accept(
    state: ServerState,
    forge: str,
    event_name: str,
    delivery_id: str | None,
    body: bytes,
    request: Request,
) -> Response:
    try:
        if len(body) > PARSE_INLINE_BYTES:
            event = await run_in_threadpool(parse_event, forge, event_name, body, delivery_id)
        else:
            event = parse_event(forge, event_name, body, delivery_id)
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
    if state.queue is None or state.shutting_down:
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
        headers=_kept_headers(request),
        queue=placement.queue,
        priority=placement.priority,
    )
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
        kind=event.kind.value,
        repo=event.repo.full_name,
    )
    return _json(
        202,
        {"status": "queued", "job_id": result.job_id},
        {"x-agentforge-outcome": "queued"},
    )


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


def _kept_headers(request: Request) -> dict[str, str]:
    # One pass over the raw header list (Headers.get() scans it once per name); reversed
    # so that the first of repeated headers wins, as with Headers.get().
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(request.scope["headers"])
        if name in _KEPT_HEADER_NAMES
    }


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Reply(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise Reply(413, "too_large", f"body is over the {limit}-byte limit")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Reply(413, "too_large", f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_content_type(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Reply(
            415,
            "unsupported_media_type",
            "expected Content-Type application/json (set the webhook's content type to JSON)",
        )


def _delivery_id(forge: str, request: Request) -> str | None:
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
        return request.headers.get("x-github-delivery") or None
    return request.headers.get("idempotency-key") or request.headers.get("webhook-id") or None
