"""Output validation: each file kind, CI schemas, and running new tests."""

from __future__ import annotations

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
