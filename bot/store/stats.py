"""Aggregates over the records for ``agentforge stats``: runs, phases, model usage.

Everything is computed in DuckDB and returned as plain JSON-ready data, so the CLI can
print it as a table for people or as JSON for scripts.
"""

# SQL text is built only from this module's constant column names; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.db import Database
from bot.store.records import translate_errors, utc_naive

USAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "by_repo": ("repo",),
    "by_role": ("role",),
    "by_model": ("provider", "model"),
}
"""Usage breakdowns: output key -> the ``model_usage`` columns grouped by."""

_USAGE_SUMS = (
    "count(*) AS calls,"
    " count(*) FILTER (WHERE NOT ok) AS failed,"
    " coalesce(sum(input_tokens), 0) AS input_tokens,"
    " coalesce(sum(output_tokens), 0) AS output_tokens,"
    " coalesce(sum(cached_tokens), 0) AS cached_tokens,"
    " coalesce(sum(cost_usd), 0.0) AS cost_usd"
)


def _filter(
    repo: str | None, since: datetime | None, *, repo_col: str, time_col: str
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if repo is not None:
        clauses.append(f"{repo_col} = ?")
        params.append(repo)
    if since is not None:
        clauses.append(f"{time_col} >= ?")
        params.append(utc_naive(since))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def collect_stats(
    db: Database, *, repo: str | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """Runs by state, phases by name and state, and model usage per repo, role and model.

    Args:
        db: The records (read-only is enough).
        repo: Only this repository (full name).
        since: Only runs/phases started, and calls made, at or after this time
            (naive values are UTC).

    Returns:
        ``{"filters", "runs": {"total", "by_state"}, "phases": [...],
        "usage": {"total", "by_repo", "by_role", "by_model"}}``; each usage row has
        ``calls``, ``failed``, ``input_tokens``, ``output_tokens``, ``cached_tokens`` and
        ``cost_usd`` (the sum of the costs as recorded).
    """
    with translate_errors(f"reading records in {db.path}"):
        where, params = _filter(repo, since, repo_col="repo", time_col="started_at")
        by_state = {
            state: int(n)
            for state, n in db.fetchall(
                f"SELECT state, count(*) FROM runs {where} GROUP BY state ORDER BY state", params
            )
        }
        where, params = _filter(repo, since, repo_col="r.repo", time_col="p.started_at")
        phases = db.fetch_dicts(
            "SELECT p.name AS phase, p.state AS state, count(*) AS count"
            f" FROM phases p JOIN runs r ON r.id = p.run_id {where}"
            " GROUP BY p.name, p.state ORDER BY p.name, p.state",
            params,
        )
        where, params = _filter(repo, since, repo_col="repo", time_col="created_at")
        total = db.fetch_dicts(f"SELECT {_USAGE_SUMS} FROM model_usage {where}", params)[0]
        usage: dict[str, Any] = {"total": _numbers(total)}
        for key, cols in USAGE_GROUPS.items():
            group = ", ".join(cols)
            rows = db.fetch_dicts(
                f"SELECT {group}, {_USAGE_SUMS} FROM model_usage {where}"
                f" GROUP BY {group} ORDER BY cost_usd DESC, {group}",
                params,
            )
            usage[key] = [_numbers(r) for r in rows]
    return {
        "filters": {"repo": repo, "since": since.isoformat() if since else None},
        "runs": {"total": sum(by_state.values()), "by_state": by_state},
        "phases": [_numbers(p) for p in phases],
        "usage": usage,
    }


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    """DuckDB's HUGEINT sums and friends as plain int/float for JSON."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "cost_usd":
            out[key] = float(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = int(value)
        else:
            out[key] = value
    return out
