"""ExecutingDispatcher (handlers, then executor) and the server's dispatcher choice."""

from __future__ import annotations

import pytest

from bot.actions import AddLabels, PostComment
from bot.errors import InvalidRequest, RateLimited, SettingsError
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef
from bot.executor import (
    ExecutingDispatcher,
    Executor,
    build_dispatcher,
    executor_factory_from_settings,
    forge_configured,
    parse_actions,
)
from bot.jobs.dispatch import InProcessDispatcher
from bot.jobs.queue import Job
from bot.settings import Settings
from handlers.registry import HandlerRegistry
from tests.unit.executor.support import REPO, Flaky

JOB = Job(
    id=42,
    delivery_id="d-1",
    forge="github",
    event_name="issue_comment",
    repo=REPO,
    subject=None,
    payload=b"{}",
    headers={},
    attempts=1,
    max_attempts=5,
    lease_owner="test",
)


def event(number: int, kind: EventKind = EventKind.ISSUE_COMMENT) -> Event:
    return Event(
        forge=ForgeKind.LOCAL,
        kind=kind,
        action="created",
        delivery_id="d-1",
        repo=RepoRef(full_name=REPO),
        actor=Actor(login="alice"),
        number=number,
        comment="/status",
    )


def dispatcher_for(forge, handler) -> ExecutingDispatcher:
    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, handler)
    return ExecutingDispatcher(InProcessDispatcher(registry), lambda ev: Executor(forge))


def test_proposed_actions_are_applied_and_reported(local, forge) -> None:
    n = local.create_issue(REPO, "t").number

    def handler(ev, ctx):
        return [
            PostComment(repo=REPO, number=ev.number, body="on it", marker_key="ack"),
            AddLabels(repo=REPO, number=ev.number, labels=["agentforge"]),
        ]

    result = dispatcher_for(forge, handler).dispatch(JOB, event(n))
    assert result["executed"] is True
    assert [o["status"] for o in result["outcomes"]] == ["applied", "applied"]
    assert len(result["actions"]) == 2
    again = dispatcher_for(forge, handler).dispatch(JOB, event(n))
    assert [o["status"] for o in again["outcomes"]] == ["skipped", "skipped"]
    assert len(local.list_comments(REPO, n)) == 1


def test_no_handler_or_no_actions_executes_nothing(local, forge) -> None:
    n = local.create_issue(REPO, "t").number
    built = []
    d = ExecutingDispatcher(
        InProcessDispatcher(HandlerRegistry()), lambda ev: built.append(ev) or Executor(forge)
    )
    result = d.dispatch(JOB, event(n))
    assert result["handled"] is False
    assert result["executed"] is False
    assert built == []
    quiet = dispatcher_for(forge, lambda ev, ctx: []).dispatch(JOB, event(n))
    assert quiet["executed"] is False
    assert forge.writes == []


def test_retryable_failure_raises_after_the_rest_ran(local) -> None:
    n = local.create_issue(REPO, "t").number
    forge = Flaky(local, {"add_labels": RateLimited("slow down", forge="local", retry_after=3)})

    def handler(ev, ctx):
        return [
            AddLabels(repo=REPO, number=ev.number, labels=["x"]),
            PostComment(repo=REPO, number=ev.number, body="done", marker_key="done"),
        ]

    with pytest.raises(RateLimited):
        dispatcher_for(forge, handler).dispatch(JOB, event(n))
    assert len(local.list_comments(REPO, n)) == 1


def test_permanent_failure_is_recorded_not_raised(local, forge) -> None:
    def handler(ev, ctx):
        return [PostComment(repo=REPO, number=999, body="x")]

    result = dispatcher_for(forge, handler).dispatch(JOB, event(1))
    assert result["outcomes"][0]["status"] == "failed"
    assert result["outcomes"][0]["error"]["type"] == "NotFound"


def test_missing_forge_credentials_leave_actions_unexecuted(local) -> None:
    def factory(ev):
        raise SettingsError("github: set AGENTFORGE_GITHUB_TOKEN")

    registry = HandlerRegistry()
    registry.register(
        EventKind.ISSUE_COMMENT,
        lambda ev, ctx: [PostComment(repo=REPO, number=1, body="x")],
    )
    result = ExecutingDispatcher(InProcessDispatcher(registry), factory).dispatch(JOB, event(1))
    assert result["executed"] is False
    assert "AGENTFORGE_GITHUB_TOKEN" in result["reason"]


def test_parse_actions_round_trip_and_garbage() -> None:
    actions = [PostComment(repo=REPO, number=1, body="x", marker_key="k")]
    dumped = [a.model_dump(mode="json") for a in actions]
    assert parse_actions(dumped) == actions
    with pytest.raises(InvalidRequest):
        parse_actions([{"type": "delete_repo", "repo": REPO}])


def test_server_dispatcher_executes_with_or_without_forge_credentials(tmp_path) -> None:
    # Without credentials the jobs still run and record why nothing was written
    # (see tests/unit/runtime/test_services.py).
    bare = Settings(data_dir=tmp_path)
    assert forge_configured(bare) is False
    assert isinstance(build_dispatcher(bare), ExecutingDispatcher)
    with_token = Settings(data_dir=tmp_path, github_token="ghp_x")
    assert forge_configured(with_token) is True
    assert isinstance(build_dispatcher(with_token), ExecutingDispatcher)
    assert forge_configured(Settings(data_dir=tmp_path, gitlab_token="glpat-x")) is True


def test_factory_builds_one_adapter_per_forge(tmp_path, monkeypatch) -> None:
    built = []

    def fake_make(name, settings):
        built.append(name)
        return Flaky(object())

    monkeypatch.setattr("bot.forges.make_forge", fake_make)
    factory = executor_factory_from_settings(Settings(data_dir=tmp_path, bot_login="bot"))
    a = factory(event(1))
    b = factory(event(2))
    assert built == ["local"]
    assert a.forge is b.forge
    assert a.identity.name == "bot"
