"""The supervisor of the jobs process: restart on death with backoff, stop within grace."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

import bot.intake.supervisor
from bot.intake.supervisor import Supervisor

# Child scripts: the supervisor appends `--parent-fd N`, which they ignore or use.
SLEEPER = "import time\nwhile True: time.sleep(0.05)"
STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\nwhile True: time.sleep(0.05)"
)
ORPHAN_AWARE = (
    "import sys, os, time\nfd = int(sys.argv[sys.argv.index('--parent-fd') + 1])\n"
    "while os.read(fd, 1): pass\nopen(sys.argv[1], 'w').write('parent gone')"
)


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail("timed out")


def test_a_killed_child_is_restarted_with_a_new_pid() -> None:
    sup = Supervisor("jobs", [sys.executable, "-c", SLEEPER], backoff_initial=0.05)
    sup.start()
    try:
        _wait_for(lambda: sup.alive)
        first = sup.pid
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: sup.restarts == 1 and sup.alive and sup.pid != first)
        assert sup.last_exit == -signal.SIGKILL
        second = sup.pid
        os.kill(second, signal.SIGKILL)
        _wait_for(lambda: sup.restarts == 2 and sup.alive and sup.pid not in (first, second))
    finally:
        sup.stop()
    assert not sup.alive


def test_restarts_back_off_while_the_child_keeps_dying() -> None:
    sup = Supervisor(
        "jobs",
        [sys.executable, "-c", "raise SystemExit(3)"],
        backoff_initial=0.05,
        backoff_max=0.4,
    )
    sup.start()
    try:
        _wait_for(lambda: sup.restarts >= 4)
        assert sup.last_exit == 3
    finally:
        sup.stop()
    restarts = sup.restarts
    time.sleep(0.3)
    assert sup.restarts == restarts  # stopped: nothing restarts it any more


def test_sigterm_stops_the_child_and_stop_returns_its_exit() -> None:
    sup = Supervisor("jobs", [sys.executable, "-c", SLEEPER], grace=5)
    sup.start()
    _wait_for(lambda: sup.alive)
    pid = sup.pid
    assert sup.stop() == -signal.SIGTERM
    assert not sup.alive and sup.restarts == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_child_that_ignores_sigterm_is_killed_after_its_grace(monkeypatch) -> None:
    monkeypatch.setattr(bot.intake.supervisor, "KILL_MARGIN_SECONDS", 0.2)
    import subprocess

    sup = Supervisor("jobs", [sys.executable, "-c", STUBBORN], grace=0.3)
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        kwargs["stdout"] = subprocess.PIPE
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(bot.intake.supervisor.subprocess, "Popen", popen)
    sup.start()
    assert sup._proc.stdout.readline() == b"ready\n"  # SIGTERM is ignored from here on
    assert sup.stop() == -signal.SIGKILL


def test_the_child_sees_its_parent_go(tmp_path) -> None:
    # The supervisor's end of the pipe closes with it (stop here; kill -9 does the same):
    # the child reads end-of-file. A child that outlives a killed server stops itself.
    note = tmp_path / "note"
    sup = Supervisor("jobs", [sys.executable, "-c", ORPHAN_AWARE, str(note)], grace=5)
    sup.start()
    _wait_for(lambda: sup.alive)
    proc = sup._proc
    os.close(sup._pipe_w)  # what the kernel does when the server dies
    sup._pipe_w = None
    proc.wait(20)
    assert note.read_text() == "parent gone"
    sup.stop()
