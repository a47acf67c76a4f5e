"""Each of the seven roles end to end through ShellRoleRunner on the wire fakes.

A real git repository stands in for the forge's copy; the runner clones it, checks out
the ref, indexes it and the issue's discussion, and runs the shipped role on a routed
model whose provider is the OpenAI- (or Anthropic-) wire fake. Artifacts are checked
for content.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.roles.contract import Discussion, IssueBrief, RoleTask
from agents.usage import MemoryLedger
from bot.repoconfig import load_files
from bot.roles import ShellRoleRunner
from tests.fakes.anthropic_wire import AnthropicWireFake
from tests.fakes.openai_wire import OpenAIWireFake
from tests.unit.roles.role_helpers import KEY_ENV, MODEL, git, make_repo

pytestmark = pytest.mark.slow

ISSUE = IssueBrief(
    number=7,
    title="Subtract numbers",
    body="calc needs sub(a, b). Negative results are allowed.",
    labels=["feature"],
    author="ann",
)
DISCUSSION = [Discussion(author="bob", body="Rounding: integers only, no floats for now.")]
REQUIREMENTS = """\
# Requirements: Subtract numbers

## Problem
calc can add but not subtract.

## Acceptance criteria
1. AC-1: `sub(5, 3)` returns `2`.
2. AC-2: `sub(1, 3)` returns `-2` (negative results are allowed).

## Out of scope
Floats.

