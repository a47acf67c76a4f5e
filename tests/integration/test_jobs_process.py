"""`agentforge serve`'s jobs process under kill -9: restarted, and nothing lost or run twice.

The server (intake) and its supervised jobs process (feeder and workers, DuckDB's one
writer) are real processes here; the handler is a slow one imported with ``--import``.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import webhook_path
from tests.integration.test_serve_sigterm import (
    _jobs,
    _notes,
    _post,
    _ready,
    _serve,
    _wait_for,
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not running.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _job(port: int, job_id: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/jobs/{job_id}", timeout=5) as r:
        return json.loads(r.read())


def _comment(n: int) -> bytes:
    payload = json.loads(webhook_path("github", "issue_comment.created.variant-1.json").read_text())
    payload["comment"]["id"] += n
    payload["issue"]["number"] = 100 + n  # its own subject: runs beside the others
    return json.dumps(payload).encode()


@pytest.mark.slow
def test_kill_9_of_the_jobs_process_mid_job_loses_nothing(tmp_path):
    proc, port = _serve(tmp_path, slow_seconds=1.5, grace=5)
    try:
        (child,) = _children(proc.pid)
        assert _post(port, _comment(1), "kill-1") == 202
        _wait_for(lambda: "start" in _notes(tmp_path), 20, "the handler to start")
        os.kill(child, signal.SIGKILL)  # mid-job
        # The server keeps acknowledging while its child is down: journaled, not lost.
        assert _post(port, _comment(2), "kill-2") == 202
        _wait_for(lambda: not _alive(child), 10, "the child to die")
        _wait_for(lambda: _ready(port), 60, "the supervisor to restart the jobs process")
        (restarted,) = _children(proc.pid)
        assert restarted != child
        _wait_for(lambda: all(_job(port, i)["state"] == "done" for i in (1, 2)), 60, "both jobs")
        first = _job(port, 1)
        # The killed attempt counts; the job ran to its end once, after the restart.
        assert first["attempts"] == 2
        assert _notes(tmp_path).count("end") == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert 'agentforge_process_restarts{process="jobs"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert [j["state"] for j in _jobs(tmp_path)] == ["done", "done"]


@pytest.mark.slow
def test_kill_9_of_the_server_stops_its_jobs_process_and_a_new_server_finishes(tmp_path):
    proc, port = _serve(tmp_path, slow_seconds=0.5, grace=5)
    (child,) = _children(proc.pid)
    for n in range(1, 4):
        assert _post(port, _comment(n), f"orphan-{n}") == 202
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # The child sees the server gone (its pipe closes) and stops with the grace, instead
    # of holding the data directory as an orphan.
    started = time.monotonic()
    _wait_for(lambda: not _alive(child), 30, "the orphaned jobs process to stop")
    assert time.monotonic() - started < 5 + 10 + 5  # its grace, the margin, slack
    second, port = _serve(tmp_path, slow_seconds=0.5, grace=5)
    try:
        _wait_for(lambda: all(_job(port, i)["state"] == "done" for i in (1, 2, 3)), 60, "the jobs")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    jobs = _jobs(tmp_path)
    assert [j["state"] for j in jobs] == ["done"] * 3
    assert _notes(tmp_path).count("end") == 3  # each ran to its end once


@pytest.mark.slow
def test_sigterm_stops_the_jobs_process_within_the_grace(tmp_path):
    proc, port = _serve(tmp_path, slow_seconds=30.0, grace=1.0)
    (child,) = _children(proc.pid)
    assert _post(port, _comment(1), "term-1") == 202
    _wait_for(lambda: "start" in _notes(tmp_path), 20, "the handler to start")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    # The server returns only once its child is gone: grace, then release and close.
    assert not _alive(child)
    assert time.monotonic() - started < 1.0 + 10 + 5
    (job,) = _jobs(tmp_path)
    assert job["state"] == "queued"  # released unfinished, run again at the next start
