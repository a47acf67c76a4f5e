"""The supervisor: runs the jobs process as a child of the server, and keeps it running.

The intake process starts the child (``python -m bot.jobs.process``), restarts it if
it dies (with exponential backoff, reset once a child has run for
:data:`HEALTHY_SECONDS`), and stops it on shutdown: SIGTERM, which gives its running
jobs the server's shutdown grace, then SIGKILL once that grace and
:data:`KILL_MARGIN_SECONDS` have passed.

The child holds the read end of a pipe whose write end only the server has: when the
server dies, even by ``kill -9``, the child reads end-of-file and shuts down on its own
(with the same grace), so an orphan never keeps the data directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from bot.logs import get_logger

log = get_logger("bot.intake.supervisor")

BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
HEALTHY_SECONDS = 60.0
"""A child that ran this long before it died is restarted without waiting."""
KILL_MARGIN_SECONDS = 10.0
"""Time past the shutdown grace that a child gets to close its stores before SIGKILL."""
PARENT_FD_ARG = "--parent-fd"


class Supervisor:
    """One supervised child process (see the module docstring).

    Args:
        name: What the child is, for logs and metrics (``jobs``).
        command: The child's command line; ``--parent-fd N`` is appended.
        env: The child's environment.
        grace: Seconds the child's running work gets after SIGTERM.
        backoff_initial: First delay before a restart (doubles per quick death).
        backoff_max: Longest delay before a restart.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        grace: float = 30.0,
        backoff_initial: float = BACKOFF_INITIAL_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        self.grace = grace
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.restarts = 0
        self.last_exit: int | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._pipe_w: int | None = None
        self._pipe_r: int | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id (None between restarts)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def alive(self) -> bool:
        """True while a child runs."""
        return self.pid is not None

    def start(self) -> None:
        """Start the child and the thread that restarts it."""
        read_end, self._pipe_w = os.pipe()  # both ends close-on-exec; the child gets one
        self._pipe_r = read_end
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name=f"agentforge-supervise-{self.name}", daemon=True
        )
        self._watcher.start()

    def _spawn(self) -> None:
        command = [*self.command, PARENT_FD_ARG, str(self._pipe_r)]
        with self._lock:
            if self._stopping.is_set():
                return
            # Its own session: a terminal's Ctrl-C (sent to the foreground process group)
            # reaches the server only, which then stops the child with the grace.
            self._proc = subprocess.Popen(
                command, env=self.env, pass_fds=(self._pipe_r,), start_new_session=True
            )
        log.info("started child process", process=self.name, pid=self._proc.pid)

    def _watch(self) -> None:
        delay = self.backoff_initial
        while not self._stopping.is_set():
            proc = self._proc
            if proc is None:
                return
            started = time.monotonic()
            code = proc.wait()
            self.last_exit = code
            if self._stopping.is_set():
                return
            ran = time.monotonic() - started
            if ran >= HEALTHY_SECONDS:
                delay = self.backoff_initial
            log.error(
                "child process died; restarting",
                process=self.name,
                pid=proc.pid,
                exit_code=code,
                restart_in_s=round(delay, 2),
            )
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.backoff_max)
            self.restarts += 1
            self._spawn()

    def stop(self) -> int | None:
        """SIGTERM the child, wait its grace (plus a margin), then SIGKILL.

        Returns:
            The child's exit code (None if none was running).
        """
        self._stopping.set()
        with self._lock:
            proc = self._proc
        code = None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(self.grace + KILL_MARGIN_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("child process ignored SIGTERM; killing it", process=self.name)
                proc.kill()
                code = proc.wait()
        elif proc is not None:
            code = proc.returncode
        if self._watcher is not None:
            self._watcher.join(5)
        for fd in (self._pipe_w, self._pipe_r):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pipe_w = None
        self._pipe_r = None
        return code


def watch_parent(fd: int, on_exit: Callable[[], None]) -> threading.Thread:
    """In a child: call ``on_exit`` once the parent holding the pipe's write end is gone."""

    def wait() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        log.warning("the server process is gone; stopping")
        on_exit()

    thread = threading.Thread(target=wait, name="agentforge-parent-watch", daemon=True)
    thread.start()
    return thread
