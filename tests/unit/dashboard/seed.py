"""A data directory filled through the real store APIs, for the dashboard's tests.

Records (runs, phases, artifacts), the DuckDB usage ledger and the job queue write it the
way the running bot does; the values below are what the pages must show.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from agents.usage import UsageRecord
from bot.jobs.queue import Delivery, JobQueue
from bot.store.db import Database
from bot.store.records import DuckDBLedger, Records

EVIL_TITLE = "Export orders as CSV <script>alert('pwned')</script>"
API_TITLE = "Rate-limit the login endpoint"
DEAD_ERROR = "RoleFailed: developer gave up after 3 tool errors <img src=x onerror=alert(1)>"
RETRY_ERROR = "Unavailable: GitHub answered 502 while cloning acme/api"
SHOP_RUN = "run-shop-7"
API_RUN = "run-api-3"
DONE_RUN = "run-shop-9"


def issue_payload(repo: str, number: int, title: str) -> bytes:
    """A GitHub ``issues`` (opened) body with the fields the parser reads."""
    owner, name = repo.split("/")
    return json.dumps(
        {
            "action": "opened",
            "issue": {
                "id": 1000 + number,
                "number": number,
                "title": title,
                "body": "As a shop owner I want ...",
                "user": {"login": "alice", "id": 1, "type": "User"},
                "labels": [{"name": "agentforge"}],
                "state": "open",
            },
            "repository": {
                "id": 5,
                "name": name,
                "full_name": repo,
                "clone_url": f"https://github.com/{repo}.git",
                "default_branch": "main",
                "owner": {"login": owner},
            },
            "sender": {"login": "alice", "id": 1, "type": "User"},
        }
    ).encode()


def _delivery(repo: str, number: int, title: str, delivery_id: str) -> Delivery:
    return Delivery(
        forge="github",
        delivery_id=delivery_id,
        event_name="issues",
        payload=issue_payload(repo, number, title),
        content_key=f"github:{repo}:issues:{number}:{delivery_id}",
        subject=f"github:{repo}:issue:{number}",
        repo=repo,
        kind="issue",
        action="opened",
    )


class _Clock:
    """Stands in for the records' clock so phases last minutes, as real ones do."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        self.at += timedelta(minutes=11)
        return self.at


def populate(data_dir: Path) -> dict[str, float]:
    """Write three runs, usage, deliveries and jobs; returns the expected totals."""
    now = datetime.now(UTC)
    clock = _Clock(now.replace(tzinfo=None) - timedelta(hours=4))
    with Database.open(data_dir) as db, mock.patch("bot.store.records.now_utc", clock):
        records = Records(db)
        records.create_run(
            forge="github", repo="acme/shop", issue_number=7, run_id=SHOP_RUN, estimate_usd=2.5
        )
        records.start_phase(SHOP_RUN, "discovery", role="analyst", gate="human")
        records.add_artifact(
            SHOP_RUN,
            "discovery",
            "docs/requirements/7.md",
            kind="requirements",
            commit_sha="a" * 40,
        )
        records.finish_phase(SHOP_RUN, "discovery", state="approved", mr_number=12)
        records.start_phase(SHOP_RUN, "design", role="architect", gate="human")
        records.add_artifact(SHOP_RUN, "design", "docs/design/7.md", kind="design")
        records.update_phase(SHOP_RUN, "design", state="awaiting_approval", mr_number=12)
        records.update_run(SHOP_RUN, state="waiting")

        records.create_run(forge="github", repo="acme/api", issue_number=3, run_id=API_RUN)
        for name, role in (("discovery", "analyst"), ("design", "architect")):
            records.start_phase(API_RUN, name, role=role, gate="auto")
            records.finish_phase(API_RUN, name, state="approved")
        records.start_phase(API_RUN, "build", role="developer", gate="tests")
        records.finish_phase(API_RUN, "build", state="failed")
        records.update_run(API_RUN, state="failed")

        records.create_run(
            forge="github", repo="acme/shop", issue_number=9, run_id=DONE_RUN, state="done"
        )

        ledger = DuckDBLedger(db)
        calls = [
            (SHOP_RUN, "discovery", "analyst", "anthropic", "claude-sonnet-4", 1200, 300, 0.25),
            (SHOP_RUN, "design", "architect", "anthropic", "claude-sonnet-4", 3400, 900, 0.75),
            (API_RUN, "build", "developer", "openai", "gpt-4o-mini", 8000, 2000, 0.5),
        ]
        for run_id, phase, role, provider, model, tin, tout, cost in calls:
            ledger.record(
                UsageRecord(
                    run_id=run_id,
                    phase=phase,
                    role=role,
                    repo="acme/shop" if run_id == SHOP_RUN else "acme/api",
                    issue_number=7 if run_id == SHOP_RUN else 3,
                    provider=provider,
                    model=model,
                    input_tokens=tin,
                    output_tokens=tout,
                    cost_usd=cost,
                    created_at=now - timedelta(minutes=5),
                )
            )

        done_queue = JobQueue(db, max_attempts=1)
        job = done_queue.enqueue(_delivery("acme/shop", 7, EVIL_TITLE, "d-shop-7"))
        leased = done_queue.lease("w1")
        assert leased is not None and leased.id == job.job_id
        done_queue.complete(leased, {"handled": True, "kind": "issue", "actions": [{}, {}]})
        done_queue.enqueue(_delivery("acme/api", 3, API_TITLE, "d-api-3"))
        leased = done_queue.lease("w1")
        assert leased is not None
        assert done_queue.fail(leased, DEAD_ERROR) == "dead"
        done_queue.close()

        # A long backoff keeps the retry out of reach of a server started on this data.
        retry_queue = JobQueue(db, max_attempts=3, backoff_seconds=3600)
        retry_queue.enqueue(_delivery("acme/api", 4, "Second issue", "d-api-4"))
        leased = retry_queue.lease("w2")
        assert leased is not None
        assert retry_queue.fail(leased, RETRY_ERROR) == "failed"
        retry_queue.close()
    return {"shop_cost": 1.0, "total_cost": 1.5}
