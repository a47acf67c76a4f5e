"""Read helpers over the ``jobs`` table: listing, one job, row counts.

They take a :class:`bot.store.db.Database` (read-only ones too), so ``agentforge jobs``
can use them without a running queue.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store.db import Database

_LIST_COLUMNS = (
    "id, delivery_id, forge, event_name, repo, subject, state, queue, priority, attempts,"
    " max_attempts, "
    "available_at, lease_owner, lease_expires_at, last_error, created_at, updated_at, finished_at, "
    # A job can be ``done`` without anything handling its event: say so in every listing.
    "CAST(json_extract(result, '$.handled') AS BOOLEAN) AS handled, "
    "json_extract_string(result, '$.reason') AS reason"
)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def list_jobs(db: Database, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Jobs, newest first, as JSON-able dicts (works on read-only databases too).

    Each row has ``handled`` (True/False from the job's result, None before it ran) and
    ``reason`` (why nothing was handled or written, e.g. ``no handler for issue``).
    """
    where, params = ("WHERE state = ?", [state]) if state else ("", [])
    rows = db.fetch_dicts(
        f"SELECT {_LIST_COLUMNS} FROM jobs {where} ORDER BY id DESC LIMIT ?",  # noqa: S608
        [*params, limit],
    )
    return [_jsonable(r) for r in rows]


def get_job(db: Database, job_id: int) -> dict[str, Any] | None:
    """One job with its result, headers and payload size, or None."""
    rows = db.fetch_dicts(
        f"SELECT {_LIST_COLUMNS}, result, headers, (SELECT octet_length(p.payload)"  # noqa: S608 - constant SQL text
        " FROM job_payloads p WHERE p.job_id = jobs.id) AS payload_bytes FROM jobs WHERE id = ?",
        [job_id],
    )
    if not rows:
        return None
    row = _jsonable(rows[0])
    for key in ("result", "headers"):
        if isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row


def count_rows(db: Database, table: str) -> int:
    """Rows in ``deliveries`` or ``jobs`` (used by tests and the soak run)."""
    if table not in ("deliveries", "jobs"):
        raise ValueError(f"unknown table {table!r}")
    row = db.fetchone(f"SELECT count(*) FROM {table}")  # noqa: S608 - table checked above
    return int(row[0]) if row else 0


class QueueIssueJobs:
    """:class:`handlers.services.IssueJobs` over the ``jobs`` table.

    Work on an issue is *in flight* when a job with the issue's ordering subject
    (:meth:`bot.events.Event.subject`; its MR's events share it) is running with a
    lease that has not expired — the worker running it renews the lease every third of
    its length, so an unexpired lease is a fresh heartbeat, and a job whose worker died
    keeps it only until it expires — or when a continuation (the heavy job a command
    handed a phase's role run to) waits in the queue. Other queued jobs of the issue
    (comments, the bot's own events) do not count: they may never drive the phase.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def in_flight(self, forge: str, repo: str, issue: int) -> bool:
        """Whether a job about ``issue`` runs with a live lease, or a continuation waits."""
        from bot.jobs.followups import CONTINUE_EVENT
        from bot.jobs.queue_types import utcnow

        (count,) = self.db.execute(
            "SELECT count(*) FROM jobs WHERE subject = ? AND ("
            "(state = 'running' AND lease_expires_at > ?) OR "
            "(state = 'queued' AND event_name = ?))",
            [f"{forge}:{repo}:issue:{issue}", utcnow(), CONTINUE_EVENT],
        ).fetchone()
        return count > 0