## Open questions
None.
"""
SUB = (
    '"""Subtraction."""\n\n\ndef sub(a: int, b: int) -> int:\n'
    '    """a minus b."""\n    return a - b\n'
)
SUB_TEST = (
    "from sub import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n\n\n"
    "def test_negative():\n    assert sub(1, 3) == -2\n"
)


class RepoForge:
    """Just what the runner asks of a forge: its name and a clone URL."""

    name = "local"

    def __init__(self, remote: Path) -> None:
        self.remote = remote

    def clone_url(self, repo: str) -> str:
        return str(self.remote)


def _config(kind: str, base_url: str, extra: str = "") -> object:
    text = (
        "models:\n  use_shipped_defaults: false\n  providers:\n"
        f"    fake: {{kind: {kind}, base_url: '{base_url}', api_key_env: FAKE_API_KEY}}\n"
        f"  routes:\n    default: [{{provider: fake, model: {MODEL[kind]}, max_tokens: 2000}}]\n"
        + extra
    )
    return load_files({".agentforge/config.yaml": text})


@pytest.fixture
def fake() -> Iterator[OpenAIWireFake]:
    server = OpenAIWireFake()
    try:
        yield server
        server.verify()
    finally:
        server.close()


@pytest.fixture
def remote(tmp_path) -> Path:
    return make_repo(tmp_path / "remote")


def run(tmp_path, remote, fake, role, *, kind="openai", extra="", ref="agentforge/issue-7", **kw):
    ledger = MemoryLedger()
    runner = ShellRoleRunner(
        forge=RepoForge(remote),
        clones_dir=tmp_path / "clones",
        ledger=ledger,
        index_dir=tmp_path / "index",
        env=KEY_ENV,
    )
    task = RoleTask(
        role=role,
        repo="acme/calc",
        run_id="run-1",
        phase=role,
        issue=ISSUE,
        discussion=DISCUSSION,
        **kw,
    )
    result = runner.run(task, config=_config(kind, fake.base_url, extra), ref=ref)
    return result, ledger


def final(fake, **fields) -> None:
    fake.reply(
        None, tool_calls=[("final_answer", {"summary": "done", "confidence": 0.8, **fields})]
    )


def contents(result) -> dict[str, str | None]:
    return {c.path: c.content for c in result.changes}


def test_analyst_writes_requirements_with_acceptance_criteria(tmp_path, remote, fake):
    fake.reply(None, tool_calls=[("search_discussions", {"query": "rounding integers"})])
    fake.reply(None, tool_calls=[("read_file", {"path": "calc.py"})])
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": "docs/requirements/issue-7.md", "content": REQUIREMENTS})
        ],
    )
    final(fake, questions=[])
    result, ledger = run(tmp_path, remote, fake, "analyst")

    assert result.status == "completed", result.error
    doc = contents(result)["docs/requirements/issue-7.md"]
    assert "AC-1:" in doc and "AC-2:" in doc
    assert "## Out of scope" in doc and "## Open questions" in doc
    # The discussion was indexed: search_discussions found the comment.
    found = result.transcript[0]
    assert found.tool == "search_discussions" and "integers only" in found.result
    # The prompt carried the issue body as data and the context pack.
    prompt = json.dumps(fake.requests[0]["messages"])
    assert "issue.body" in prompt and "Negative results are allowed" in prompt
    assert '<data name=\\"context\\">' in prompt and "calc.py" in prompt
    assert all(r.run_id == "run-1" and r.role == "analyst" for r in ledger.records)


def test_analyst_asks_when_the_issue_is_vague(tmp_path, remote, fake):
    fake.reply(None, tool_calls=[("ask_human", {"question": "What should 'better' mean?"})])
    final(fake, confidence=0.1)
    result, _ = run(tmp_path, remote, fake, "analyst")
    assert result.status == "needs_human"
    assert result.questions == ["What should 'better' mean?"] and result.changes == []


def test_architect_cites_the_files_it_read(tmp_path, remote, fake):
    design = (
        "# Design: sub\n\n## Overview\nAdd `sub` beside `add`.\n\n## Changes\n- `calc.py`: add "
        "`sub(a, b)`.\n\n## Testing\nAC-1, AC-2 in tests/test_calc.py.\n\n## Files read\ncalc.py\n"
    )
    fake.reply(None, tool_calls=[("read_file", {"path": "calc.py"})])
    fake.reply(None, tool_calls=[("git_log", {"path": "calc.py"})])
    fake.reply(
        None, tool_calls=[("write_file", {"path": "docs/design/issue-7.md", "content": design})]
    )
    final(fake)
    result, _ = run(
        tmp_path,
        remote,
        fake,
        "architect",
        artifacts={"docs/requirements/issue-7.md": REQUIREMENTS},
    )
    assert result.status == "completed", result.error
    doc = contents(result)["docs/design/issue-7.md"]
    read = [c.arguments["path"] for c in result.transcript if c.tool == "read_file"]
    cited = doc.split("## Files read\n")[1].split()
    assert cited == read == ["calc.py"]
    assert "initial" in result.transcript[1].result  # git_log saw the commit
    assert "AC-1" in json.dumps(fake.requests[0]["messages"])  # requirements in the prompt


def test_developer_code_and_test_pass_in_the_sandbox(tmp_path, remote, fake):
    fake.reply(None, tool_calls=[("read_file", {"path": "calc.py"})])
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": "sub.py", "content": SUB}),
            ("write_file", {"path": "tests/test_sub.py", "content": SUB_TEST}),
        ],
    )
    fake.reply(None, tool_calls=[("run_command", {"command": "python -m pytest -q"})])
    final(
        fake,
        covered={
            "AC-1": ["tests/test_sub.py::test_sub"],
            "AC-2": ["tests/test_sub.py::test_negative"],
        },
    )
    result, _ = run(tmp_path, remote, fake, "developer")
    assert result.status == "completed", result.error
    assert contents(result) == {"sub.py": SUB, "tests/test_sub.py": SUB_TEST}
    assert "3 passed" in result.transcript[-2].result
    assert set(result.covered) == {"AC-1", "AC-2"}


def test_developer_works_on_the_existing_run_branch(tmp_path, remote, fake):
    git(remote, "checkout", "-q", "-b", "agentforge/issue-7")
    (remote / "sub.py").write_text(SUB)
    git(remote, "add", "-A")
    git(remote, "commit", "-q", "-m", "sub")
    git(remote, "checkout", "-q", "main")
    fake.reply(None, tool_calls=[("read_file", {"path": "sub.py"})])
    final(fake)
    result, _ = run(tmp_path, remote, fake, "developer")
    assert result.status == "completed"
    assert "def sub" in result.transcript[0].result and not result.transcript[0].error


def test_qa_tests_the_criteria_runs_the_suite_and_reports(tmp_path, remote, fake):
    qa_test = "from calc import add\n\n\ndef test_add_negative():\n    assert add(-1, -2) == -3\n"
    report = (
        "# Test report: issue 7\n\n## Result\n`python -m pytest -q`: 2 passed, 0 failed\n\n"
        "## Coverage of acceptance criteria\n| AC | tests | result |\n|---|---|---|\n"
        "| AC-1 | tests/test_calc_qa.py::test_add_negative | pass |\n\n## Findings\nNone.\n"
    )
    fake.reply(
        None, tool_calls=[("write_file", {"path": "tests/test_calc_qa.py", "content": qa_test})]
    )
    fake.reply(None, tool_calls=[("run_command", {"command": "python -m pytest -q"})])
    fake.reply(
        None,
        tool_calls=[("write_file", {"path": "docs/test-reports/issue-7.md", "content": report})],
    )
    final(fake, covered={"AC-1": ["tests/test_calc_qa.py::test_add_negative"]})
    result, _ = run(
        tmp_path, remote, fake, "qa", artifacts={"docs/requirements/issue-7.md": REQUIREMENTS}
    )
    assert result.status == "completed", result.error
    assert "2 passed" in result.transcript[1].result
    written = contents(result)
    assert "AC-1" in written["docs/test-reports/issue-7.md"]
    assert written["tests/test_calc_qa.py"] == qa_test
    assert result.covered == {"AC-1": ["tests/test_calc_qa.py::test_add_negative"]}


WORKFLOW = """\
name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.12"}
      - run: pip install pytest && python -m pytest -q
