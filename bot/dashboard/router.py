"""The dashboard's routes: read-only HTML pages at ``/``, rendered on the server.

Pages: ``/`` (overview), ``/runs`` (``?state=``, ``?repo=``), ``/runs/{id}``, ``/usage``,
``/deliveries`` and ``/jobs``. Each request is checked by :mod:`bot.dashboard.auth`,
then the page's reads run in a worker thread (:func:`run_in_threadpool`) on the
server's open database, as the admin API does, so the event loop keeps acknowledging
webhooks while a page is built. Templates autoescape everything; the answers carry a
Content-Security-Policy without any script source, so even text that slipped through
could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.dashboard import auth, charts, links, pages
from bot.dashboard.queries import DashboardQueries
from bot.errors import StoreError
from bot.logs import get_logger

if TYPE_CHECKING:
    import jinja2

    from bot.intake.state import ServerState

log = get_logger("bot.dashboard")

HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
"""Sent with every page: no scripts at all, no framing, nothing cached or referred."""

NAV = (
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/usage", "Usage"),
    ("/deliveries", "Deliveries"),
    ("/jobs", "Jobs"),
)

Build = Callable[[DashboardQueries, datetime], dict[str, Any] | None]


def templates() -> jinja2.Environment:
    """The dashboard's Jinja2 environment (templates shipped in this package)."""
    import jinja2  # only the server needs it; the CLI starts without it

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.dashboard", "templates"),
        autoescape=True,  # every template is HTML: issue titles and errors are user text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        usd=charts.usd,
        count=charts.count,
        duration=charts.duration,
        when=_when,
    )
    return env


def _when(value: datetime | None) -> str:
    """A timestamp as ``2025-01-31 14:05 UTC`` (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def dashboard_router(state: ServerState) -> APIRouter:
    """The dashboard's routes bound to one server's state."""
    env = templates()
    env.globals.update(
        issue_url=lambda forge, repo, n: links.issue_url(state.settings, forge, repo, n),
        mr_url=lambda forge, repo, n: links.mr_url(state.settings, forge, repo, n),
    )
    router = APIRouter(include_in_schema=False)
    cache: dict[int, DashboardQueries] = {}

    def queries() -> DashboardQueries | None:
        db = state.db
        if db is None:
            return None
        # One query object (and one schema check) per open database.
        if id(db) not in cache or cache[id(db)].db is not db:
            cache.clear()
            cache[id(db)] = DashboardQueries(db)
        return cache[id(db)]

    def html(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = env.get_template(name).render(
            nav=NAV,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    async def serve(request: Request, name: str, build: Build) -> Response:
        access = auth.check(request, state.settings.admin_token)
        if isinstance(access, auth.Denied):
            headers = {"www-authenticate": 'Bearer realm="agentforge"'}
            response = html(request, "denied.html", access.status, reason=access.reason)
            if access.status == 401:
                response.headers.update(headers)
            return response
        if access.set_cookie is not None:
            # Take the token out of the address (history, screenshots, Referer) and keep
            # it as the cookie instead.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            redirect = RedirectResponse(target, status_code=303, headers=HEADERS)
            redirect.set_cookie(
                auth.COOKIE,
                access.set_cookie,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return redirect
        q = queries()
        if q is None:
            return html(request, "error.html", 503, reason="the records database is not open")
        now = datetime.now(UTC)
        try:
            context = await run_in_threadpool(build, q, now)
        except StoreError as exc:
            log.warning("dashboard read failed", path=request.url.path, error=str(exc))
            return html(request, "error.html", 503, reason=str(exc))
        if context is None:
            return html(
                request, "error.html", 404, reason=f"nothing recorded at {request.url.path}"
            )
        return html(request, name, now=now, **context)

    @router.get("/", response_class=HTMLResponse)
    async def overview_page(request: Request) -> Response:
        return await serve(request, "overview.html", pages.overview)

    @router.get("/runs", response_class=HTMLResponse)
    async def runs_page(request: Request) -> Response:
        state_filter = request.query_params.get("state") or None
        repo = request.query_params.get("repo") or None
        return await serve(
            request, "runs.html", lambda q, now: pages.runs(q, now, state_filter, repo)
        )

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    async def run_page(request: Request, run_id: str) -> Response:
        return await serve(request, "run.html", lambda q, now: pages.run(q, now, run_id))

    @router.get("/usage", response_class=HTMLResponse)
    async def usage_page(request: Request) -> Response:
        return await serve(request, "usage.html", pages.usage)

    @router.get("/deliveries", response_class=HTMLResponse)
    async def deliveries_page(request: Request) -> Response:
        return await serve(request, "deliveries.html", pages.deliveries)

    @router.get("/jobs", response_class=HTMLResponse)
    async def jobs_page(request: Request) -> Response:
        return await serve(request, "jobs.html", pages.jobs)

    return router
