"""``agentforge demo`` end to end, as a user runs it (a subprocess of the installed CLI).

Without a model it must stop with exit status 2 and the settings to add, after doing
everything that needs none on a real local forge. With a model (the OpenAI-wire fake
scripted per role, reached through ``--model-url`` exactly as a user points the demo at
an OpenAI-compatible server) it must drive the six default phases to a ready MR whose
branch holds one trailered commit per phase and whose tests pass.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo import git_view
from bot.demo.sandbox import ISSUE_TITLE, REPO, TRIGGER_LABEL
from bot.forges.local import LocalForge
from handlers.workflow.state import decode_marker
from tests.fakes.openai_wire import OpenAIWireFake
from tests.fakes.role_script import RoleScript, final

pytestmark = pytest.mark.e2e

BOT = "agentforge"
PHASES = [
    ("discovery", "analyst"),
    ("design", "architect"),
    ("build", "developer"),
    ("validate", "qa"),
    ("launch", "devops"),
    ("document", "writer"),
]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without provider keys; Ollama looked for where none runs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY") and not k.startswith("AGENTFORGE_DEMO")
    }
    env["OLLAMA_HOST"] = f"127.0.0.1:{closed_port()}"
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run_demo(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``agentforge demo ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def the_status(forge: LocalForge) -> tuple:
    comments = [
        c
        for c in forge.list_comments(REPO, 1)
        if c.author.login == BOT and decode_marker(c.body) is not None
    ]
    assert len(comments) == 1, [c.body[:80] for c in comments]
    return comments[0], decode_marker(comments[0].body)


def test_without_a_model_it_does_what_needs_none_and_lists_the_settings(tmp_path):
    box = tmp_path / "box"
    out = run_demo(demo_env(tmp_path), "--dir", str(box))
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    for setting in (
        "export ANTHROPIC_API_KEY=",
        "export OPENAI_API_KEY=",
        "ollama pull",
        "--model-url",
    ):
        assert setting in text, setting
    assert "Estimated model cost" in text and "document" in text  # the up-front estimate
    assert "config and workflow valid" in text
    assert f"git clone {box.resolve()}" in text  # --dir keeps the sandbox, says how to look

    forge = LocalForge(box / "forge", "someone")
    [issue] = forge.list_issues(REPO, state="all")
    assert (issue.title, issue.labels) == (ISSUE_TITLE, [TRIGGER_LABEL])
    comment, data = the_status(forge)
    assert data.estimate_usd is not None and data.estimate_usd > 0
    assert [(p.name, p.role) for p in data.phases] == PHASES
    # The run stopped at its first phase for the reason the demo gives, nothing faked.
    assert data.outcome == "failed" and "ANTHROPIC_API_KEY" in data.error
    assert data.mr is None and data.phases[0].commits == []
    assert "estimated" in comment.body
    assert (box / "data" / "index").is_dir()  # the repository was indexed for the role
    assert git_view.commits(forge.bare_path(REPO), "agentforge/issue-1", "main") == []


def test_without_keep_the_temporary_sandbox_is_removed(tmp_path):
    env = demo_env(tmp_path)
    out = run_demo(env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert list((tmp_path / "tmp").glob("agentforge-demo-*")) == []
    assert "The sandbox is kept" not in out.stdout


def test_a_named_server_that_does_not_answer_is_not_configured(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    out = run_demo(demo_env(tmp_path), "--model-url", url, "--model", "m")
    assert out.returncode == 2
    assert url in out.stdout and "ANTHROPIC_API_KEY: not set" not in out.stdout


def test_a_non_empty_dir_is_refused(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "precious.txt").write_text("mine")
    out = run_demo(demo_env(tmp_path), "--dir", str(box))
    assert out.returncode == 2 and "--dir" in out.stderr
    assert [p.name for p in box.iterdir()] == ["precious.txt"]


# --- the whole workflow on a scripted model ------------------------------------------

REQUIREMENTS = (
    "# Requirements: Warn when stock runs low\n\n## Problem\nStaff learn an item ran out "
    "only when a customer asks.\n\n## Acceptance criteria\n"
    "1. AC-1: `needs_reorder()` lists items at or below their reorder level, by name.\n"
    "2. AC-2: the stock report marks those items with `(reorder)`.\n\n"
    "## Out of scope\nSuppliers.\n\n## Open questions\nNone.\n"
)
DESIGN = (
    "# Design: reorder levels\n\n## Overview\nA level per item in `Stock`.\n\n## Changes\n"
    "- `inventory/stock.py`: `set_reorder_level`, `needs_reorder`.\n"
    "- `inventory/report.py`: mark items.\n\n## Testing\nAC-1 and AC-2 in "
    "tests/test_reorder.py.\n\n## Files read\ninventory/stock.py\n"
)
STOCK_ADDITION = '''

    def set_reorder_level(self, name: str, level: int) -> None:
        """Ask for a reorder when ``name`` falls to ``level`` or below."""
        if level < 0:
            raise ValueError("level must not be negative")
        if not hasattr(self, "_levels"):
            self._levels: dict[str, int] = {}
        self._levels[self._key(name)] = level

    def needs_reorder(self) -> list[str]:
        """Items at or below their reorder level, sorted by name."""
        levels = getattr(self, "_levels", {})
        return sorted(k for k, v in levels.items() if self._items.get(k, 0) <= v)
'''
REPORT = '''"""A plain-text stock report."""

from __future__ import annotations

from inventory.stock import Stock


def stock_report(stock: Stock) -> str:
    """One line per item, ``name: quantity``, sorted by name; low items marked."""
    low = set(stock.needs_reorder())
    lines = [
        f"{name}: {count}" + (" (reorder)" if name in low else "")
        for name, count in stock.items().items()
    ]
    return "\\n".join(lines) if lines else "(empty)"
'''
REORDER_TEST = """from inventory import Stock
from inventory.report import stock_report


