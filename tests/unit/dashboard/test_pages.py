"""The dashboard pages over a data directory written by the real store APIs."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from bot.intake.server import create_app
from bot.settings import load_settings

from .seed import API_RUN, API_TITLE, DEAD_ERROR, EVIL_TITLE, RETRY_ERROR, SHOP_RUN, populate

LOCAL = ("127.0.0.1", 50000)
SECRET = "s" * 32


@contextmanager
def dashboard(data_dir, client=LOCAL, **settings):
    app = create_app(
        load_settings(data_dir=data_dir, github_webhook_secret=SECRET, **settings),
        start_workers=False,
    )
    with TestClient(app, client=client, follow_redirects=False) as http:
        yield http, app.state.agentforge


@pytest.fixture
def seeded(data_dir):
    populate(data_dir)
    with dashboard(data_dir) as (http, _):
        yield http


def text(html: str) -> str:
    """The page's text with tags removed and whitespace folded (entities kept)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_escaped(html: str) -> None:
    assert "<script>" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "<img" not in html


def test_overview_shows_counts_open_gates_failures_and_this_months_cost(seeded) -> None:
    page = seeded.get("/")
    assert page.status_code == 200
    body = text(page.text)
    assert "3 runs · 1 done · 1 failed · 1 waiting" in body
    assert "$1.50 model cost in" in body  # 0.25 + 0.75 + 0.5 recorded this month
    assert "3 deliveries · 3 in the last 24 h" in body
    waiting = page.text.split('id="waiting"')[1].split("</table>")[0]
    assert "acme/shop" in waiting and "design" in waiting and "awaiting approval" in waiting
    assert f'href="/runs/{SHOP_RUN}"' in waiting
    assert 'href="https://github.com/acme/shop/pull/12"' in waiting
    failures = page.text.split('id="failures"')[1].split("</table>")[0]
    assert "RoleFailed: developer gave up after 3 tool errors &lt;img" in failures
    assert RETRY_ERROR in failures
    assert "<svg" in page.text and "Model cost per day" in page.text
    assert_escaped(page.text)


def test_runs_are_grouped_by_repository_and_issue_with_titles_escaped(seeded) -> None:
    page = seeded.get("/runs")
    assert page.status_code == 200
    assert "<h2>acme/api</h2>" in page.text and "<h2>acme/shop</h2>" in page.text
    assert str(escape(EVIL_TITLE)) in page.text
    assert "Export orders as CSV &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page.text
    assert API_TITLE in page.text
    body = text(page.text)
    assert "3 runs" in body
    # run, state, phase, phases done, MR, cost, estimate
    assert re.search(r"run-shop-7 waiting design 1/2 !12 \$1\.00 \$2\.50", body), body
    assert re.search("run-api-3 failed build 3/3 \u2013 \\$0\\.50", body), body
    assert_escaped(page.text)


def test_runs_filter_by_state_and_repository(seeded) -> None:
    failed = seeded.get("/runs", params={"state": "failed"}).text
    assert API_RUN in failed and SHOP_RUN not in failed
    shop = seeded.get("/runs", params={"repo": "acme/shop"}).text
    assert SHOP_RUN in shop and "run-shop-9" in shop and API_RUN not in shop
    none = seeded.get("/runs", params={"state": "cancelled"}).text
    assert "No run matches these filters." in none


def test_run_page_has_the_timeline_usage_per_phase_and_artifacts(seeded) -> None:
    page = seeded.get(f"/runs/{SHOP_RUN}")
    assert page.status_code == 200
    svg = page.text.split("Phase timeline")[1].split("</svg>")[0]
    assert "discovery" in svg and "design" in svg
    assert "span-approved" in svg and "span-awaiting_approval" in svg
    assert "awaiting approval" in svg and "so far" in svg
    phases = text(page.text.split('id="phases"')[1].split("</table>")[0])
    assert "discovery analyst human approved !12" in phases
    assert "design architect human awaiting approval !12" in phases and "open" in phases
    usage = text(page.text.split('id="usage"')[1].split("</table>")[0])
    assert "design architect anthropic/claude-sonnet-4 1 3400 900 0 $0.75" in usage
    assert "discovery analyst anthropic/claude-sonnet-4 1 1200 300 0 $0.25" in usage
    artifacts = text(page.text.split('id="artifacts"')[1].split("</table>")[0])
    assert "discovery docs/requirements/7.md requirements aaaaaaaaaaaa" in artifacts
    assert "design docs/design/7.md design" in artifacts
    assert "$1.00 model cost · estimate $2.50" in text(page.text)
    assert "&lt;script&gt;" in page.text
    assert_escaped(page.text)


