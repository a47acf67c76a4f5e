"""Running one CI event: dedupe, dispatch + execute, summary and exit codes, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.actions import AddLabels, PostComment
from bot.cli import main
from bot.errors import MalformedPayload, SettingsError
from bot.events import EventKind
from bot.executor import ExecutingDispatcher, Executor
from bot.forge import Permission
from bot.forges.local import LocalForge
from bot.jobs.dispatch import InProcessDispatcher
from bot.runner import CIEvent, open_records, run_ci_event, run_in_ci
from bot.settings import Settings
from bot.store.audit import AuditLog
from bot.store.db import Database
from handlers.registry import HandlerRegistry
from tests.conftest import webhook_path


def comment_payload() -> Path:
    """The recorded payload file (skips the test without the shared payloads)."""
    return webhook_path("github", "issue_comment.created.variant-1.json")


REPO = "Codertocat/Hello-World"  # the repository in the recorded payload


def gha(**extra: str) -> dict[str, str]:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(comment_payload()),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "1234",
    }
    env.update(extra)
    return env


@pytest.fixture
def local(tmp_path) -> LocalForge:
    """The payload's repository on a local forge, with issue #1 the comment is on."""
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("hi\n")
    owner = LocalForge(tmp_path / "forge", "Codertocat")
    owner.init_project(REPO, seed)
    owner.grant(REPO, "bot", Permission.WRITE)
    owner.create_issue(REPO, "Spelling error in the README file")
    return LocalForge(tmp_path / "forge", "bot", is_bot=True)


def ack(event, ctx):
    return [
        PostComment(repo=event.repo.full_name, number=event.number, body="on it", marker_key="ack"),
        AddLabels(repo=event.repo.full_name, number=event.number, labels=["agentforge"]),
    ]


def dispatcher_factory(local, handler=ack):
    registry = HandlerRegistry()
    registry.register(EventKind.ISSUE_COMMENT, handler)

    def make(settings, db):
        audit = AuditLog(db) if db is not None else None
        return ExecutingDispatcher(
            InProcessDispatcher(registry),
            lambda ev: Executor(local, audit=audit),
            raise_retryable=False,
        )

    return make


def test_event_is_handled_once_then_deduped(local, tmp_path) -> None:
    data = tmp_path / "data"
    first = run_in_ci(gha(), data_dir=data, dispatcher_factory=dispatcher_factory(local))
    assert first.exit_code == 0
    assert first.summary["status"] == "done"
    assert [o["status"] for o in first.summary["outcomes"]] == ["applied", "applied"]
    assert (first.summary["repo"], first.summary["number"]) == (REPO, 1)

    again = run_in_ci(gha(), data_dir=data, dispatcher_factory=dispatcher_factory(local))
    assert again.summary["status"] == "duplicate"
    # Another run id, same change (e.g. the workflow re-triggered): still a duplicate.
    copy = run_in_ci(
        gha(GITHUB_RUN_ID="999"), data_dir=data, dispatcher_factory=dispatcher_factory(local)
    )
    assert copy.summary["status"] == "duplicate"
    assert len(local.list_comments(REPO, 1)) == 1
    assert local.get_issue(REPO, 1).labels == ["agentforge"]
    with Database.open(data) as db:
        log = AuditLog(db)
        assert [e.action for e in log.entries()] == ["comment.applied", "add_labels.applied"]
        assert log.verify().ok


def test_without_data_dir_nothing_is_deduped_but_writes_stay_idempotent(local) -> None:
    for _ in range(2):
        result = run_in_ci(gha(), dispatcher_factory=dispatcher_factory(local))
        assert result.summary["status"] == "done"
    assert len(local.list_comments(REPO, 1)) == 1


