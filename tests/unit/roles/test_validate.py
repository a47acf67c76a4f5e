"""Output validation: each file kind, CI schemas, and running new tests."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from agents.roles.validate import check_file, new_test_files, validate_changes
from bot.actions import FileChange

WORKFLOW_OK = """\
name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m pytest -q
"""
GITLAB_OK = "stages: [test]\ntest:\n  stage: test\n  image: python:3.12\n  script: [pytest -q]\n"


@pytest.mark.parametrize(
    ("path", "text", "problem"),
    [
        ("a.py", "def f(:\n", "a.py:1: Python does not compile"),
        ("a.py", "def f():\n    return 1\n", None),
        ("a.json", '{"a": 1,}', "JSON does not parse"),
        ("a.json", '{"a": 1}', None),
        ("a.toml", "a = \n", "TOML does not parse"),
        ("a.toml", "a = 1\n", None),
        ("a.yaml", "a: [1,\n", "a.yaml:2: YAML does not parse"),
        ("a.yml", "a: 1\n---\nb: 2\n", None),
        (".github/workflows/ci.yml", WORKFLOW_OK, None),
        (".github/workflows/ci.yml", "on: push\njobs:\n  t:\n    steps: []\n", "jobs/t"),
        (".github/workflows/ci.yml", "name: x\n", "(top level)"),
        (".gitlab-ci.yml", GITLAB_OK, None),
        (".gitlab-ci.yml", "test:\n  script: 3\n", "test/script"),
        ("notes.txt", "anything {", None),
    ],
)
def test_check_file(path, text, problem):
    errors = check_file(path, text)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) >= 1 and problem in errors[0]


def test_new_test_files_are_only_added_ones():
    changes = [
        FileChange(path="tests/test_new.py", content="x"),
        FileChange(path="tests/test_old.py", content="x"),
        FileChange(path="pkg/thing_test.go", content="x"),
        FileChange(path="src/app.py", content="x"),
        FileChange(path="tests/test_gone.py", content=None),
    ]
    found = new_test_files(changes, existed=lambda p: p == "tests/test_old.py")
    assert found == ["tests/test_new.py", "pkg/thing_test.go"]


@dataclass
class Result:
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (Result(0, "1 passed"), None),
        (Result(1, "1 failed"), "the new tests fail (pytest exit 1)"),
        (Result(5), "collected no tests"),
        (Result(None, timed_out=True), "did not finish in time"),
    ],
)
def test_new_python_tests_are_run(result, error):
    calls = []

    def run(argv):
        calls.append(argv)
        return result

    changes = [FileChange(path="tests/test_a.py", content="def test_a():\n    pass\n")]
    report = validate_changes(changes, existed=lambda p: False, run=run)
    assert calls and calls[0][-1] == "tests/test_a.py" and "pytest" in calls[0]
    if error is None:
        assert report.ok and any("new tests pass" in n for n in report.notes)
    else:
        assert error in report.errors[0]


def test_tests_are_not_run_when_a_file_is_broken_and_other_stacks_are_noted():
    calls = []
    broken = [
        FileChange(path="tests/test_a.py", content="def (:\n"),
    ]
    report = validate_changes(broken, existed=lambda p: False, run=calls.append)
    assert not report.ok and calls == []
    go = [FileChange(path="x_test.go", content="package x\n")]
    report = validate_changes(go, existed=lambda p: False, run=calls.append)
    assert report.ok and calls == [] and "x_test.go" in report.notes[0]


# --- a phase that reproduces a bug (new_tests: fail), and the phase that fixes it ---------

BUGGY = "def sub(a, b):\n    return b - a\n"  # the bug: the operands are swapped
FIXED = "def sub(a, b):\n    return a - b\n"
REPRO = "from calc import sub\n\n\ndef test_sub_order():\n    assert sub(5, 3) == 2\n"
PINNED = "from calc import sub\n\n\ndef test_sub_same():\n    assert sub(2, 2) == 0\n"
BROKEN = "from calc import subtract\n\n\ndef test_it():\n    assert subtract(5, 3) == 2\n"


def tree_runner(tmp_path, files: dict[str, str], changes: list[FileChange]):
    """Runs argv with pytest on ``files`` plus ``changes`` (as the sandbox's tree is)."""
    tree = tmp_path / "tree"
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text, encoding="utf-8")
    for change in changes:
        target = tree / change.path
        if change.content is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change.content, encoding="utf-8")
    ran: list[list[str]] = []

    def run(argv):
        ran.append(argv)
        out = subprocess.run(argv, cwd=tree, capture_output=True, text=True, check=False)
        return Result(out.returncode, out.stdout, out.stderr)

    run.ran = ran  # type: ignore[attr-defined]
    return run


