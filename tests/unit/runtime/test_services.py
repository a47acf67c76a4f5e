"""The services factory: config at the default branch, repo reads, live actions, wiring."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pygit2
import pytest

import handlers
from bot.actions import PostComment
from bot.errors import Forbidden, RepoConfigError, Unavailable
from bot.events import EventKind
from bot.executor import ExecutingDispatcher, Executor
from bot.forge import Comment, RepoInfo, User
from bot.jobs.dispatch import InProcessDispatcher
from bot.jobs.queue import Job
from bot.parsers import parse_event
from bot.services import build_dispatcher, build_services
from bot.settings import Settings
from bot.store.audit import AuditLog
from bot.store.db import Database
from bot.workspace import Identity, Workspace
from handlers import register_defaults
from handlers.registry import HandlerRegistry

from .payloads import REPO, issue_comment, pull_request

STRICT = "approvers:\n  min_permission: admin\n"
LOOSE = "approvers:\n  min_permission: read\n  users: [mallory]\n"


class FakeForge:
    """An in-memory forge: files per ref, comments; records every read's ref."""

    name = "github"

    def __init__(self, origin: Path | None = None) -> None:
        self.files: dict[str, dict[str, str]] = {
            "main": {".agentforge/config.yaml": STRICT, ".agentforge/roles/analyst.md": "hi"},
            "agentforge/issue-7": {".agentforge/config.yaml": LOOSE},
        }
        self.refs_read: list[str] = []
        self.comments: list[Comment] = []
        self.whoami_calls = 0
        self.origin = origin

    def get_repo(self, repo: str) -> RepoInfo:
        return RepoInfo(full_name=repo, default_branch="main", clone_url="x")

    def get_file(self, repo: str, path: str, *, ref: str) -> str | None:
        self.refs_read.append(ref)
        return self.files.get(ref, {}).get(path)

    def list_dir(self, repo: str, path: str, *, ref: str) -> list[str]:
        self.refs_read.append(ref)
        prefix = path.rstrip("/") + "/"
        names = {
            p[len(prefix) :].split("/")[0] for p in self.files.get(ref, {}) if p.startswith(prefix)
        }
        return sorted(names)

    def list_mr_files(self, repo: str, number: int) -> list[str]:
        return ["src/a.py", "docs/b.md"]

    def whoami(self) -> User:
        self.whoami_calls += 1
        return User(login="agentforge-bot", is_bot=True)

    def clone_url(self, repo: str) -> str:
        return str(self.origin)

    def list_comments(self, repo: str, number: int, *, is_mr: bool = False) -> list[Comment]:
        return list(self.comments)

    def create_comment(self, repo: str, number: int, body: str, *, is_mr: bool = False) -> Comment:
        made = Comment(
            id=str(len(self.comments) + 1), body=body, author=User(login="agentforge-bot")
        )
        self.comments.append(made)
        return made

    def edit_comment(self, repo, number, comment_id, body, *, is_mr=False) -> Comment:
        i = next(i for i, c in enumerate(self.comments) if c.id == comment_id)
        self.comments[i] = self.comments[i].model_copy(update={"body": body})
        return self.comments[i]


class FakeRoles:
    def run(self, *args, **kwargs):  # pragma: no cover - not called in these tests
        raise AssertionError("not used")


class FakeContext:
    def add_discussion(self, *args, **kwargs) -> None:  # pragma: no cover
        raise AssertionError("not used")


def _job(job_id: int = 5, heartbeat=None) -> Job:
    return Job(
        id=job_id,
        delivery_id="d1",
        forge="github",
        event_name="pull_request",
        repo=REPO,
        subject=None,
        payload=b"",
        headers={},
        attempts=1,
        max_attempts=5,
        lease_owner="local:x",
        heartbeat=heartbeat,
    )


@pytest.fixture
def wiring(tmp_path: Path):
    db = Database.in_memory()
    forge = FakeForge()
    audit = AuditLog(db)
    settings = Settings(data_dir=tmp_path / "data")

    def executor_factory(event):
        return Executor(forge, audit=audit, clones_dir=tmp_path / "clones")

    factory = build_services(
        settings,
        db,
        executor_factory=executor_factory,
        roles=lambda f: (FakeRoles(), FakeContext()),
    )
    return factory, forge, db, executor_factory