"""


def test_devops_writes_a_schema_valid_workflow_when_allowed(tmp_path, remote, fake):
    fake.reply(None, tool_calls=[("read_file", {"path": "pyproject.toml"})])
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": ".github/workflows/ci.yml", "content": WORKFLOW}),
            ("write_file", {"path": "Dockerfile", "content": "FROM python:3.12-slim\nUSER 1000\n"}),
        ],
    )
    final(fake)
    result, _ = run(
        tmp_path, remote, fake, "devops", forge="github", extra="ci_writers: [devops]\n"
    )
    assert result.status == "completed", result.error
    assert contents(result)[".github/workflows/ci.yml"] == WORKFLOW
    prompt = json.dumps(fake.requests[0]["messages"])
    assert "Detected stack: python" in prompt and "You may write it" in prompt


def test_devops_ci_file_is_protected_by_default_and_proposed_instead(tmp_path, remote, fake):
    fake.reply(
        None, tool_calls=[("write_file", {"path": ".github/workflows/ci.yml", "content": WORKFLOW})]
    )
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": "deploy/ci/ci.yml", "content": WORKFLOW}),
            ("write_file", {"path": "docs/ci.md", "content": "# CI\n\nCopy deploy/ci/ci.yml.\n"}),
        ],
    )
    final(fake)
    result, _ = run(tmp_path, remote, fake, "devops", forge="github")
    assert result.status == "completed", result.error
    assert result.transcript[0].error and "protected" in result.transcript[0].result
    assert set(contents(result)) == {"deploy/ci/ci.yml", "docs/ci.md"}
    assert "do not write it" in json.dumps(fake.requests[0]["messages"])


def test_devops_invalid_workflow_fails_after_one_correction(tmp_path, remote, fake):
    bad = "on: push\njobs:\n  test:\n    steps: []\n"
    for _ in range(2):
        fake.reply(
            None, tool_calls=[("write_file", {"path": ".github/workflows/ci.yml", "content": bad})]
        )
        final(fake)
    result, _ = run(
        tmp_path, remote, fake, "devops", forge="github", extra="ci_writers: [devops]\n"
    )
    assert result.status == "failed"
    assert ".github/workflows/ci.yml" in result.error and "github-workflows" in result.error


def test_writer_updates_readme_and_changelog(tmp_path, remote, fake):
    readme = (
        "# calc\n\nAdds and subtracts numbers.\n\n"
        "```python\nfrom sub import sub\nsub(5, 3)  # 2\n```\n"
    )
    changelog = "# Changelog\n\n## Unreleased\n\n- `sub(a, b)` subtracts two integers (#7)\n"
    fake.reply(None, tool_calls=[("read_file", {"path": "README.md"})])
    fake.reply(
        None,
        tool_calls=[
            ("write_file", {"path": "README.md", "content": readme}),
            ("write_file", {"path": "CHANGELOG.md", "content": changelog}),
        ],
    )
    final(fake)
    result, _ = run(tmp_path, remote, fake, "writer")
    assert result.status == "completed", result.error
    written = contents(result)
    assert "subtracts" in written["README.md"]
    assert written["CHANGELOG.md"].startswith("# Changelog\n\n## Unreleased")
    assert "(#7)" in written["CHANGELOG.md"]


def test_reviewer_returns_findings_and_changes_nothing(tmp_path, remote, fake):
    diff = "--- a/calc.py\n+++ b/calc.py\n@@ -5,0 +6,3 @@\n+def sub(a, b):\n+    return a - b\n"
    fake.reply(None, tool_calls=[("read_file", {"path": "calc.py"})])
    final(
        fake,
        verdict="changes",
        findings=["calc.py:6: sub has no test for AC-2 (negative results)"],
        confidence=0.7,
    )
    result, _ = run(
        tmp_path,
        remote,
        fake,
        "reviewer",
        diff=diff,
        artifacts={"docs/requirements/issue-7.md": REQUIREMENTS},
    )
    assert result.status == "completed", result.error
    assert result.verdict == "changes"
    assert result.findings == ["calc.py:6: sub has no test for AC-2 (negative results)"]
    assert result.changes == []
    prompt = json.dumps(fake.requests[0]["messages"])
    assert '<data name=\\"diff\\">' in prompt and "def sub" in prompt


def test_a_role_on_the_anthropic_wire(tmp_path, remote):
    server = AnthropicWireFake(api_key="sk-test")
    try:
        server.reply(None, tool_calls=[("read_file", {"path": "calc.py"})])
        server.reply(
            None,
            tool_calls=[
                ("write_file", {"path": "docs/requirements/issue-7.md", "content": REQUIREMENTS})
            ],
        )
        server.reply(
            None, tool_calls=[("final_answer", {"summary": "requirements", "confidence": 0.9})]
        )
        result, ledger = run(tmp_path, remote, server, "analyst", kind="anthropic")
        server.verify()
    finally:
        server.close()
    assert result.status == "completed", result.error
    assert "AC-2" in contents(result)["docs/requirements/issue-7.md"]
    assert result.usage.calls == 3 and all(r.provider == "fake" for r in ledger.records)
    assert result.usage.cost_usd > 0


def test_no_usable_model_says_which_setting_to_add(tmp_path, remote, fake):
    runner = ShellRoleRunner(
        forge=RepoForge(remote), clones_dir=tmp_path / "clones", ledger=MemoryLedger(), env={}
    )
    task = RoleTask(role="analyst", repo="acme/calc", issue=ISSUE)
    result = runner.run(task, config=_config("openai", fake.base_url), ref="main")
    assert result.status == "failed"
    assert "FAKE_API_KEY" in result.error and "models.routes.analyst" in result.error
    assert fake.requests == []
