"""``agentforge run --forge local --local DIR --event-id N``: one local event, runner path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.actions import PostComment
from bot.commands.run import run
from bot.events import Event, EventKind
from bot.forge import Permission
from bot.forges.local import LocalForge
from handlers.registry import REGISTRY, HandlerContext

REPO = "alice/app"


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    directory = tmp_path / "forge"
    LocalForge(directory, "alice").init_project(REPO, seed)
    LocalForge(directory, "alice").grant(REPO, "agentforge", Permission.WRITE)
    return directory


@pytest.fixture
def ack_handler():
    """A registered handler that answers every opened issue with a comment."""

    def ack(event: Event, ctx: HandlerContext) -> list:
        if event.action != "opened" or event.actor.is_bot:
            return []
        return [PostComment(repo=event.repo.full_name, number=event.number, body="seen")]

    REGISTRY.register(EventKind.ISSUE, ack)
    yield ack
    REGISTRY.unregister(EventKind.ISSUE, ack)


def _run(args: list[str], data: Path):
    env = {"AGENTFORGE_DATA_DIR": str(data), "AGENTFORGE_LOCAL_DIR": ""}
    return CliRunner().invoke(run, args, env=env, catch_exceptions=False)


def test_one_local_event_is_handled_and_written_back_once(forge_dir, tmp_path, ack_handler):
    # No trigger label: the shipped workflow would start a run on it (and, with no model
    # configured, fail it with a status comment); this test is about the runner path.
    issue = LocalForge(forge_dir, "alice").create_issue(REPO, "Add login", labels=["triage"])
    seq = LocalForge(forge_dir).events()[-1][0]
    args = ["--forge", "local", "--local", str(forge_dir), "--event-id", str(seq)]
    first = _run(args, tmp_path / "data")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert (summary["status"], summary["kind"], summary["forge"]) == ("done", "issue", "local")
    comments = LocalForge(forge_dir).list_comments(REPO, issue.number)
    assert [(c.body, c.author.login, c.author.is_bot) for c in comments] == [
        ("seen", "agentforge", True)
    ]
    again = _run(args, tmp_path / "data")
    assert json.loads(again.output)["status"] == "duplicate"
    assert len(LocalForge(forge_dir).list_comments(REPO, issue.number)) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--forge", "local", "--event-id", "1"], "--local DIR"),
        (["--forge", "local", "--local", "{dir}"], "--event-id"),
        (["--forge", "local", "--local", "{dir}", "--event-id", "999"], "no such event"),
        (["--forge", "local", "--local", "{empty}", "--event-id", "1"], "no local forge"),
        (["--forge", "github", "--local", "{dir}", "--event-id", "1"], "--forge local"),
    ],
)
def test_bad_local_run_arguments_are_named(forge_dir, tmp_path, args, says):
    (tmp_path / "empty").mkdir()
    filled = [a.format(dir=forge_dir, empty=tmp_path / "empty") for a in args]
    result = CliRunner().invoke(run, filled, env={"AGENTFORGE_LOCAL_DIR": ""})
    assert result.exit_code == 2
    assert says in result.output
