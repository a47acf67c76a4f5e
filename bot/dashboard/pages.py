"""One function per dashboard page: read the records, draw the charts, return the context.

They run in a worker thread (see :mod:`bot.dashboard.router`) and return plain data for
a template, or None when the thing asked for does not exist (a 404).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from bot.dashboard import charts
from bot.dashboard.queries import DashboardQueries


def overview(q: DashboardQueries, now: datetime) -> dict[str, Any]:
    """``/``: counts, gates waiting on people, recent failures, cost this month."""
    data = q.overview(now)
    days = data["month_days"]
    data["month_chart"] = charts.stacked_bars(
        [d["day"].strftime("%d") for d in days],
        {"cost": [d["cost_usd"] for d in days]},
        title=f"Model cost per day, {data['month_start']:%B %Y}",
        empty="No model calls this month yet",
    )
    return data


def runs(q: DashboardQueries, now: datetime, state: str | None, repo: str | None) -> dict:
    """``/runs``: runs grouped by repository, then issue, optionally filtered."""
    rows = q.runs(state=state or None, repo=repo or None)
    grouped: OrderedDict[str, OrderedDict[Any, list[dict[str, Any]]]] = OrderedDict()
    for row in rows:
        grouped.setdefault(row["repo"], OrderedDict()).setdefault(row["issue_number"], []).append(
            row
        )
    return {
        "groups": grouped,
        "count": len(rows),
        "filters": q.run_filters(),
        "state": state or "",
        "repo": repo or "",
    }


def run(q: DashboardQueries, now: datetime, run_id: str) -> dict[str, Any] | None:
    """``/runs/{id}``: the phase timeline, usage per phase, artifacts, engine state."""
    data = q.run(run_id, now)
    if data is None:
        return None
    spans = [
        charts.Span(
            label=p["name"],
            state=p["state"],
            start=p["started_at"],
            end=p["finished_at"],
            note=", ".join(
                part
                for part in (
                    f"role {p['role']}" if p["role"] else "",
                    f"gate {p['gate']}" if p["gate"] else "",
                )
                if part
            ),
        )
        for p in data["phases"]
    ]
    data["timeline"] = charts.timeline(spans, now=now, title=f"Phases of run {run_id}")
    per_phase: dict[str, float] = {}
    for row in data["usage"]:
        per_phase[row["phase"] or "(no phase)"] = (
            per_phase.get(row["phase"] or "(no phase)", 0.0) + row["cost_usd"]
        )
    data["phase_cost_chart"] = charts.hbars(
        sorted(per_phase.items(), key=lambda kv: -kv[1]),
        title="Model cost per phase",
        empty="No model calls recorded for this run",
    )
    return data


def usage(q: DashboardQueries, now: datetime) -> dict[str, Any]:
    """``/usage``: cost and tokens per day, cost per model and per role."""
    data = q.usage(now)
    labels = [d["day"].strftime("%m-%d") for d in data["days"]]
    data["cost_chart"] = charts.stacked_bars(
        labels,
        {"cost": [d["cost_usd"] for d in data["days"]]},
        title="Model cost per day (last 30 days)",
        empty="No model calls in the last 30 days",
    )
    data["token_chart"] = charts.stacked_bars(
        labels,
        {
            "input": [d["input_tokens"] for d in data["days"]],
            "output": [d["output_tokens"] for d in data["days"]],
            "cached": [d["cached_tokens"] for d in data["days"]],
        },
        title="Tokens per day (last 30 days)",
        fmt=charts.count,
        empty="No tokens in the last 30 days",
    )
    data["model_chart"] = charts.hbars(
        [(f"{r['provider']}/{r['model']}", r["cost_usd"]) for r in data["by_model"]],
        title="Model cost per model (last 30 days)",
    )
    data["role_chart"] = charts.hbars(
        [(r["role"], r["cost_usd"]) for r in data["by_role"]],
        title="Model cost per role (last 30 days)",
    )
    return data


def deliveries(q: DashboardQueries, now: datetime) -> dict[str, Any]:
    """``/deliveries``: the newest deliveries with their job's outcome."""
    return {"deliveries": q.deliveries(limit=100), "limit": 100}


def jobs(q: DashboardQueries, now: datetime) -> dict[str, Any]:
    """``/jobs``: failed and dead jobs with their errors and attempts."""
    rows = q.problem_jobs(limit=200)
    return {
        "dead": [j for j in rows if j["state"] == "dead"],
        "failed": [j for j in rows if j["state"] == "failed"],
        "limit": 200,
    }
