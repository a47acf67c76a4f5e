"""The test harness itself: shared payloads skip (or fail in CI), settings are isolated.

These guard the README's promise that ``pip install -e '.[test]' && pytest`` passes on a
fresh clone with no ``../shared`` beside it, and that a test run never touches the
user's ``./.agentforge-data`` (e.g. one ``agentforge serve`` left in the checkout).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import load_settings
from tests.conftest import (
    REQUIRE_SHARED_ENV,
    ROOT,
    SHARED_DIR_ENV,
    snapshot_tree,
)

# A module that needs the shared payloads only inside its tests.
PAYLOAD_TESTS = "tests/unit/server/test_verify.py"


def _pytest(args: list[str], *, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFORGE_")}
    clean.update(env)
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_missing_shared_payloads_skip_with_how_to_get_them(tmp_path: Path) -> None:
    missing = tmp_path / "no-shared-here"
    run = _pytest([PAYLOAD_TESTS], cwd=ROOT, **{SHARED_DIR_ENV: str(missing)})
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    # The payload test is skipped; the module's other tests still ran.
    assert "1 skipped" in summary and "passed" in summary and "failed" not in summary
    assert SHARED_DIR_ENV in run.stdout  # the reason says how to point at them
    assert "../shared" in run.stdout


def test_ci_turns_the_skip_into_a_failure(tmp_path: Path) -> None:
    missing = tmp_path / "no-shared-here"
    run = _pytest(
        [PAYLOAD_TESTS], cwd=ROOT, **{SHARED_DIR_ENV: str(missing), REQUIRE_SHARED_ENV: "1"}
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "failed" in run.stdout and "skipped" not in run.stdout


def test_collection_needs_no_payloads(tmp_path: Path) -> None:
    # Every test module (the fakes included) imports without the payloads.
    run = _pytest(["--collect-only", "tests"], cwd=ROOT, **{SHARED_DIR_ENV: str(tmp_path / "none")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "error" not in run.stdout.lower().split("\n")[-2]


def test_every_agentforge_variable_is_cleared_and_data_dir_is_temporary(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    names = [n for n in os.environ if n.upper().startswith("AGENTFORGE_")]
    assert names == ["AGENTFORGE_DATA_DIR"]
    base = tmp_path_factory.getbasetemp()
    assert base in load_settings().data_dir.parents
    assert base in Path.home().parents
    assert base in Path(os.environ["XDG_DATA_HOME"]).parents


def test_ci_run_without_data_dir_leaves_the_working_directory_records_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What two runner tests did before: open ./.agentforge-data when it exists."""
    from bot.jobs.dispatch import InProcessDispatcher
    from bot.runner import run_in_ci
    from bot.store.db import Database
    from handlers.registry import HandlerRegistry

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    Database.open(checkout / ".agentforge-data").close()  # `agentforge serve` was here
    before = snapshot_tree(checkout / ".agentforge-data")
    monkeypatch.chdir(checkout)
    opened = []

    def dispatcher(settings, db):
        opened.append(db)
        return InProcessDispatcher(HandlerRegistry())

    push = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "push",
        "CI_PIPELINE_ID": "7",
        "CI_COMMIT_SHA": "a" * 40,
        "CI_COMMIT_REF_NAME": "main",
        "CI_PROJECT_PATH": "acme/app",
    }
    result = run_in_ci(push, dispatcher_factory=dispatcher)
    assert result.summary["status"] == "done"
    assert opened == [None]  # the default records are the test's own, and absent
    assert snapshot_tree(checkout / ".agentforge-data") == before


def test_a_run_that_writes_the_working_directory_data_dir_fails(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_writes.py").write_text(
        "from pathlib import Path\n"
        "def test_writes():\n"
        "    d = Path.cwd() / '.agentforge-data'\n"
        "    d.mkdir(exist_ok=True)\n"
        "    (d / 'audit.rows').write_text('leaked')\n"
    )
    (project / "test_clean.py").write_text("def test_clean():\n    assert True\n")
    leaked = _pytest(["-p", "tests.conftest", "test_writes.py"], cwd=project)
    assert leaked.returncode == 1, leaked.stdout + leaked.stderr
    assert ".agentforge-data" in leaked.stdout
    clean = _pytest(["-p", "tests.conftest", "test_clean.py"], cwd=project)
    assert clean.returncode == 0, clean.stdout + clean.stderr