def test_config_is_read_at_the_default_branch_never_the_mr_branch(wiring) -> None:
    factory, forge, _, _ = wiring
    event = parse_event("github", "pull_request", pull_request(12, "agentforge/issue-7"), "d1")
    services = factory(_job(), event)
    config = services.config.load(REPO, event.repo.default_branch)
    assert config.config.approvers.min_permission.value == "admin"
    assert config.config.approvers.users == []
    assert "analyst" in config.roles
    assert set(forge.refs_read) == {"main"}
    # Without a branch named, the repository's default is asked for, not a guess.
    assert services.config.load(REPO) is config


def test_config_of_equal_files_is_validated_once_and_errors_name_the_file(wiring) -> None:
    factory, forge, _, _ = wiring
    event = parse_event("github", "pull_request", pull_request(12, "agentforge/issue-7"), "d1")
    first = factory(_job(1), event).config.load(REPO, "main")
    second = factory(_job(2), event).config.load(REPO, "main")
    assert first is second  # two jobs, one validation
    forge.files["main"][".agentforge/config.yaml"] = "approvers: [not, a, mapping]\n"
    with pytest.raises(RepoConfigError) as info:
        factory(_job(3), event).config.load(REPO, "main")
    assert any(i.file == ".agentforge/config.yaml" for i in info.value.issues)


def test_services_carry_the_jobs_heartbeat_clock_and_bot_login(wiring) -> None:
    factory, forge, _, _ = wiring
    beats: list[int] = []
    event = parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    services = factory(_job(heartbeat=lambda: beats.append(1)), event)
    services.heartbeat()
    assert beats == [1]
    assert services.clock().tzinfo is not None
    assert services.bot_login == "agentforge-bot"
    factory(_job(6), event)
    assert forge.whoami_calls == 1  # cached per forge
    assert factory(_job(7), event).heartbeat() is None  # a job without a lease: a no-op
    assert services.repo.mr_changed_files(REPO, 12) == ["src/a.py", "docs/b.md"]
    assert services.repo.file_at(REPO, "agentforge/issue-7", ".agentforge/config.yaml") == LOOSE


def test_bot_login_setting_wins_over_the_token(tmp_path: Path) -> None:
    forge = FakeForge()
    factory = build_services(
        Settings(data_dir=tmp_path, bot_login="our-bot"),
        Database.in_memory(),
        executor_factory=lambda event: Executor(forge),
        roles=lambda f: (FakeRoles(), FakeContext()),
    )
    event = parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    assert factory(_job(), event).bot_login == "our-bot"
    assert forge.whoami_calls == 0


def test_action_sink_returns_outcomes_and_they_join_the_job_result_and_audit(wiring) -> None:
    factory, forge, db, executor_factory = wiring
    live: list[list] = []

    def handler(event, ctx):
        status = PostComment(repo=REPO, number=7, body="phase: running", marker_key="status")
        live.append(ctx.services.actions.apply([status]))
        live.append(ctx.services.actions.apply([status.model_copy(update={"body": "phase: done"})]))
        return [PostComment(repo=REPO, number=7, body="finished")]

    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, handler)
    dispatcher = ExecutingDispatcher(
        InProcessDispatcher(registry, services=factory), executor_factory
    )
    event = parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    result = dispatcher.dispatch(_job(), event)
    (posted,), (edited,) = live
    assert (posted.status, posted.landed) == ("applied", True)
    assert edited.status == "applied" and edited.result == posted.result  # same comment id
    assert [c.body.split("\n")[0] for c in forge.comments] == ["phase: done", "finished"]
    stages = [(o.get("stage"), o["status"]) for o in result["outcomes"]]
    assert stages == [("during_run", "applied"), ("during_run", "applied"), (None, "applied")]
    audited = [row[0] for row in db.fetchall("SELECT action FROM audit_log ORDER BY seq")]
    assert audited == ["comment.applied"] * 3