def _reproduce(tmp_path, changes):
    run = tree_runner(tmp_path, {"calc.py": BUGGY}, changes)
    return validate_changes(changes, existed=lambda p: False, run=run, new_tests="fail"), run


@pytest.mark.slow  # runs pytest in a subprocess per case
def test_a_reproduction_that_fails_on_the_buggy_code_is_accepted(tmp_path):
    changes = [FileChange(path="tests/test_sub_order.py", content=REPRO)]
    report, run = _reproduce(tmp_path, changes)
    assert report.ok, report.errors
    assert run.ran and run.ran[0][-1] == "tests/test_sub_order.py"


@pytest.mark.slow  # runs pytest in a subprocess per case
@pytest.mark.parametrize(
    "changes",
    [
        [FileChange(path="tests/test_sub_same.py", content=PINNED)],  # passes: no bug shown
        [FileChange(path="tests/test_it.py", content=BROKEN)],  # an import error, not the bug
        [FileChange(path="docs/notes.md", content="the bug is in sub\n")],  # no test at all
        # A reproducing test plus one that passes: every written test must fail.
        [
            FileChange(path="tests/test_sub_order.py", content=REPRO),
            FileChange(path="tests/test_sub_same.py", content=PINNED),
        ],
    ],
    ids=["passes", "does-not-collect", "no-test", "one-passes"],
)
def test_a_reproduction_that_does_not_fail_by_the_bug_is_refused(tmp_path, changes):
    report, _ = _reproduce(tmp_path, changes)
    assert not report.ok


@pytest.mark.slow  # runs pytest in a subprocess per case
def test_an_edited_existing_test_counts_in_a_reproduction(tmp_path):
    # Round 2 after a /reject rewrites round 1's test: it still has to fail.
    changes = [FileChange(path="tests/test_sub_order.py", content=PINNED)]
    run = tree_runner(tmp_path, {"calc.py": BUGGY, "tests/test_sub_order.py": REPRO}, changes)
    report = validate_changes(
        changes, existed=lambda p: p == "tests/test_sub_order.py", run=run, new_tests="fail"
    )
    assert not report.ok and run.ran


@pytest.mark.slow  # runs pytest in a subprocess per case
@pytest.mark.parametrize(
    ("changes", "ok"),
    [
        ([FileChange(path="calc.py", content=FIXED)], True),
        ([FileChange(path="README.md", content="sub is fixed\n")], False),  # not fixed
        ([FileChange(path="tests/test_sub_order.py", content=None)], False),  # deleted
        (
            [FileChange(path="calc.py", content=FIXED), FileChange(path="x.py", content="x = 1\n")],
            True,
        ),
    ],
    ids=["fixed", "not-fixed", "deleted", "fixed-plus-more"],
)
def test_the_fix_phase_must_make_the_reproduction_pass(tmp_path, changes, ok):
    files = {"calc.py": BUGGY, "tests/test_sub_order.py": REPRO}
    run = tree_runner(tmp_path, files, changes)
    report = validate_changes(
        changes, existed=lambda p: p in files, run=run, must_pass=["tests/test_sub_order.py"]
    )
    assert report.ok is ok, report.errors
