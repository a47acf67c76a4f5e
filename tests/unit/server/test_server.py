"""The webhook endpoints: every answer, and what the store holds afterwards."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from bot.intake.journal import JOURNAL_DIR
from bot.intake.server import CONTENT_DELIVERY_PREFIX, create_app
from bot.jobs.queue import count_rows
from bot.settings import load_settings
from bot.store.db import Database

from .helpers import GH_SECRET, GL_TOKEN, github_delivery, gitlab_delivery


@contextmanager
def running(data_dir, **settings):
    values = {
        "github_webhook_secret": GH_SECRET,
        "gitlab_webhook_token": GL_TOKEN,
        "max_body_bytes": 64 * 1024,
        "workers": 1,
        **settings,
    }
    app = create_app(load_settings(**values), start_workers=False)
    with TestClient(app) as client:
        yield client, app.state.agentforge


def records(state) -> Database:
    """The records database once everything acknowledged has been fed to it."""
    assert state.intake.flush(10)
    return state.db


def stored(state) -> tuple[int, int]:
    return count_rows(records(state), "deliveries"), count_rows(state.db, "jobs")


@pytest.fixture
def server(data_dir):
    with running(data_dir) as pair:
        yield pair


def test_valid_delivery_is_committed_before_the_202(server) -> None:
    client, state = server
    body, headers = github_delivery()
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    row = records(state).fetchone(
        "SELECT p.payload, subject, state FROM jobs JOIN job_payloads p ON p.job_id = jobs.id"
        " WHERE id = ?",
        [job_id],
    )
    assert row[0] == body  # the raw bytes, not re-serialised JSON
    assert row[1] == "github:Codertocat/Hello-World:issue:1"
    assert row[2] == "queued"


def test_redelivery_is_acknowledged_as_duplicate(server) -> None:
    client, state = server
    body, headers = github_delivery()
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    again = client.post("/webhooks/github", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # The same change through another webhook (different delivery id).
    other = client.post(
        "/webhooks/github", content=body, headers={**headers, "x-github-delivery": "d-2"}
    )
    assert other.json()["status"] == "duplicate"
    assert stored(state) == (1, 1)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b, h: (b, {k: v for k, v in h.items() if k != "x-hub-signature-256"}),
        lambda b, h: (b, {**h, "x-hub-signature-256": "sha256=" + "0" * 64}),
        lambda b, h: (b + b" ", h),
        # Invalid JSON with a bad signature is a 401, not a 400: nothing is parsed first.
        lambda b, h: (b"{not json", h),
    ],
)
def test_bad_signature_is_401_and_nothing_is_stored(server, mutate) -> None:
    client, state = server
    body, headers = mutate(*github_delivery())
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401
    assert GH_SECRET not in response.text
    assert stored(state) == (0, 0)


@pytest.mark.parametrize("missing", ["x-github-event", "x-github-delivery"])
def test_missing_event_or_delivery_header_is_400(server, missing) -> None:
    client, state = server
    body, headers = github_delivery()
    headers.pop(missing)
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 400
    assert stored(state) == (0, 0)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_json_is_400(server, body) -> None:
    client, state = server
    _, headers = github_delivery(body=body)
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["status"] == "bad_request"
    assert stored(state) == (0, 0)


def test_known_event_with_wrong_shape_is_400(server) -> None:
    client, state = server
    body, headers = github_delivery(body=b'{"action": "created"}')
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 400
    assert stored(state) == (0, 0)


def test_non_post_is_405(server) -> None:
    client, state = server
    for method in ("GET", "PUT", "DELETE"):
        assert client.request(method, "/webhooks/github").status_code == 405
    assert stored(state) == (0, 0)


def test_ping_is_200_and_not_queued(server) -> None:
    client, state = server
    body, headers = github_delivery("ping.repo.json", "ping")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "ping"
    assert stored(state) == (0, 0)


def test_unknown_event_is_ignored_with_reason(server) -> None:
    client, state = server
    body, headers = github_delivery("installation.created.json", "installation")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored" and response.json()["reason"]
    assert stored(state) == (0, 0)


def test_repository_outside_allowlist_is_ignored(data_dir) -> None:
    with running(data_dir, repo_allowlist="acme/*,other/app") as (client, state):
        body, headers = github_delivery()
        response = client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["status"] == "ignored"
        assert stored(state) == (0, 0)
    with running(data_dir, repo_allowlist="codertocat/*") as (client, state):
        body, headers = github_delivery()
        assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202


def test_body_over_the_limit_is_413(server) -> None:
    client, state = server
    big = json.dumps({"pad": "x" * 70_000}).encode()
    body, headers = github_delivery(body=big)
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(70):
            yield b"x" * 1024

    streamed = client.post("/webhooks/github", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert stored(state) == (0, 0)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", ""])
def test_wrong_content_type_is_415(server, content_type) -> None:
    client, state = server
    body, headers = github_delivery()
    headers["content-type"] = content_type
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 415
    assert stored(state) == (0, 0)


def test_journal_that_cannot_be_written_is_503_and_nothing_is_kept(server) -> None:
    client, state = server
    os.close(state.intake._fd)  # the journal file fails under the server
    body, headers = github_delivery()
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert client.get("/readyz").status_code == 503
    assert stored(state) == (0, 0)


def test_records_database_failure_keeps_acknowledged_deliveries_in_the_journal(server) -> None:
    client, state = server
    state.db.close()  # DuckDB fails; the journal still takes deliveries durably
    body, headers = github_delivery()
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    assert not state.intake.flush(1)
    assert client.get("/readyz").status_code == 503  # the feeder reports the failure
    journal = state.db.path.parent / JOURNAL_DIR
    assert any(b"Codertocat" in segment.read_bytes() for segment in journal.iterdir())


def test_queue_without_journal_that_cannot_be_written_is_503() -> None:
    db = Database.in_memory()
    settings = load_settings(github_webhook_secret=GH_SECRET, workers=1)
    with TestClient(create_app(settings, db=db, start_workers=False)) as client:
        state = client.app.state.agentforge
        assert state.intake is None  # nothing to journal into for an in-memory store
        db.close()
        body, headers = github_delivery()
        response = client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 503 and "retry-after" in response.headers
        assert client.get("/readyz").status_code == 503
    body, headers = github_delivery()
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert client.get("/readyz").status_code == 503


def test_gitlab_delivery_with_token(server) -> None:
    client, state = server
    body, headers = gitlab_delivery()
    assert client.post("/webhooks/gitlab", content=body, headers=headers).status_code == 202
    row = records(state).fetchone("SELECT delivery_id, forge FROM jobs")
    assert row == ("gl-1", "gitlab")


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("note_hook.issue.go-scm.json", "Note Hook"),
        ("issue_hook.open.docs.json", "Issue Hook"),
        ("merge_request_hook.update.go-gitlab.json", "Merge Request Hook"),
        ("push_hook.docs.json", "Push Hook"),
    ],
)
def test_gitlab_before_17_4_without_idempotency_key_is_deduped_by_content(
    server, name, event
) -> None:
    # GitLab < 17.4 sends no Idempotency-Key; X-Gitlab-Event-UUID (14.8+) and
    # X-Gitlab-Webhook-UUID (16.2+) are not delivery ids (shared / new per send).
    client, state = server
    body, headers = gitlab_delivery(name, event)
    headers.pop("idempotency-key")
    headers["x-gitlab-webhook-uuid"] = "send-1"
    first = client.post("/webhooks/gitlab", content=body, headers=headers)
    assert first.status_code == 202, first.text
    (delivery_id,) = records(state).fetchone("SELECT delivery_id FROM jobs")
    assert delivery_id.startswith(CONTENT_DELIVERY_PREFIX)
    # GitLab retrying the same delivery (a new Webhook-UUID, same body) is a duplicate.
    again = client.post(
        "/webhooks/gitlab", content=body, headers={**headers, "x-gitlab-webhook-uuid": "send-2"}
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert stored(state) == (1, 1)


def test_gitlab_without_idempotency_key_keeps_distinct_changes_apart(server) -> None:
    client, state = server
    body, headers = gitlab_delivery()
    headers.pop("idempotency-key")
    assert client.post("/webhooks/gitlab", content=body, headers=headers).status_code == 202
    # Another comment (another note id) of the same request: same X-Gitlab-Event-UUID.
    data = json.loads(body)
    data["object_attributes"]["id"] = int(data["object_attributes"]["id"]) + 1
    other = client.post("/webhooks/gitlab", content=json.dumps(data).encode(), headers=headers)
    assert other.status_code == 202, other.text
    assert stored(state) == (2, 2)


def test_gitlab_webhook_id_is_a_delivery_id(server) -> None:
    client, state = server
    body, headers = gitlab_delivery()
    headers.pop("idempotency-key")
    headers["webhook-id"] = "wh-9"
    assert client.post("/webhooks/gitlab", content=body, headers=headers).status_code == 202
    assert records(state).fetchone("SELECT delivery_id FROM jobs") == ("wh-9",)


def test_gitlab_wrong_token_is_401(server) -> None:
    client, state = server
    body, headers = gitlab_delivery(token="nope" * 8)
    response = client.post("/webhooks/gitlab", content=body, headers=headers)
    assert response.status_code == 401
    assert GL_TOKEN not in response.text and "nope" not in response.text
    assert stored(state) == (0, 0)


def test_health_ready_and_metrics(server) -> None:
    client, state = server
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").status_code == 200
    body, headers = github_delivery()
    client.post("/webhooks/github", content=body, headers=headers)
    client.post("/webhooks/github", content=body, headers={**headers, "x-hub-signature-256": "x"})
    records(state)
    text = client.get("/metrics").text
    assert (
        'agentforge_webhook_deliveries_total{event="issue_comment",forge="github",'
        'outcome="queued"} 1.0' in text
    )
    assert 'outcome="unauthorized"} 1.0' in text
    assert 'agentforge_queue_depth{state="queued"} 1.0' in text
    assert "agentforge_webhook_ack_seconds_bucket" in text


def test_server_refuses_to_start_without_secret(data_dir) -> None:
    from bot.errors import SettingsError

    with pytest.raises(SettingsError):
        create_app(load_settings())


def test_store_is_closed_after_shutdown(data_dir) -> None:
    with running(data_dir) as (client, _):
        assert client.get("/readyz").status_code == 200
    with Database.open(data_dir) as db:  # the writer lock was released
        assert count_rows(db, "jobs") == 0


def test_commit_that_does_not_come_in_time_is_503(server, monkeypatch) -> None:
    import asyncio

    import bot.intake.server

    client, state = server
    never: list[asyncio.Future] = []

    def stuck(delivery) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        never.append(fut)
        return fut

    monkeypatch.setattr(bot.intake.server, "ENQUEUE_TIMEOUT", 0.05)
    monkeypatch.setattr(state.intake, "submit_async", stuck)
    body, headers = github_delivery()
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert response.json()["status"] == "unavailable"
    assert len(never) == 1 and isinstance(never[0].exception(), TimeoutError)


def test_kept_headers_are_the_listed_ones_and_the_first_of_repeats(server) -> None:
    client, state = server
    body, headers = github_delivery()
    raw = [*headers.items(), ("X-GitHub-Hook-ID", "1"), ("X-Other", "no")]
    raw.append(("x-github-hook-id", "2"))
    response = client.post("/webhooks/github", content=body, headers=raw)
    assert response.status_code == 202
    row = records(state).fetchone(
        "SELECT headers FROM jobs WHERE id = ?", [response.json()["job_id"]]
    )
    kept = json.loads(row[0])
    assert kept["x-github-hook-id"] == "1"
    assert kept["x-github-delivery"] == headers["x-github-delivery"]
    assert "x-other" not in kept and "x-hub-signature-256" not in kept


def test_ping_answer_is_the_one_the_readme_documents(server) -> None:
    from pathlib import Path

    client, state = server
    app_ping = json.dumps({"zen": "Keep it simple.", "hook_id": 7, "hook": {"id": 7}}).encode()
    body, headers = github_delivery(event="ping", body=app_ping)
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200
    answer = response.json()
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `POST /webhooks/github`"))
    assert f"`200 {answer['status']}`" in row
    ignored = row.split("`200 ignored`", 1)[1].split(";", 1)[0]
    assert "ping" not in ignored  # a ping is not listed as "ignored": it is answered "ping"
    assert answer["reason"] in row
    assert stored(state) == (0, 0)


def test_a_reconcile_job_cannot_come_in_as_a_webhook(server) -> None:
    import json as _json

    from bot.jobs.reconcile import RECONCILE_EVENT

    client, state = server
    body = _json.dumps({"repo": "acme/app"}).encode()
    _, headers = github_delivery(body=body, event=RECONCILE_EVENT)
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["status"] == "bad_request"
    assert stored(state) == (0, 0)


def test_a_delivery_under_a_root_path_takes_fastapis_route_to_the_same_answers(data_dir) -> None:
    # IntakeApp answers /webhooks/* itself only without a root path; mounted under one,
    # the delivery goes through FastAPI's router and must get the same answers.
    values = {"github_webhook_secret": GH_SECRET, "max_body_bytes": 64 * 1024, "workers": 1}
    app = create_app(load_settings(**values), start_workers=False)
    with TestClient(app, root_path="/bot") as client:
        body, headers = github_delivery(delivery="rooted-1")
        first = client.post("/bot/webhooks/github", content=body, headers=headers)
        again = client.post("/bot/webhooks/github", content=body, headers=headers)
        forged = client.post("/bot/webhooks/github", content=body + b" ", headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert forged.status_code == 401
    assert forged.json()["reason"] == "X-Hub-Signature-256 does not match any configured secret"
