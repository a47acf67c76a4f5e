"""One ordering subject for an issue and its MR: by the bot's branch, or by MR alias."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef, bot_branch, issue_of_branch
from bot.intake.server import create_app
from bot.jobs.dispatch import InProcessDispatcher
from bot.jobs.subjects import MrAliases, resolve_subject
from bot.runner import CIEvent, run_ci_event
from bot.settings import load_settings
from bot.store.db import Database
from bot.store.runs import DuckDBRunStore
from handlers.registry import HandlerRegistry

from .payloads import REPO, SECRET, issue_comment, pull_request, signed

ISSUE_7 = f"github:{REPO}:issue:7"


def _event(kind: EventKind, **fields) -> Event:
    return Event(
        forge=ForgeKind.GITHUB,
        kind=kind,
        repo=RepoRef(full_name=REPO),
        actor=Actor(login="alice"),
        **fields,
    )


def test_bot_branch_names_round_trip() -> None:
    assert bot_branch(7) == "agentforge/issue-7"
    assert issue_of_branch("agentforge/issue-7") == 7
    assert issue_of_branch("refs/heads/agentforge/issue-12") == 12
    for other in (
        None,
        "",
        "main",
        "agentforge/issue-",
        "agentforge/issue-0",
        "x/agentforge/issue-3",
    ):
        assert issue_of_branch(other) is None


@pytest.mark.parametrize(
    ("fields", "subject"),
    [
        (
            {"kind": EventKind.MR, "number": 12, "is_mr": True, "head_ref": "agentforge/issue-7"},
            ISSUE_7,
        ),
        (
            {"kind": EventKind.MR, "number": 12, "is_mr": True, "head_ref": "feature"},
            f"github:{REPO}:mr:12",
        ),
        (
            {
                "kind": EventKind.PUSH,
                "head_ref": "agentforge/issue-7",
                "ref": "refs/heads/agentforge/issue-7",
            },
            ISSUE_7,
        ),
        (
            {
                "kind": EventKind.PUSH,
                "head_ref": "agentforge/issue-7",
                "ref": "refs/tags/agentforge/issue-7",
            },
            None,
        ),
        ({"kind": EventKind.PIPELINE, "head_ref": "agentforge/issue-7"}, ISSUE_7),
        ({"kind": EventKind.PUSH, "head_ref": "main", "ref": "refs/heads/main"}, None),
        ({"kind": EventKind.ISSUE, "number": 7}, ISSUE_7),
        # An issue event never takes a subject from a branch-looking field.
        (
            {"kind": EventKind.ISSUE_COMMENT, "number": 3, "head_ref": "agentforge/issue-7"},
            f"github:{REPO}:issue:3",
        ),
    ],
)
def test_event_subject_follows_the_bot_branch(fields, subject) -> None:
    assert _event(**fields).subject() == subject


def test_mr_number_only_events_are_mapped_through_the_aliases() -> None:
    aliases = MrAliases()
    comment = _event(EventKind.MR_COMMENT, number=12, is_mr=True)
    assert resolve_subject(comment, aliases) == f"github:{REPO}:mr:12"
    aliases.add("github", REPO, 12, 7)
    assert resolve_subject(comment, aliases) == ISSUE_7
    assert resolve_subject(comment, None) == f"github:{REPO}:mr:12"
    # Another forge's MR 12 is another MR.
    other = comment.model_copy(update={"forge": ForgeKind.GITLAB})
    assert resolve_subject(other, aliases) == f"gitlab:{REPO}:mr:12"


def _run_with_mr(db: Database, issue: int = 7, mr: int = 12) -> None:
    store = DuckDBRunStore(db)
    run = store.create(
        run_id=f"run-{issue}",
        forge="github",
        repo=REPO,
        issue_number=issue,
        state="running",
        phase="build",
        branch=bot_branch(issue),
        data={},
    )
    assert store.compare_and_set(run.id, run.version, mr_number=mr) is not None


@contextmanager
def _server(data_dir: Path, *, dispatcher=None, workers: int = 1):
    settings = load_settings(
        data_dir=data_dir, github_webhook_secret=SECRET, workers=workers, job_lease_seconds=5
    )
    app = create_app(settings, dispatcher=dispatcher, start_workers=dispatcher is not None)
    with TestClient(app) as client:
        yield client, app.state.agentforge


def _post(client: TestClient, body: bytes, event: str, delivery: str) -> int:
    response = client.post("/webhooks/github", content=body, headers=signed(body, event, delivery))
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _subject(state, job_id: int) -> str | None:
    assert state.intake.flush(10)
    return state.db.fetchone("SELECT subject FROM jobs WHERE id = ?", [job_id])[0]


def test_server_gives_an_mr_comment_its_issue_subject_and_keeps_it_after_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with _server(data) as (client, state):
        before = _post(client, issue_comment(12, 1, on_mr=True), "issue_comment", "d1")
        assert _subject(state, before) == f"github:{REPO}:mr:12"
        by_branch = _post(client, pull_request(12, "agentforge/issue-7"), "pull_request", "d2")
        assert _subject(state, by_branch) == ISSUE_7
        _run_with_mr(state.db)  # the run records its MR: the alias is live at once
        after = _post(client, issue_comment(12, 2, on_mr=True), "issue_comment", "d3")
        assert _subject(state, after) == ISSUE_7
    with _server(data) as (client, state):  # a restart reloads the aliases from DuckDB
        assert state.aliases.issue_for("github", REPO, 12) == 7
        again = _post(client, issue_comment(12, 3, on_mr=True), "issue_comment", "d4")
        assert _subject(state, again) == ISSUE_7


def test_ci_runner_gives_an_mr_comment_its_issue_subject(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "data")
    try:
        _run_with_mr(db)
        seen: list[str | None] = []

        class Capture:
            def dispatch(self, job, event):
                seen.append(job.subject)
                return {"handled": True, "actions": []}

        ci = CIEvent("github", "issue_comment", issue_comment(12, 9, on_mr=True), "gha:1")
        settings = load_settings(data_dir=tmp_path / "data")
        result = run_ci_event(ci, settings, db=db, dispatcher=Capture())
        assert result.exit_code == 0
        assert seen == [ISSUE_7]
    finally:
        db.close()


class _Recorder:
    """Handlers that note when each job starts and ends; the first one waits for a gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.registry = HandlerRegistry()
        for kind in (EventKind.ISSUE_COMMENT, EventKind.MR_COMMENT, EventKind.MR):
            self.registry.register(kind, self.handle)

    def handle(self, event, ctx):
        with self._lock:
            self.log.append(("start", ctx.delivery_id))
        if ctx.delivery_id == "d1":
            assert self.gate.wait(30)
        with self._lock:
            self.log.append(("end", ctx.delivery_id))
        return []


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.02)


