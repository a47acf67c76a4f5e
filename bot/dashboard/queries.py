"""What the dashboard reads from the records: runs, phases, usage, deliveries, jobs.

Every function reads through the server's own :class:`bot.store.db.Database` (the
per-thread cursor on the writer's connection, as the admin API does), from a worker
thread, so a page never holds the event loop and never takes the write lock that intake
and workers use. Queries name only the columns of the first migration, so they keep
working as later migrations add columns; the optional ones in :data:`OPTIONAL_RUN_COLUMNS`
are read only where the schema has them (checked once per database).

Results are plain dicts with aware-UTC datetimes, ready for the templates.
"""

# SQL text is built only from this module's constant column names; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import PayloadError
from bot.parsers import parse_event
from bot.store.db import Database
from bot.store.records import translate_errors, utc_aware, utc_naive

WAITING_STATES = ("awaiting_approval", "needs_approval", "waiting")
"""Phase states that mean "a person has to act" (an open gate)."""
PROBLEM_JOB_STATES = ("failed", "dead")
"""Job states shown on the jobs page: retrying after an error, or given up."""
OPTIONAL_RUN_COLUMNS = ("version", "branch", "mr_number", "data")
"""Columns of ``runs`` that later migrations add; shown when present, never required."""

_RUN_COLS = "r.id, r.forge, r.repo, r.issue_number, r.state, r.phase, r.estimate_usd," + (
    " r.started_at, r.updated_at"
)
_SUMS = (
    "count(*) AS calls, coalesce(sum(input_tokens), 0) AS input_tokens,"
    " coalesce(sum(output_tokens), 0) AS output_tokens,"
    " coalesce(sum(cached_tokens), 0) AS cached_tokens,"
    " coalesce(sum(cost_usd), 0.0) AS cost_usd, count(*) FILTER (WHERE NOT ok) AS failed"
)


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    """Stored naive-UTC datetimes as aware; DuckDB's big integer sums as int."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = utc_aware(value)
        elif key == "cost_usd" and value is not None:
            out[key] = float(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            out[key] = int(value)
        else:
            out[key] = value
    return out


class DashboardQueries:
    """Read-only queries over one records database.

    Args:
        db: The server's open database (read-only databases work too).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._run_columns: frozenset[str] | None = None

    def _rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return [_aware(r) for r in self.db.fetch_dicts(sql, params)]

    def run_columns(self) -> frozenset[str]:
        """The optional ``runs`` columns this database has (looked up once)."""
        if self._run_columns is None:
            with translate_errors("reading the runs table's columns"):
                names = {
                    row[0]
                    for row in self.db.fetchall(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = 'runs'"
                    )
                }
            self._run_columns = frozenset(c for c in OPTIONAL_RUN_COLUMNS if c in names)
        return self._run_columns

    # --- overview

    def overview(self, now: datetime) -> dict[str, Any]:
        """Counts, open gates, recent job failures and this month's daily cost."""
        month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        with translate_errors("reading the overview"):
            runs = dict(self.db.fetchall("SELECT state, count(*) FROM runs GROUP BY state"))
            jobs = dict(self.db.fetchall("SELECT state, count(*) FROM jobs GROUP BY state"))
            deliveries = self.db.fetchone(
                "SELECT count(*), count(*) FILTER (WHERE received_at >= ?) FROM deliveries",
                [utc_naive(now - timedelta(days=1))],
            ) or (0, 0)
            month = self._rows(
                f"SELECT {_SUMS} FROM model_usage WHERE created_at >= ?", [utc_naive(month_start)]
            )[0]
            next_month = (month_start + timedelta(days=32)).replace(day=1)
            days = self.daily_usage(month_start, next_month - timedelta(days=1))
        return {
            "runs_by_state": {k: int(v) for k, v in sorted(runs.items())},
            "runs_total": sum(int(v) for v in runs.values()),
            "jobs_by_state": {k: int(v) for k, v in sorted(jobs.items())},
            "deliveries_total": int(deliveries[0]),
            "deliveries_day": int(deliveries[1]),
            "month": month,
            "month_start": month_start,
            "month_days": days,
            "waiting": self.waiting_gates(),
            "failures": self.problem_jobs(limit=5),
        }

    def waiting_gates(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open phases waiting on a person, oldest first."""
        with translate_errors("reading the gates waiting on people"):
            return self._rows(
                "SELECT p.run_id, p.name AS phase, p.role, p.gate, p.state, p.mr_number,"
                " p.started_at, r.forge, r.repo, r.issue_number"
                " FROM phases p JOIN runs r ON r.id = p.run_id"
                " WHERE p.finished_at IS NULL AND list_contains(?, p.state)"
                " ORDER BY p.started_at, p.run_id LIMIT ?",
                [list(WAITING_STATES), limit],
            )

    # --- runs

    def run_filters(self) -> dict[str, list[str]]:
        """The run states and repositories there are, for the runs page's filter."""
        with translate_errors("reading run states"):
            states = [r[0] for r in self.db.fetchall("SELECT DISTINCT state FROM runs ORDER BY 1")]
            repos = [r[0] for r in self.db.fetchall("SELECT DISTINCT repo FROM runs ORDER BY 1")]
        return {"states": states, "repos": repos}

    def runs(
        self, *, state: str | None = None, repo: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Runs (newest first) with their cost, phase counts, MR number and issue title."""
        clauses, params = [], []
        if state:
            clauses.append("r.state = ?")
            params.append(state)
        if repo:
            clauses.append("r.repo = ?")
            params.append(repo)
        where = "WHERE " + " AND ".join(clauses) if clauses else ""
        mr = (
            "coalesce(r.mr_number, p.mr_number)"
            if "mr_number" in self.run_columns()
            else ("p.mr_number")
        )
        with translate_errors("listing runs"):
            rows = self._rows(
                f"SELECT {_RUN_COLS}, {mr} AS mr_number,"
                " coalesce(p.phases, 0) AS phases, coalesce(p.finished, 0) AS phases_finished,"
                " coalesce(u.cost_usd, 0.0) AS cost_usd, coalesce(u.calls, 0) AS calls"
                " FROM runs r"
                " LEFT JOIN (SELECT run_id, count(*) AS phases,"
                "   count(finished_at) AS finished, max(mr_number) AS mr_number"
                "   FROM phases GROUP BY run_id) p ON p.run_id = r.id"
                " LEFT JOIN (SELECT run_id, sum(cost_usd) AS cost_usd, count(*) AS calls"
                "   FROM model_usage WHERE run_id IS NOT NULL GROUP BY run_id) u"
                "   ON u.run_id = r.id"
                f" {where} ORDER BY r.repo, r.issue_number DESC NULLS LAST,"
                " r.started_at DESC, r.id LIMIT ?",
                [*params, limit],
            )
            titles = self.issue_titles(rows)
        for row in rows:
            row["title"] = titles.get((row["forge"], row["repo"], row["issue_number"]))
        return rows

    def run(self, run_id: str, now: datetime) -> dict[str, Any] | None:
        """One run with its phases, usage per phase, artifacts and optional engine data."""
        extra = sorted(self.run_columns())
        cols = _RUN_COLS + "".join(f", r.{c}" for c in extra)
        with translate_errors(f"reading run {run_id}"):
            found = self._rows(f"SELECT {cols} FROM runs r WHERE r.id = ?", [run_id])
            if not found:
                return None
            run = found[0]
            phases = self._rows(
                "SELECT name, role, state, gate, mr_number, started_at, finished_at"
                " FROM phases WHERE run_id = ? ORDER BY started_at, name",
                [run_id],
            )
            usage = self._rows(
                f"SELECT coalesce(phase, '') AS phase, coalesce(role, '') AS role,"
                f" provider, model, {_SUMS} FROM model_usage WHERE run_id = ?"
                " GROUP BY ALL ORDER BY cost_usd DESC, phase, model",
                [run_id],
            )
            total = self._rows(f"SELECT {_SUMS} FROM model_usage WHERE run_id = ?", [run_id])[0]
            artifacts = self._rows(
                "SELECT phase, path, kind, commit_sha, created_at FROM artifacts"
                " WHERE run_id = ? ORDER BY created_at, path",
                [run_id],
            )
            titles = self.issue_titles([run])
        for phase in phases:
            end = phase["finished_at"] or now
            phase["seconds"] = max((end - phase["started_at"]).total_seconds(), 0.0)
        data = run.pop("data", None)
        if isinstance(data, str):
            with contextlib.suppress(ValueError):  # not JSON: shown as the text it is
                data = json.loads(data)
        run["title"] = titles.get((run["forge"], run["repo"], run["issue_number"]))
        if run.get("mr_number") is None:
            run["mr_number"] = next(
                (p["mr_number"] for p in reversed(phases) if p["mr_number"]), None
            )
        return {
            "run": run,
            "extra": {c: run.get(c) for c in extra if c not in ("data", "mr_number")},
            "data": json.dumps(data, indent=2, default=str) if data is not None else None,
            "phases": phases,
            "usage": usage,
            "total": total,
            "artifacts": artifacts,
        }

    def issue_titles(
        self, runs: Iterable[dict[str, Any]]
    ) -> dict[tuple[str, str, int], str | None]:
        """Issue titles from the newest queued delivery about each run's issue.

        The records keep no title of their own; the verified payload of a job whose
        ordering subject is the issue has it, read by the same parsers that queued it.
        """
        keys = {
            f"{r['forge']}:{r['repo']}:issue:{r['issue_number']}": (
                r["forge"],
                r["repo"],
                r["issue_number"],
            )
            for r in runs
            if r.get("issue_number") is not None
        }
        if not keys:
            return {}
        rows = self.db.fetchall(
            "SELECT j.subject, j.forge, j.event_name, j.delivery_id, p.payload FROM jobs j"
            " JOIN job_payloads p ON p.job_id = j.id WHERE j.id IN"
            " (SELECT max(id) FROM jobs WHERE list_contains(?, subject) GROUP BY subject)",
            [list(keys)],
        )
        titles: dict[tuple[str, str, int], str | None] = {}
        for subject, forge, event_name, delivery_id, payload in rows:
            try:
                event = parse_event(forge, event_name, bytes(payload), delivery_id)
            except PayloadError:
                continue  # an unreadable payload just leaves the title out
            titles[keys[subject]] = event.title
        return titles

    # --- usage

    def daily_usage(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Cost and tokens per UTC day from ``since``'s day to ``until``'s, zero-filled."""
        with translate_errors("reading model usage per day"):
            rows = self._rows(
                f"SELECT CAST(created_at AS DATE) AS day, {_SUMS} FROM model_usage"
                " WHERE created_at >= ? GROUP BY day",
                [utc_naive(since)],
            )
        by_day = {r["day"]: r for r in rows}
        out = []
        day = since.astimezone(UTC).date()
        while day <= until.astimezone(UTC).date():
            row = by_day.get(day)
            out.append(
                {
                    "day": day,
                    "cost_usd": row["cost_usd"] if row else 0.0,
                    "input_tokens": row["input_tokens"] if row else 0,
                    "output_tokens": row["output_tokens"] if row else 0,
                    "cached_tokens": row["cached_tokens"] if row else 0,
                    "calls": row["calls"] if row else 0,
                }
            )
            day += timedelta(days=1)
        return out

    def usage(self, now: datetime, days: int = 30) -> dict[str, Any]:
        """The usage page: per-day series over ``days`` days, per model and per role."""
        since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        params = [utc_naive(since)]
        with translate_errors("reading model usage"):
            total = self._rows(f"SELECT {_SUMS} FROM model_usage WHERE created_at >= ?", params)[0]
            by_model = self._rows(
                f"SELECT provider, model, {_SUMS} FROM model_usage WHERE created_at >= ?"
                " GROUP BY provider, model ORDER BY cost_usd DESC, provider, model",
                params,
            )
            by_role = self._rows(
                f"SELECT coalesce(role, '(no role)') AS role, {_SUMS} FROM model_usage"
                " WHERE created_at >= ? GROUP BY 1 ORDER BY cost_usd DESC, role",
                params,
            )
            all_time = self._rows(f"SELECT {_SUMS} FROM model_usage")[0]
        return {
            "since": since,
            "days": self.daily_usage(since, now),
            "total": total,
            "all_time": all_time,
            "by_model": by_model,
            "by_role": by_role,
        }

    # --- deliveries and jobs

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recent deliveries with their job's state, attempts, error and result."""
        with translate_errors("listing deliveries"):
            rows = self._rows(
                "SELECT d.received_at, d.forge, d.delivery_id, d.event_name, d.repo, d.kind,"
                " d.action, d.job_id, j.state AS job_state, j.attempts, j.last_error, j.result"
                " FROM deliveries d LEFT JOIN jobs j ON j.id = d.job_id"
                " ORDER BY d.received_at DESC, d.job_id DESC NULLS LAST LIMIT ?",
                [limit],
            )
        for row in rows:
            row["outcome"] = _outcome(row.pop("result"))
        return rows

    def problem_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        """Failed (retrying) and dead jobs, most recently changed first, with errors."""
        with translate_errors("listing failed jobs"):
            return self._rows(
                "SELECT id, delivery_id, forge, event_name, repo, subject, state, attempts,"
                " max_attempts, available_at, last_error, created_at, updated_at, finished_at"
                " FROM jobs WHERE list_contains(?, state) ORDER BY updated_at DESC, id DESC"
                " LIMIT ?",
                [list(PROBLEM_JOB_STATES), limit],
            )


def _outcome(result: Any) -> str | None:
    """A job result in a few words: ``3 actions``, or the reason it was not handled."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return result[:200]
    if not isinstance(result, dict):
        return None
    if result.get("handled"):
        actions = result.get("actions") or []
        return f"handled, {len(actions)} action{'s' if len(actions) != 1 else ''}"
    reason = result.get("reason")
    return f"not handled: {reason}" if reason else "not handled"
