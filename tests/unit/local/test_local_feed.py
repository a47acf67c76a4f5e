"""Local forge events through the real intake, queue, worker and handlers.

A local issue opened with a label becomes one queued job that a registered handler
sees, exactly once across a feeder restart (and across a crash between the commit and
the cursor write); the bot's own writes come back as events marked ``is_bot``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.actions import PostComment
from bot.errors import PayloadShapeError
from bot.events import Event, EventKind
from bot.executor import executor_factory_from_settings
from bot.forge import Permission
from bot.forges import make_forge
from bot.forges.local import LocalForge
from bot.intake.local_feed import CURSOR_NAME, CursorFile, LocalFeed, delivery_for
from bot.intake.server import create_app
from bot.jobs.dispatch import InProcessDispatcher
from bot.jobs.queue import JobQueue
from bot.jobs.worker import WorkerPool
from bot.parsers import parse_event
from bot.settings import Settings
from bot.store.db import Database
from handlers.registry import HandlerContext, HandlerRegistry

REPO = "alice/app"


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    directory = tmp_path / "forge"
    owner = LocalForge(directory, "alice")
    owner.init_project(REPO, seed)
    owner.grant(REPO, "agentforge", Permission.WRITE)
    return directory


class Seen:
    """A registered test handler that records what it was handed."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def __call__(self, event: Event, ctx: HandlerContext) -> list:
        with self.lock:
            self.events.append(event)
        return []

    def wait_for(self, n: int, timeout: float = 30.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= n:
                    return list(self.events)
            time.sleep(0.05)
        return list(self.events)


def _registry(seen: Seen) -> HandlerRegistry:
    registry = HandlerRegistry()
    for kind in (EventKind.ISSUE, EventKind.ISSUE_COMMENT):
        registry.register(kind, seen)
    return registry


def _run_queued(queue: JobQueue, registry: HandlerRegistry) -> list[str]:
    pool = WorkerPool(queue, InProcessDispatcher(registry), workers=1)
    states = []
    while (job := queue.lease("test")) is not None:
        states.append(pool.run_job(job))
    return states


def test_labelled_issue_is_one_job_across_restarts(forge_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = Database.open(data)
    queue = JobQueue(db)
    seen = Seen()
    try:
        LocalForge(forge_dir, "alice").create_issue(REPO, "Add login", labels=["agentforge"])
        feed = LocalFeed(forge_dir, queue, data / CURSOR_NAME)
        assert feed.poll_once() == 1
        assert _run_queued(queue, _registry(seen)) == ["done"]
        (event,) = seen.events
        assert (event.forge.value, event.kind, event.action) == ("local", EventKind.ISSUE, "opened")
        assert (event.number, event.labels, event.actor.login) == (1, ["agentforge"], "alice")
        assert event.actor.is_bot is False
        assert event.delivery_id and event.delivery_id == queue.list()[0]["delivery_id"]

        # A restarted feeder resumes after its cursor: nothing new, nothing again.
        restarted = LocalFeed(forge_dir, queue, data / CURSOR_NAME)
        assert restarted.poll_once() == 0
        # A crash after the commit but before the cursor write: resubmitted, deduplicated.
        CursorFile(data / CURSOR_NAME, forge_dir).save(0)
        assert LocalFeed(forge_dir, queue, data / CURSOR_NAME).poll_once() == 1
        assert _run_queued(queue, _registry(seen)) == []
        assert len(queue.list()) == 1
        assert len(seen.events) == 1
    finally:
        queue.close()
        db.close()


def test_bot_writes_come_back_marked_is_bot(forge_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", local_dir=forge_dir)
    bot = make_forge("local", settings)
    assert (bot.user, bot.is_bot) == ("agentforge", True)
    assert bot.whoami().is_bot is True
    issue = LocalForge(forge_dir, "alice").create_issue(REPO, "Add login")
    opened = bot.events()[-1][1]
    factory = executor_factory_from_settings(settings)
    outcomes = factory(opened).apply([PostComment(repo=REPO, number=issue.number, body="on it")])
    assert outcomes[0].status.value == "applied"
    _seq, event = bot.events()[-1]
    assert (event.kind, event.actor.login, event.actor.is_bot) == (
        EventKind.ISSUE_COMMENT,
        "agentforge",
        True,
    )
    parsed = parse_event("local", event.event_name, delivery_for(_seq, event).payload, "x")
    assert parsed.actor.is_bot is True and parsed.delivery_id == "x"


def test_serve_feeds_the_local_forge_through_intake(forge_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data, local_dir=forge_dir, insecure_no_webhook_secret=True, workers=1
    )
    alice = LocalForge(forge_dir, "alice")
    alice.create_issue(REPO, "Add login", labels=["agentforge"])
    seen = Seen()
    registry = _registry(seen)
    with TestClient(create_app(settings, dispatcher=InProcessDispatcher(registry))) as client:
        assert seen.wait_for(1)[0].labels == ["agentforge"]
        assert client.get("/readyz").status_code == 200
    cursor = json.loads((data / CURSOR_NAME).read_text(encoding="utf-8"))
    assert cursor["cursors"] == {str(forge_dir.resolve()): 1}
    # Restarted with one more event: only that one runs.
    alice.create_comment(REPO, 1, "more detail")
    with TestClient(create_app(settings, dispatcher=InProcessDispatcher(registry))):
        events = seen.wait_for(2)
    assert [e.kind for e in events] == [EventKind.ISSUE, EventKind.ISSUE_COMMENT]
    assert len(events) == 2


def test_local_parser_refuses_what_is_not_a_local_event() -> None:
    with pytest.raises(PayloadShapeError):
        parse_event("local", "issue", {"kind": "issue"})
    github_like = {
        "forge": "github",
        "kind": "issue",
        "event_name": "issue",
        "repo": {"full_name": "a/b"},
        "actor": {"login": "x"},
    }
    with pytest.raises(PayloadShapeError):
        parse_event("local", "issue", github_like)
    local = dict(github_like, forge="local")
    with pytest.raises(PayloadShapeError):
        parse_event("local", "merge_request", local)
    assert parse_event("local", "issue", local).repo.full_name == "a/b"


def test_broken_cursor_file_is_a_clear_store_error(forge_dir: Path, tmp_path: Path) -> None:
    from bot.errors import StoreError

    path = tmp_path / CURSOR_NAME
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(StoreError) as caught:
        CursorFile(path, forge_dir).load()
    assert str(path) in str(caught.value)  # names the file to fix