def test_failed_action_exits_1_and_is_not_remembered(local, tmp_path) -> None:
    def broken(event, ctx):
        return [PostComment(repo=REPO, number=404, body="x")]

    data = tmp_path / "data"
    result = run_in_ci(gha(), data_dir=data, dispatcher_factory=dispatcher_factory(local, broken))
    assert result.exit_code == 1
    assert result.summary["status"] == "failed"
    assert result.summary["outcomes"][0]["error"]["type"] == "NotFound"
    # A re-run of the job tries again instead of calling it a duplicate.
    rerun = run_in_ci(gha(), data_dir=data, dispatcher_factory=dispatcher_factory(local, broken))
    assert rerun.summary["status"] == "failed"


def test_repository_mismatch_is_refused(local) -> None:
    with pytest.raises(SettingsError) as info:
        run_in_ci(gha(GITHUB_REPOSITORY="evil/repo"), dispatcher_factory=dispatcher_factory(local))
    assert info.value.variable == "GITHUB_REPOSITORY"
    assert local.list_comments(REPO, 1) == []


def test_allowlist_and_ping_are_ignored(local, monkeypatch) -> None:
    monkeypatch.setenv("AGENTFORGE_REPO_ALLOWLIST", "acme/*")
    result = run_in_ci(gha(), dispatcher_factory=dispatcher_factory(local))
    assert result.summary["status"] == "ignored"
    monkeypatch.delenv("AGENTFORGE_REPO_ALLOWLIST")
    ping = webhook_path("github", "ping.repo.json")
    pong = run_in_ci(gha(GITHUB_EVENT_NAME="ping", GITHUB_EVENT_PATH=str(ping)))
    assert pong.summary["status"] == "ignored"
    assert local.list_comments(REPO, 1) == []


def test_malformed_payload_raises(tmp_path) -> None:
    bad = tmp_path / "event.json"
    bad.write_bytes(b"[1, 2")
    with pytest.raises(MalformedPayload):
        run_in_ci(gha(GITHUB_EVENT_PATH=str(bad)))


def test_ignored_source_needs_no_records(tmp_path) -> None:
    ci = CIEvent(forge="gitlab", ignored="schedule pipelines are not events")
    result = run_ci_event(ci, Settings(data_dir=tmp_path))
    assert result.summary["status"] == "ignored"
    assert not (tmp_path / "agentforge.duckdb").exists()