def test_needs_reorder():
    stock = Stock()
    stock.add("pears", 2)
    stock.add("apples", 9)
    stock.set_reorder_level("pears", 2)
    stock.set_reorder_level("apples", 3)
    assert stock.needs_reorder() == ["pears"]


def test_report_marks_low_items():
    stock = Stock()
    stock.add("pears", 1)
    stock.set_reorder_level("pears", 1)
    assert stock_report(stock) == "pears: 1 (reorder)"
"""
COVERED = {
    "AC-1": ["tests/test_reorder.py::test_needs_reorder"],
    "AC-2": ["tests/test_reorder.py::test_report_marks_low_items"],
}


def scripts(stock_py: str) -> dict[str, list]:
    """Each default role's steps on the inventory project."""
    report = (
        "# Test report: issue 1\n\n## Result\n`python -m pytest -q`: all passed\n\n"
        "## Coverage of acceptance criteria\n| AC | tests | result |\n|---|---|---|\n"
        "| AC-1 | tests/test_reorder.py::test_needs_reorder | pass |\n"
        "| AC-2 | tests/test_reorder.py::test_report_marks_low_items | pass |\n\n"
        "## Findings\nNone.\n"
    )
    qa_test = (
        "from inventory import Stock\n\n\ndef test_no_level_never_listed():\n"
        "    stock = Stock()\n    stock.add('figs', 1)\n"
        "    assert stock.needs_reorder() == []\n"
    )
    return {
        "analyst": [
            [("list_files", {"prefix": None})],
            [("read_file", {"path": "inventory/stock.py"})],
            [("write_file", {"path": "docs/requirements/issue-1.md", "content": REQUIREMENTS})],
            final("Requirements for reorder levels with two acceptance criteria.", 0.9),
        ],
        "architect": [
            [("read_file", {"path": "inventory/stock.py"})],
            [("write_file", {"path": "docs/design/issue-1.md", "content": DESIGN})],
            final("Design: reorder levels kept in Stock, marked in the report.", 0.85),
        ],
        "developer": [
            [("read_file", {"path": "inventory/stock.py"})],
            [
                ("write_file", {"path": "inventory/stock.py", "content": stock_py}),
                ("write_file", {"path": "inventory/report.py", "content": REPORT}),
                ("write_file", {"path": "tests/test_reorder.py", "content": REORDER_TEST}),
            ],
            [("run_command", {"command": "python -m pytest -q"})],
            final("Reorder levels in Stock and the report, with tests.", 0.9, COVERED),
        ],
        "qa": [
            [("write_file", {"path": "tests/test_reorder_qa.py", "content": qa_test})],
            [("run_command", {"command": "python -m pytest -q"})],
            [("write_file", {"path": "docs/test-reports/issue-1.md", "content": report})],
            final("All acceptance criteria pass; one extra test.", 0.9, COVERED),
        ],
        "devops": [
            [("list_files", {"prefix": None})],
            [
                (
                    "write_file",
                    {
                        "path": "deploy/Dockerfile",
                        "content": "FROM python:3.12-slim\nCOPY . /app\nUSER 1000\n",
                    },
                )
            ],
            final("A container file under deploy/.", 0.8),
        ],
        "writer": [
            [("list_files", {"prefix": None})],
            [
                (
                    "write_file",
                    {
                        "path": "CHANGELOG.md",
                        "content": "# Changelog\n\n- Reorder levels and `needs_reorder()` (#1)\n",
                    },
                )
            ],
            final("The changelog mentions reorder levels.", 0.9),
        ],
    }


