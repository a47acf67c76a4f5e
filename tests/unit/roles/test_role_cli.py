"""``agentforge role run`` end to end on the OpenAI-wire fake."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from bot.cli import cli as main
from tests.fakes.openai_wire import OpenAIWireFake
from tests.unit.roles.role_helpers import git, make_repo

SUB = (
    '"""Subtraction."""\n\n\ndef sub(a: int, b: int) -> int:\n'
    '    """a minus b."""\n    return a - b\n'
)
SUB_TEST = "from sub import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"


@pytest.fixture
def fake() -> Iterator[OpenAIWireFake]:
    server = OpenAIWireFake()
    server.keyless_ok = True  # a local server needs no key
    try:
        yield server
        server.verify()
    finally:
        server.close()


def _repo(tmp_path, fake, *, routes=True):
    root = make_repo(tmp_path / "repo")
    config = (
        "models:\n  use_shipped_defaults: false\n  providers:\n"
        f"    fake: {{kind: openai, base_url: '{fake.base_url}', local: true}}\n"
    )
    if routes:
        config += "  routes:\n    default: [{provider: fake, model: gpt-4.1, max_tokens: 2000}]\n"
    (root / ".agentforge").mkdir()
    (root / ".agentforge" / "config.yaml").write_text(config)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    return root


def _script(fake):
    fake.reply("Reading the code first.", tool_calls=[("read_file", {"path": "calc.py"})])
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": "sub.py", "content": SUB}),
            ("write_file", {"path": "tests/test_sub.py", "content": SUB_TEST}),
        ],
    )
    fake.reply(None, tool_calls=[("final_answer", {"summary": "added sub", "confidence": 0.9})])


def test_role_run_shows_plan_calls_diff_and_usage_without_writing(tmp_path, fake):
    root = _repo(tmp_path, fake)
    _script(fake)
    out = CliRunner().invoke(
        main, ["role", "run", "developer", "--repo", str(root), "--task", "Add sub"]
    )
    assert out.exit_code == 0, out.output
    text = out.output
    assert "role developer" in text and "agents/roles/defaults/developer.md" in text
    assert "model 1: fake/gpt-4.1" in text
    assert "read_file path=calc.py" in text and "Reading the code first." in text
    assert "+def sub(a: int, b: int) -> int:" in text
    assert "completed" in text and "3 call(s)" in text
    assert "not applied" in text
    assert not (root / "sub.py").exists()


def test_role_run_apply_writes_the_working_tree(tmp_path, fake):
    root = _repo(tmp_path, fake)
    _script(fake)
    out = CliRunner().invoke(
        main, ["role", "run", "developer", "--repo", str(root), "--task", "Add sub", "--apply"]
    )
    assert out.exit_code == 0, out.output
    assert (root / "sub.py").read_text() == SUB
    assert (root / "tests" / "test_sub.py").read_text() == SUB_TEST
    assert "applied to the working tree: sub.py, tests/test_sub.py" in out.output


def test_role_run_json_with_an_issue_file(tmp_path, fake):
    root = _repo(tmp_path, fake)
    issue = tmp_path / "issue.json"
    issue.write_text(json.dumps({"title": "Subtract", "body": "sub(a, b)", "number": 4}))
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": "docs/requirements/issue-4.md", "content": "AC-1: x\n"})
        ],
    )
    fake.reply(None, tool_calls=[("final_answer", {"summary": "reqs", "confidence": 0.5})])
    out = CliRunner().invoke(
        main, ["role", "run", "analyst", "--repo", str(root), "--issue-file", str(issue), "--json"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "completed" and data["applied"] == []
    assert data["changes"] == [{"path": "docs/requirements/issue-4.md", "content": "AC-1: x\n"}]
    assert "+AC-1: x" in data["diff"]
    assert "issue.title" in json.dumps(fake.requests[0])


def test_role_run_markdown_issue_file(tmp_path, fake):
    root = _repo(tmp_path, fake)
    issue = tmp_path / "issue.md"
    issue.write_text("# Subtract numbers\n\nWe need sub.\n")
    fake.reply(None, tool_calls=[("final_answer", {"summary": "none", "confidence": 0.5})])
    out = CliRunner().invoke(
        main, ["role", "run", "analyst", "--repo", str(root), "--issue-file", str(issue)]
    )
    assert out.exit_code == 0, out.output
    assert "We need sub." in json.dumps(fake.requests[0])


def test_role_run_without_a_model_says_which_setting_to_add(tmp_path, fake, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    root = _repo(tmp_path, fake, routes=False)
    out = CliRunner().invoke(main, ["role", "run", "analyst", "--repo", str(root), "--task", "x"])
    assert out.exit_code == 1
    assert "models.routes.analyst" in out.output and ".agentforge/config.yaml" in out.output
    assert fake.requests == []


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("i.json", "{not json", "not valid JSON"),
        ("i.json", '{"body": "x"}', "'title'"),
        ("i.json", '{"title": "t", "number": "7"}', "'number'"),
        ("i.json", '{"title": "t", "labels": "a"}', "'labels'"),
        ("i.md", "no heading here\n", "'title'"),
    ],
)
def test_bad_issue_file_names_the_file_and_field(tmp_path, fake, name, text, field):
    root = _repo(tmp_path, fake)
    path = tmp_path / name
    path.write_text(text)
    out = CliRunner().invoke(
        main, ["role", "run", "analyst", "--repo", str(root), "--issue-file", str(path)]
    )
    assert out.exit_code == 2
    assert str(path) in out.output and field in out.output


def test_task_and_issue_file_are_exclusive(tmp_path, fake):
    root = _repo(tmp_path, fake)
    out = CliRunner().invoke(main, ["role", "run", "analyst", "--repo", str(root)])
    assert out.exit_code == 2 and "exactly one of --task or --issue-file" in out.output


def test_unknown_role_is_a_clear_error(tmp_path, fake):
    root = _repo(tmp_path, fake)
    out = CliRunner().invoke(main, ["role", "run", "poet", "--repo", str(root), "--task", "x"])
    assert out.exit_code == 1 and ".agentforge/roles/poet.md" in out.output