def test_records_are_opened_only_when_present_or_asked(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    assert open_records(settings, explicit=False) is None
    db = open_records(settings, explicit=True)
    assert db is not None
    db.close()
    again = open_records(settings, explicit=False)
    assert again is not None
    again.close()


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith(("GITHUB_", "CI_", "GITLAB_", "TRIGGER_", "AGENTFORGE_")):
            monkeypatch.delenv(name)
    return monkeypatch


def test_cli_missing_variable_exits_2_and_names_it(clean_env, capsys) -> None:
    clean_env.setenv("GITHUB_ACTIONS", "true")
    clean_env.setenv("GITHUB_EVENT_NAME", "issue_comment")
    assert main(["run"]) == 2
    assert "GITHUB_EVENT_PATH" in capsys.readouterr().err


def test_cli_outside_ci_exits_2(clean_env, capsys) -> None:
    assert main(["run"]) == 2
    assert "--forge" in capsys.readouterr().err


def test_cli_dry_run_prints_the_proposed_actions(clean_env, capsys, tmp_path) -> None:
    module = tmp_path / "ci_handlers_for_test.py"
    module.write_text(
        "from bot.actions import PostComment\n"
        "from bot.events import EventKind\n"
        "from handlers.registry import register\n"
        "def hello(event, ctx):\n"
        "    return [PostComment(repo=event.repo.full_name, number=event.number, body='hi')]\n"
        "register(EventKind.ISSUE_COMMENT, hello)\n"
    )
    clean_env.syspath_prepend(str(tmp_path))
    for name, value in gha().items():
        clean_env.setenv(name, value)
    try:
        code = main(["run", "--dry-run", "--import", "ci_handlers_for_test"])
    finally:
        import sys

        from handlers.registry import unregister

        added = sys.modules.pop("ci_handlers_for_test", None)
        if added is not None:
            unregister(EventKind.ISSUE_COMMENT, added.hello)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "dry_run"
    assert [a["body"] for a in out["actions"]] == ["hi"]
    assert "outcomes" not in out


def test_cli_bad_import_is_a_usage_error(clean_env) -> None:
    for name, value in gha().items():
        clean_env.setenv(name, value)
    assert main(["run", "--import", "no_such_module_here"]) == 2


HANDLER_MODULE = (
    "from bot.actions import PostComment\n"
    "from bot.events import EventKind\n"
    "from handlers.registry import register\n"
    "def hello(event, ctx):\n"
    "    return [PostComment(repo=event.repo.full_name, number=event.number, body='hi')]\n"
    "register(EventKind.ISSUE_COMMENT, hello)\n"
)


@pytest.fixture
def hello_handler(clean_env, tmp_path):
    """A handler module proposing one comment, importable as ``ci_hello_for_test``."""
    (tmp_path / "ci_hello_for_test.py").write_text(HANDLER_MODULE)
    clean_env.syspath_prepend(str(tmp_path))
    yield "ci_hello_for_test"
    import sys

    from handlers.registry import unregister

    added = sys.modules.pop("ci_hello_for_test", None)
    if added is not None:
        unregister(EventKind.ISSUE_COMMENT, added.hello)


def test_cli_proposed_actions_without_a_token_fail_naming_the_setting(
    clean_env, hello_handler, capsys, tmp_path
) -> None:
    for name, value in gha().items():
        clean_env.setenv(name, value)
    data = tmp_path / "records"
    code = main(["run", "--import", hello_handler, "--data-dir", str(data)])
    captured = capsys.readouterr()
    assert code == 1
    out = json.loads(captured.out)
    assert out["status"] == "not_applied"
    assert out["executed"] is False
    assert [a["body"] for a in out["actions"]] == ["hi"]
    assert "GITHUB_TOKEN" in captured.err and "AGENTFORGE_GITHUB_TOKEN" in captured.err
    assert "--dry-run" in captured.err
    # Not applied is not handled: a re-run (with the token set) tries again.
    with Database.open(data) as db:
        assert db.fetchone("SELECT count(*) FROM deliveries") == (0,)


def test_cli_gitlab_actions_without_a_token_name_the_gitlab_setting(
    clean_env, hello_handler, capsys, tmp_path
) -> None:
    payload = webhook_path("gitlab", "note_hook.issue.go-scm.json")
    code = main(["run", "--import", hello_handler, "--forge", "gitlab", "--payload", str(payload)])
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["status"] == "not_applied"
    assert "AGENTFORGE_GITLAB_TOKEN" in captured.err


def test_cli_dry_run_without_a_token_is_not_a_failure(clean_env, hello_handler, capsys) -> None:
    for name, value in gha().items():
        clean_env.setenv(name, value)
    assert main(["run", "--dry-run", "--import", hello_handler]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "dry_run"


@pytest.mark.parametrize(("forge", "event"), [("github", "issues"), ("gitlab", None)])
def test_cli_bad_payload_names_the_file(clean_env, capsys, tmp_path, forge, event) -> None:
    bad = tmp_path / "captured-delivery.json"
    bad.write_text('{"action": "opened", ')
    argv = ["run", "--forge", forge, "--payload", str(bad)]
    if event:
        argv += ["--event", event]
    assert main(argv) == 2
    assert str(bad) in capsys.readouterr().err


def test_cli_payload_of_the_wrong_shape_names_the_file(clean_env, capsys, tmp_path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text('{"action": "created"}')
    clean_env.setenv("GITHUB_EVENT_NAME", "issue_comment")
    clean_env.setenv("GITHUB_EVENT_PATH", str(bad))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "GITHUB_EVENT_PATH" in err