@pytest.fixture
def script() -> Iterator[RoleScript]:
    fake = OpenAIWireFake()
    try:
        # What an OpenAI-compatible server answers when asked for its models.
        fake.server.expect_request("/v1/models", method="GET").respond_with_json(
            {"object": "list", "data": [{"id": "scripted-coder", "object": "model"}]}
        )
        yield RoleScript(fake)
        fake.server.check_assertions()
    finally:
        fake.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_whole_workflow_to_a_ready_mr(tmp_path, script):
    from bot.demo.sandbox import copy_sample

    sample = tmp_path / "sample"
    copy_sample(sample)
    stock_py = (sample / "inventory" / "stock.py").read_text() + STOCK_ADDITION
    for role, steps in scripts(stock_py).items():
        script.set(role, steps)
    box = tmp_path / "box"
    env = demo_env(tmp_path, AGENTFORGE_DEMO_MODEL_URL=script.fake.base_url)
    out = run_demo(env, "--dir", str(box), "--keep", timeout=900)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "scripted-coder" in text  # the model the server listed
    for phase, role in PHASES:
        assert f"{phase} ({role}) approved" in text
    assert "reviewer commented /approve" in text and "demo CI:" in text
    assert "Tests on the branch" in text and "pass" in text

    forge = LocalForge(box / "forge", "someone")
    _, data = the_status(forge)
    assert data.outcome == "succeeded"
    mr = forge.get_mr(REPO, data.mr)
    assert not mr.draft and mr.state == "open"
    commits = git_view.commits(forge.bare_path(REPO), data.branch, "main")
    assert [(c.phase, c.role) for c in commits] == PHASES
    files = git_view.changed_files(forge.bare_path(REPO), data.branch, "main")
    assert "inventory/stock.py" in files and "tests/test_reorder.py" in files
    # The gates were passed by people and CI on the forge, as the workflow requires.
    reviews = forge.list_reviews(REPO, data.mr)
    assert [r.author.login for r in reviews if r.state == "approved"] == ["reviewer"]
    approvals = [c for c in forge.list_comments(REPO, data.mr, is_mr=True) if c.body == "/approve"]
    assert {c.author.login for c in approvals} == {"reviewer"} and len(approvals) == 3
    checks = forge.list_checks(REPO, commits[-1].sha)
    assert checks == [] or all(c.state.value == "success" for c in checks)
    # The branch's tests pass, checked here independently of the demo.
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "-b", data.branch, str(forge.bare_path(REPO)), str(clone)],
        check=True,
    )
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout
    assert "7 passed" in tests.stdout
    assert script.runs_of("developer") == 1 and script.runs_of("writer") == 1