def test_diff_reads_base_dot_dot_dot_head_from_the_cached_clone(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    me = Identity("t", "t@example.invalid")
    ws = Workspace.open(origin, tmp_path / "seed")
    ws.write_file("a.txt", "one\n")
    ws.commit("base", author=me)
    ws.push("master") if ws.branch == "master" else ws.push()
    base = ws.branch
    ws.create_branch("feature", base)
    ws.write_file("a.txt", "one\ntwo\n")
    ws.commit("feature", author=me)
    ws.push("feature")
    forge = FakeForge(origin)
    factory = build_services(
        Settings(data_dir=tmp_path / "data"),
        Database.in_memory(),
        executor_factory=lambda event: Executor(forge),
        roles=lambda f: (FakeRoles(), FakeContext()),
    )
    event = parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    diff = factory(_job(), event).repo.diff(REPO, base, "feature")
    assert "+two" in diff and "a.txt" in diff
    # A later push is seen: the reader fetches before diffing.
    ws.write_file("b.txt", "three\n")
    ws.commit("more", author=me)
    ws.push("feature")
    assert "+three" in factory(_job(), event).repo.diff(REPO, base, "feature")


def test_without_forge_credentials_jobs_are_handled_and_say_why(tmp_path: Path) -> None:
    registry = HandlerRegistry()
    seen = []
    registry.register(EventKind.ISSUE_COMMENT, lambda ev, ctx: seen.append(ctx.services) or [])
    dispatcher = build_dispatcher(Settings(data_dir=tmp_path), Database.in_memory())
    dispatcher.inner.registry = registry
    result = dispatcher.dispatch(
        _job(), parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    )
    assert result["handled"] is True and seen == [None]
    assert "AGENTFORGE_GITHUB_TOKEN" in result["services"]


def test_register_defaults_registers_the_shipped_workflow(monkeypatch) -> None:
    registry = HandlerRegistry()
    shipped = types.ModuleType("handlers.workflow")

    def on_issue(event, ctx):
        return []

    shipped.register = lambda reg: reg.register(EventKind.ISSUE, on_issue)
    monkeypatch.setitem(sys.modules, "handlers.workflow", shipped)
    # The package attribute too: the real engine may be imported by an earlier test.
    monkeypatch.setattr(handlers, "workflow", shipped, raising=False)
    register_defaults(registry)
    register_defaults(registry)  # twice is a no-op
    assert registry.handlers_for(EventKind.ISSUE) == [on_issue]


def test_register_defaults_without_the_workflow_is_a_clear_import_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "handlers.workflow", None)  # import fails
    with pytest.raises(ImportError) as info:
        register_defaults(HandlerRegistry())
    assert info.value.name == "handlers.workflow"


def test_role_runner_is_built_on_first_use_and_once_per_forge(tmp_path: Path) -> None:
    built: list[str] = []

    class Runner:
        def run(self, task, *, config, ref, progress=None):
            return ("ran", task, ref)

    class Context:
        def __init__(self) -> None:
            self.added: list[str] = []

        def add_discussion(self, repo, *, number, is_mr, comment_id, author, body) -> None:
            self.added.append(body)

    context = Context()

    def wiring(forge):
        built.append(forge.name)
        return Runner(), context

    forge = FakeForge()
    factory = build_services(
        Settings(data_dir=tmp_path),
        Database.in_memory(),
        executor_factory=lambda event: Executor(forge),
        roles=wiring,
    )
    event = parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    first, second = factory(_job(1), event), factory(_job(2), event)
    assert built == []  # a job that runs no role never builds the runner
    assert first.roles.run("task", config=None, ref="agentforge/issue-7") == (
        "ran",
        "task",
        "agentforge/issue-7",
    )
    second.context.add_discussion(REPO, number=7, is_mr=False, comment_id="1", author="a", body="b")
    assert built == ["github"] and context.added == ["b"]


@pytest.mark.parametrize(
    ("error", "raised"), [(Unavailable("502"), True), (Forbidden("no"), False)]
)
def test_action_sink_raises_errors_a_retry_may_cure(wiring, error, raised) -> None:
    # The engine leaves a run's state untouched on a retryable error and lets the queue
    # retry the job; it can only do that if the live sink raises it (a failed outcome
    # would end the run: "the MR could not be opened: 502").
    factory, forge, _db, _executor_factory = wiring
    event = parse_event("github", "issue_comment", issue_comment(7, 1), "d1")
    services = factory(_job(), event)

    def refuse(*args, **kwargs):
        raise error

    forge.create_comment = refuse
    action = PostComment(repo=REPO, number=7, body="status")
    if raised:
        with pytest.raises(Unavailable):
            services.actions.apply([action])
    else:
        (result,) = services.actions.apply([action])
        assert result.status == "failed"
    assert [o["status"] for o in services.actions.applied()] == ["failed"]  # recorded