@pytest.mark.slow
def test_jobs_about_an_issue_and_its_mr_run_one_at_a_time_in_arrival_order(
    tmp_path: Path,
) -> None:
    recorder = _Recorder()
    dispatcher = InProcessDispatcher(recorder.registry)
    with _server(tmp_path / "data", dispatcher=dispatcher, workers=3) as (client, state):
        _run_with_mr(state.db)
        first = _post(client, issue_comment(7, 1), "issue_comment", "d1")
        _wait(lambda: ("start", "d1") in recorder.log)
        # A command on the MR, and a push to the bot's branch, while the phase runs.
        second = _post(client, issue_comment(12, 2, on_mr=True), "issue_comment", "d2")
        third = _post(client, pull_request(12, "agentforge/issue-7"), "pull_request", "d3")
        assert state.intake.flush(10)
        leased_until = state.db.fetchone("SELECT lease_expires_at FROM jobs WHERE id = ?", [first])[
            0
        ]
        # Let the heartbeat renew the running job's lease at least once...
        _wait(
            lambda: (
                state.db.fetchone("SELECT lease_expires_at FROM jobs WHERE id = ?", [first])[0]
                > leased_until
            )
        )
        # ...and the later jobs of the same subject are still kept waiting.
        states = dict(
            state.db.fetchall("SELECT id, state FROM jobs WHERE id IN (?, ?)", [second, third])
        )
        assert states == {second: "queued", third: "queued"}
        assert recorder.log == [("start", "d1")]
        recorder.gate.set()
        _wait(lambda: state.queue.depth()["done"] == 3)
    assert recorder.log == [
        ("start", "d1"),
        ("end", "d1"),
        ("start", "d2"),
        ("end", "d2"),
        ("start", "d3"),
        ("end", "d3"),
    ]
