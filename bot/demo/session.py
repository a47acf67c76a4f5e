"""The bot as ``agentforge serve --local DIR`` runs it, in this process; and the reviewer.

:class:`BotServer` composes exactly what ``serve`` composes (settings, the shipped
handlers, :func:`bot.services.build_dispatcher`, :func:`bot.intake.server.create_app` with its
workers and the local forge feed) and runs it with uvicorn on 127.0.0.1 in a thread, so
the dashboard answers while the demo runs. Nothing in the product knows it is a demo.

:class:`Reviewer` plays the people: when the run's status comment says a gate waits,
it posts ``/approve`` on the MR as the ``reviewer`` account (``human`` gates), submits
an approving review (``mr_approval``), or runs the demo's CI and reports its status
(``tests``) — each at most once per phase, round and head commit.

:class:`ProgressTap` reads the role progress the engine logs (``handlers.workflow.steps``
logs one ``role progress`` line per model step and tool call).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.demo import ci
from bot.demo.sandbox import REPO, REVIEWER, Sandbox

STEPS_LOGGER = "handlers.workflow.steps"
APPROVAL_DELAY = 1.2
"""Seconds a reviewer waits after a gate starts waiting (forge times are whole seconds,
and an ``/approve`` stamped before the wait began is refused as written too early)."""


class ProgressTap(logging.Handler):
    """Collects the engine's ``role progress`` records (:class:`RoleProgress`) in a queue."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.items: queue.Queue[Any] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's progress report, if it has one."""
        progress = getattr(record, "role_progress", None)
        if progress is not None:
            self.items.put((getattr(record, "phase", None), progress))

    def drain(self) -> list[tuple[str | None, Any]]:
        """Everything reported since the last call."""
        out = []
        while True:
            try:
                out.append(self.items.get_nowait())
            except queue.Empty:
                return out

    def __enter__(self) -> ProgressTap:
        logger = logging.getLogger(STEPS_LOGGER)
        logger.addHandler(self)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(STEPS_LOGGER).removeHandler(self)


class BotServer:
    """``agentforge serve --local <sandbox>/forge`` in a background thread.

    Args:
        box: The sandbox (its forge is fed, its data directory holds the stores).
        port: Port on 127.0.0.1 (0: any free one).
        workers: In-process workers.
    """

    def __init__(self, box: Sandbox, *, port: int = 0, workers: int = 2) -> None:
        from bot.settings import load_settings

        self.box = box
        # No webhook reaches this server (the local feed does), but its webhook routes
        # stay verified: a secret nobody knows, never the insecure flag.
        self.settings = load_settings(
            data_dir=box.data,
            local_dir=box.forge,
            workers=workers,
            repo_allowlist=[],
            github_webhook_secret=[secrets.token_hex(32)],
        )
        self.bot_login = self.settings.bot_login or "agentforge"
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._log_stream: Any = None

    @property
    def url(self) -> str:
        """The dashboard's address."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it listens.

        Raises:
            RuntimeError: it did not start (the log file says why).
        """
        import uvicorn

        from bot.commands._imports import register_shipped_handlers
        from bot.intake.server import create_app
        from bot.logs import configure_logging
        from bot.services import build_dispatcher
        from bot.store.db import Database

        self._log_stream = open(self.box.log, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        configure_logging("INFO", "json", stream=self._log_stream)
        register_shipped_handlers()
        db = Database.open(self.settings.data_dir)
        app = create_app(
            self.settings,
            db=db,
            dispatcher=build_dispatcher(self.settings, db),
            shutdown_grace=10,
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="agentforge-demo-server")
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the bot's server did not start; see {self.box.log}")
            time.sleep(0.05)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def alive(self) -> bool:
        """Whether the server thread still runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the server (running jobs get the shutdown grace to finish)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        if self._log_stream is not None:
            self._log_stream.flush()
            self._log_stream.close()
            self._log_stream = None


def read_run(box: Sandbox, issue: int, bot_login: str) -> Any:
    """The run's state as its status comment's marker says (None before there is one)."""
    from bot.forges.local import LocalForge
    from handlers.workflow.state import decode_marker

    viewer = LocalForge(box.forge, REVIEWER)
    found = None
    for comment in viewer.list_comments(REPO, issue):
        if comment.author.login.lower() != bot_login.lower():
            continue
        data = decode_marker(comment.body)
        if data is not None:
            found = data
    return found


def status_comment(box: Sandbox, issue: int, bot_login: str) -> Any:
    """The run's status comment (the bot's comment with a state marker), or None."""
    from bot.forges.local import LocalForge
    from handlers.workflow.state import decode_marker

    for comment in LocalForge(box.forge, REVIEWER).list_comments(REPO, issue):
        if comment.author.login.lower() == bot_login.lower() and decode_marker(comment.body):
            return comment
    return None


class Reviewer:
    """Acts on waiting gates as a reviewer and a CI would (see the module docstring).

    Args:
        box: The sandbox.
        say: Called with one line for people per thing done.
    """

    def __init__(self, box: Sandbox, say: Callable[[str], None]) -> None:
        from bot.forges.local import LocalForge

        self.box = box
        self.say = say
        self.forge = LocalForge(box.forge, REVIEWER)
        self.bare = Path(self.forge.bare_path(REPO))
        self.done: set[tuple[str, int, str, str]] = set()
        self.tests: dict[str, ci.TestRun] = {}

    def act(self, data: Any) -> None:
        """Do what the current phase's gate waits for (once per phase, round, head)."""
        phase = data.phase
        if data.outcome or phase is None or phase.state != "needs_approval":
            return
        head = phase.head_sha
        if not head or data.mr is None:
            return
        for gate in phase.awaiting:
            key = (phase.name, phase.round, head, gate)
            if key in self.done:
                continue
            if gate == "tests":
                self.done.add(key)
                self._ci(head)
            elif gate == "human":
                if not self._ready(phase.waiting_since):
                    continue
                self.done.add(key)
                self.forge.create_comment(REPO, data.mr, "/approve", is_mr=True)
                self.say(
                    f"{REVIEWER} commented /approve on MR !{data.mr} ({phase.name} at {head[:10]})"
                )
            elif gate == "mr_approval":
                if not self._ready(phase.waiting_since):
                    continue
                self.done.add(key)
                self.forge.submit_review(REPO, data.mr, "approved", "Looks good to me.")
                self.say(f"{REVIEWER} approved MR !{data.mr} ({phase.name} at {head[:10]})")

    @staticmethod
    def _ready(since: datetime | None) -> bool:
        if since is None:
            return True
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return (datetime.now(UTC) - since).total_seconds() >= APPROVAL_DELAY

    def _ci(self, sha: str) -> None:
        self.say(f"demo CI: running the sample project's tests on {sha[:10]} ...")
        run = self.test(sha)
        ci.report(self.box.forge, REPO, run)
        verdict = "success" if run.passed else "failure"
        self.say(f"demo CI: {run.summary} -> status {ci.CONTEXT}: {verdict} on {sha[:10]}")

    def test(self, sha: str) -> ci.TestRun:
        """The tests' outcome on ``sha`` (run once per commit)."""
        if sha not in self.tests:
            self.tests[sha] = ci.run_tests(self.bare, sha, self.box.ci)
        return self.tests[sha]

    def failing(self) -> ci.TestRun | None:
        """The last test run, if it failed."""
        runs = list(self.tests.values())
        return runs[-1] if runs and not runs[-1].passed else None
