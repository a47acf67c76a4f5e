"""Packaging facts other work relies on: our `agents`, a light CLI start, the top level."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = (
    "lancedb",
    "smolagents",
    "anthropic",
    "openai",
    "github3",
    "gitlab",
    "duckdb",
    "pygit2",
    "fastapi",
    "uvicorn",
    "pyarrow",
    "torch",
)


def test_agents_package_is_ours_not_the_openai_agents_sdk():
    import agents

    assert agents.__file__ is not None
    assert str(ROOT) in agents.__file__


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return {line.split(".")[0] for line in out.splitlines()}


def test_help_imports_no_heavy_library():
    loaded = _modules_after(
        "from bot.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_parse_event_imports_no_heavy_library(webhooks_dir):
    payload = webhooks_dir / "github" / "issues.opened.json"
    loaded = _modules_after(
        "from bot.cli import main\n"
        f"main(['parse-event', '--forge', 'github', '--event', 'issues', {str(payload)!r}])"
    )
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_top_level_layout_is_the_designed_one():
    expected = {
        "bot",
        "handlers",
        "agents",
        "policies",
        ".agentforge",
        "action",
        "deploy",
        "tests",
        "pyproject.toml",
        "README.md",
    }
    present = {p.name for p in ROOT.iterdir()}
    assert expected <= present
    allowed = expected | {
        "bench",
        "docs",
        ".ci",
        ".git",
        ".gitignore",
        ".agentforge-data",
        ".pytest_cache",
        ".ruff_cache",
        ".venv",
        "agentforge.egg-info",
        ".agentforge-local",
        "build",
        "dist",
        ".import_linter_cache",
    }
    assert present <= allowed, sorted(present - allowed)


def test_the_executable_exits_with_the_commands_status_after_the_exit_handlers(tmp_path) -> None:
    """``agentforge`` ends with os._exit after running atexit handlers (duckdb#13904)."""
    import subprocess
    import sys

    script = (
        "import atexit, sys\n"
        "from bot import cli\n"
        f"atexit.register(lambda: open({str(tmp_path / 'ran')!r}, 'w').write('yes'))\n"
        "sys.argv = ['agentforge', 'parse-event', '--forge', 'github', '--event', 'x',"
        " '/nonexistent-payload.json']\n"
        "cli.run()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "nonexistent-payload.json" in done.stderr
    assert (tmp_path / "ran").read_text() == "yes"
