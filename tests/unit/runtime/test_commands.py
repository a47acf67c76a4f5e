"""`agentforge serve` and `agentforge run` register the shipped handlers and build services."""

from __future__ import annotations

import json
import os
import sys
import types

import pytest

import bot.judging_runs  # noqa: F401 - loads handlers.workflow before `shipped` stands in for it
import handlers
from bot.actions import PostComment
from bot.cli import main
from bot.events import EventKind
from bot.executor import ExecutingDispatcher
from bot.services import ServicesBuilder
from handlers.registry import REGISTRY

from .payloads import REPO, SECRET, issue_comment


def _acknowledge(event, ctx):
    return [PostComment(repo=REPO, number=event.number, body="seen")]


@pytest.fixture
def shipped(monkeypatch):
    """A stand-in for the engine's ``handlers.workflow`` (registers one handler)."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "CI_", "GITLAB_", "AGENTFORGE_")):
            monkeypatch.delenv(name)
    module = types.ModuleType("handlers.workflow")
    module.register = lambda registry: registry.register(EventKind.ISSUE_COMMENT, _acknowledge)
    monkeypatch.setitem(sys.modules, "handlers.workflow", module)
    # `import handlers.workflow as w` reads the package attribute first: once another
    # test imported the real engine, only replacing it here too makes the stand-in win.
    monkeypatch.setattr(handlers, "workflow", module, raising=False)
    yield
    REGISTRY.unregister(EventKind.ISSUE_COMMENT, _acknowledge)


def test_run_handles_with_the_shipped_handlers_without_import(shipped, tmp_path, capsys) -> None:
    payload = tmp_path / "event.json"
    payload.write_bytes(issue_comment(7, 1))
    args = ["run", "--forge", "github", "--event", "issue_comment", "--payload", str(payload)]
    assert main([*args, "--dry-run"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["handled"] is True
    assert [a["body"] for a in summary["actions"]] == ["seen"]


def test_run_without_the_shipped_handlers_says_so(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "handlers.workflow", None)
    payload = tmp_path / "event.json"
    payload.write_bytes(issue_comment(7, 1))
    code = main(["run", "--forge", "github", "--event", "issue_comment", "--payload", str(payload)])
    assert code == 1
    assert "handlers.workflow" in capsys.readouterr().err


def test_serve_runs_the_jobs_side_as_a_child_with_its_imports_and_overrides(
    shipped, tmp_path, monkeypatch
) -> None:
    import uvicorn

    import bot.intake.server

    monkeypatch.setenv("AGENTFORGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AGENTFORGE_GITHUB_WEBHOOK_SECRET", SECRET)
    built = {}

    def fake_create_app(settings, **kwargs):
        built.update(kwargs)
        return object()

    monkeypatch.setattr(bot.intake.server, "create_app", fake_create_app)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)
    try:
        assert main(["serve", "--port", "0", "--workers", "3", "--import", "json"]) == 0
    finally:
        if built.get("jobs_process") is not None:
            os.close(built["jobs_process"].intake_lock)
    jobs = built["jobs_process"]
    assert "db" not in built and "dispatcher" not in built  # the child opens and builds them
    assert jobs.imports == ("json",) and jobs.overrides == {"workers_heavy": 3}


def test_the_jobs_process_builds_services_inside_the_executing_dispatcher(
    shipped, tmp_path, monkeypatch
) -> None:
    import uvicorn

    import bot.jobs.process

    monkeypatch.setenv("AGENTFORGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AGENTFORGE_JOBS_NICE", "0")
    built = {}

    def fake_jobs_app(settings, db, dispatcher, grace):
        built.update(db=db, dispatcher=dispatcher, grace=grace)
        return object()

    monkeypatch.setattr(bot.jobs.process, "jobs_app", fake_jobs_app)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)
    try:
        code = bot.jobs.process.main(["--socket", str(tmp_path / "s"), "--grace", "7"])
    finally:
        if "db" in built:
            built["db"].close()
    assert code == 0 and built["grace"] == 7.0
    dispatcher = built["dispatcher"]
    assert isinstance(dispatcher, ExecutingDispatcher)
    assert isinstance(dispatcher.inner.services, ServicesBuilder)
    assert _acknowledge in REGISTRY.handlers_for(EventKind.ISSUE_COMMENT)
