"""The server with a real jobs process: what reads DuckDB is forwarded, and answered there.

``create_app(..., jobs_process=JobsProcess())`` is what ``agentforge serve`` runs; here it
runs under Starlette's TestClient, whose client address (``testclient``) is not loopback,
which shows that the jobs process sees the real client, not the Unix socket.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from bot.intake.server import JobsProcess, create_app
from bot.settings import load_settings
from tests.unit.server.helpers import GH_SECRET, github_delivery

pytestmark = pytest.mark.slow

ADMIN = "admin-token-0123456789abcdefghijkl"


def _eventually(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail("timed out")


def _start(
    tmp_path, monkeypatch, *, client: tuple[str, int], token: str | None, backoff: float = 0.1
):
    # The jobs process reads the same environment (and gets the data directory passed).
    monkeypatch.setenv("AGENTFORGE_GITHUB_WEBHOOK_SECRET", GH_SECRET)
    if token:
        monkeypatch.setenv("AGENTFORGE_ADMIN_TOKEN", token)
    monkeypatch.setenv("AGENTFORGE_RECONCILE_MINUTES", "0")
    monkeypatch.setenv("AGENTFORGE_JOBS_NICE", "0")
    settings = load_settings(data_dir=tmp_path / "data")
    jobs = JobsProcess(backoff_initial=backoff)
    app = create_app(settings, shutdown_grace=2, jobs_process=jobs)
    return app, TestClient(app, client=client)


@pytest.fixture
def split(tmp_path, monkeypatch):
    app, client = _start(tmp_path, monkeypatch, client=("10.1.2.3", 5000), token=ADMIN)
    with client:
        _eventually(lambda: client.get("/readyz").status_code == 200)
        yield client, app.state.agentforge


def test_the_jobs_process_sees_the_real_client_address(tmp_path, monkeypatch) -> None:
    # No admin token: the admin API answers loopback clients only. Through the Unix
    # socket every request would come from nowhere; the server passes the real address.
    _, client = _start(tmp_path, monkeypatch, client=("127.0.0.1", 5000), token=None)
    with client:
        _eventually(lambda: client.get("/readyz").status_code == 200)
        assert client.get("/admin/jobs").status_code == 200
    _, remote = _start(tmp_path, monkeypatch, client=("10.1.2.3", 5000), token=None)
    with remote:
        _eventually(lambda: remote.get("/readyz").status_code == 200)
        assert remote.get("/admin/jobs").status_code == 403
        # A client cannot claim to be loopback: the server sets the header itself.
        spoofed = remote.get("/admin/jobs", headers={"x-agentforge-client": "127.0.0.1"})
        assert spoofed.status_code == 403


def test_reads_are_answered_by_the_jobs_process_for_the_real_client(split) -> None:
    client, state = split
    assert state.db is None and state.queue is None  # this process never opens DuckDB
    body, headers = github_delivery()
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    # The client is not loopback and brings no token: the jobs process refuses it.
    assert client.get("/admin/jobs").status_code == 401
    auth = {"authorization": f"Bearer {ADMIN}"}

    def fed():  # acknowledged first, stored by the jobs process's feeder a moment later
        answer = client.get(f"/admin/jobs/{job_id}", headers=auth)
        return answer.json() if answer.status_code == 200 else None

    job = _eventually(fed)
    assert job["id"] == job_id and job["payload_bytes"] == len(body)
    assert client.get("/admin/jobs/999999", headers=auth).status_code == 404
    page = client.get("/jobs", headers=auth)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    metrics = client.get("/metrics").text
    # One exposition: the server's intake metrics, then the jobs process's.
    assert 'agentforge_webhook_deliveries_total{event="issue_comment"' in metrics
    assert "agentforge_queue_depth{" in metrics
    assert 'agentforge_process_up{process="jobs"} 1.0' in metrics


def test_a_large_body_for_the_jobs_process_is_refused_before_it_is_forwarded(split) -> None:
    client, _ = split
    response = client.post("/admin/jobs/1/retry", content=b"x" * (65 * 1024))
    assert response.status_code == 413


def test_while_the_jobs_process_is_down_reads_answer_503_and_deliveries_202(
    tmp_path, monkeypatch
) -> None:
    # A slow first restart keeps the jobs process away long enough to look.
    app, client = _start(tmp_path, monkeypatch, client=("10.1.2.3", 5000), token=ADMIN, backoff=3)
    state = app.state.agentforge
    with client:
        _eventually(lambda: client.get("/readyz").status_code == 200)
        os.kill(state.supervisor.pid, signal.SIGKILL)
        _eventually(lambda: not state.supervisor.alive, 10)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "jobs process not running" in " ".join(ready.json()["problems"])
        forwarded = client.get("/admin/jobs", headers={"authorization": f"Bearer {ADMIN}"})
        assert forwarded.status_code == 503 and "retry-after" in forwarded.headers
        body, headers = github_delivery()
        # Intake does not need the jobs process: journaled and acknowledged.
        response = client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        _eventually(lambda: client.get("/readyz").status_code == 200)
        assert state.supervisor.restarts == 1
        auth = {"authorization": f"Bearer {ADMIN}"}
        # The restarted jobs process fed what was acknowledged while it was away.
        _eventually(lambda: client.get(f"/admin/jobs/{job_id}", headers=auth).status_code == 200)
