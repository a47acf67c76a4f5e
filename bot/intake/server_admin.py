"""The admin API: jobs, stats and the audit check over HTTP, while the server runs.

DuckDB lets one process open the data directory, so while ``agentforge serve`` runs
``agentforge jobs``, ``stats`` and ``audit verify`` ask it instead (``GET /admin/jobs``,
``GET /admin/stats``, ``GET /admin/audit/verify``; only retrying a job writes).
Access needs ``Authorization: Bearer $AGENTFORGE_ADMIN_TOKEN``;
with no admin token configured, only loopback clients may call it.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from bot.intake.access import client_is_loopback
from bot.jobs.queue import STATES, RetryOutcome
from bot.store.audit import AuditLog
from bot.store.stats import collect_stats

if TYPE_CHECKING:
    from bot.intake.state import ServerState


def admin_router(state: ServerState) -> APIRouter:
    """Routes under ``/admin`` bound to one server's state."""

    def authorize(request: Request) -> None:
        token = state.settings.admin_token
        if token is None:
            if not client_is_loopback(request.client.host if request.client else None):
                raise HTTPException(
                    403, "admin API is loopback-only unless AGENTFORGE_ADMIN_TOKEN is set"
                )
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, "admin API needs Authorization: Bearer <admin token>")

    router = APIRouter(prefix="/admin", dependencies=[Depends(authorize)])

    def _queue() -> Any:
        if state.queue is None:
            raise HTTPException(503, "stores not open")
        return state.queue

    @router.get("/jobs")
    async def list_jobs(
        state_filter: str | None = Query(None, alias="state"), limit: int = 100
    ) -> list[dict[str, Any]]:
        if state_filter is not None and state_filter not in STATES:
            raise HTTPException(400, f"state must be one of {', '.join(STATES)}")
        if not 1 <= limit <= 10000:
            raise HTTPException(400, "limit must be between 1 and 10000")
        return await run_in_threadpool(_queue().list, state_filter, limit)

    @router.get("/jobs/{job_id}")
    async def show_job(job_id: int) -> dict[str, Any]:
        job = await run_in_threadpool(_queue().get, job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job

    @router.post("/jobs/{job_id}/retry")
    async def retry_job(job_id: int) -> dict[str, Any]:
        outcome = await run_in_threadpool(_queue().retry, job_id)
        if outcome == RetryOutcome.NOT_FOUND:
            raise HTTPException(404, f"no job {job_id}")
        if outcome == RetryOutcome.NOT_RETRYABLE:
            raise HTTPException(409, f"job {job_id} is not dead or failed; only those are retried")
        return {"status": outcome.value, "job_id": job_id}

    def _db() -> Any:
        if state.db is None:
            raise HTTPException(503, "stores not open")
        return state.db

    @router.get("/stats")
    async def stats(repo: str | None = None, since: datetime | None = None) -> dict[str, Any]:
        # What `agentforge stats --json` prints, from the records this server holds.
        return await run_in_threadpool(collect_stats, _db(), repo=repo, since=since)

    @router.get("/audit/verify")
    async def audit_verify() -> dict[str, Any]:
        # What `agentforge audit verify --json` prints; a broken chain is still a 200.
        result = await run_in_threadpool(AuditLog(_db()).verify)
        return result.model_dump()

    return router