def test_failed_run_page_shows_the_failed_phase(seeded) -> None:
    page = seeded.get(f"/runs/{API_RUN}")
    assert "span-failed" in page.text
    assert "build developer tests failed" in text(page.text)
    assert "No artifacts recorded for this run yet." in page.text


def test_unknown_run_is_404_and_its_id_is_escaped(seeded) -> None:
    page = seeded.get("/runs/%3Cscript%3Ealert(1)")
    assert page.status_code == 404
    assert "nothing recorded at" in page.text
    assert_escaped(page.text)


def test_usage_page_totals_and_breakdowns(seeded) -> None:
    page = seeded.get("/usage")
    assert page.status_code == 200
    body = text(page.text)
    assert "$1.50 cost since" in body
    models = text(page.text.split('id="by-model"')[1].split("</table>")[0])
    assert "anthropic claude-sonnet-4 2 4600 1200 0 $1.00" in models
    assert "openai gpt-4o-mini 1 8000 2000 0 $0.50" in models
    roles = text(page.text.split('id="by-role"')[1].split("</table>")[0])
    assert "architect 1 3400 900 $0.75" in roles and "developer 1 8000 2000 $0.50" in roles
    for title in ("Model cost per day", "Tokens per day", "per model", "per role"):
        assert title in page.text
    # the per-model chart has a bar per model with its value as the tooltip
    assert "anthropic/claude-sonnet-4: $1.00</title>" in page.text


def test_deliveries_page_shows_each_delivery_with_its_outcome(seeded) -> None:
    page = seeded.get("/deliveries")
    assert page.status_code == 200
    rows = page.text.split('id="deliveries"')[1].split("</table>")[0]
    assert rows.count("<tr>") == 4  # header + 3 deliveries
    body = text(rows)
    assert "d-shop-7" in body and "done" in body and "handled, 2 actions" in body
    assert "d-api-3" in body and "dead" in body
    assert "d-api-4" in body and "failed" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in rows
    assert_escaped(page.text)


def test_jobs_page_lists_dead_and_failed_jobs_with_errors_and_attempts(seeded) -> None:
    page = seeded.get("/jobs")
    assert page.status_code == 200
    dead = text(page.text.split('id="dead"')[1].split("</table>")[0])
    assert "acme/api" in dead and "github:acme/api:issue:3" in dead and "1/1" in dead
    assert DEAD_ERROR.replace("<", "&lt;").replace(">", "&gt;") in dead
    failed = text(page.text.split('id="failed"')[1].split("</table>")[0])
    assert RETRY_ERROR in failed and "1/3" in failed
    assert_escaped(page.text)


def test_an_empty_store_gets_friendly_empty_states(data_dir) -> None:
    expected = {
        "/": ["No gate is waiting", "No failed or dead jobs.", "No model calls this month yet"],
        "/runs": ["No runs yet."],
        "/usage": ["No model calls in the last 30 days", "No tokens in the last 30 days"],
        "/deliveries": ["No deliveries yet."],
        "/jobs": ["No failed or dead jobs."],
    }
    with dashboard(data_dir) as (http, _):
        for path, messages in expected.items():
            page = http.get(path)
            assert page.status_code == 200, path
            for message in messages:
                assert message in page.text, (path, message)


def test_pages_forbid_scripts_and_framing(seeded) -> None:
    page = seeded.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["content-type"].startswith("text/html")


def test_a_records_error_is_a_503_with_the_reason(data_dir) -> None:
    populate(data_dir)
    with dashboard(data_dir) as (http, state):
        state.db.execute("DROP TABLE model_usage")
        page = http.get("/usage")
    assert page.status_code == 503
    assert "reading model usage" in page.text


def test_run_store_columns_are_shown(data_dir) -> None:
    populate(data_dir)
    with dashboard(data_dir) as (http, state):
        # Columns the run store keeps on runs (version, branch, mr_number, data).
        state.db.execute(
            "UPDATE runs SET version = 4, branch = 'agentforge/issue-7', mr_number = 21,"
            """ data = '{"phase": "design", "note": "<b>x</b>"}' WHERE id = ?""",
            [SHOP_RUN],
        )
        page = http.get(f"/runs/{SHOP_RUN}").text
        runs = http.get("/runs").text
    body = text(page)
    assert "branch agentforge/issue-7" in body and "version 4" in body
    assert 'href="https://github.com/acme/shop/pull/21"' in page  # the run's own MR wins
    assert "Engine state" in page and "&#34;note&#34;: &#34;&lt;b&gt;x&lt;/b&gt;&#34;" in page
    assert 'href="https://github.com/acme/shop/pull/21"' in runs
