"""Checks a role's staged outputs must pass before they are offered for commit.

- ``.py`` files compile; ``.json``, ``.yaml``/``.yml`` and ``.toml`` files parse;
- a GitHub Actions workflow (``.github/workflows/*.yml``) and ``.gitlab-ci.yml``
  validate against their JSON schemas, read offline from the schemastore copies that
  the ``check-jsonschema`` package vendors; without that package only a structural
  check runs, and the report says so;
- new test files are collected and run in the sandbox (pytest for Python); test files
  of stacks we cannot run here are listed in the notes, not silently passed. They must
  pass — except in a phase that *reproduces* a bug (``new_tests: fail`` in the
  workflow, the bugfix workflow's ``reproduce``): there every test file the role
  writes must fail on the code as it is, by a failing test (pytest exit 1), not by an
  error collecting it, and the change set must write at least one;
- the reproducing tests of earlier phases (``must_pass``) must pass once the
  change set is applied (the bugfix workflow's ``fix``).

The runner sends the errors back to the agent once; a second failure fails the run.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import yaml

from bot.actions import FileChange

SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
_WORKFLOW = re.compile(r"^\.github/workflows/[^/]+\.ya?ml$")
_PY_TEST = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
_OTHER_TEST = re.compile(r"(_test\.go|\.(test|spec)\.[jt]sx?|_spec\.rb|Test\.java)$")
MAX_REPORTED = 5


@dataclass
class ValidationReport:
    """What the checks found.

    Attributes:
        errors: Problems the role must fix (``path[:line]: what``).
        notes: What was not checked and why, and what passed.
    """

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors."""
        return not self.errors


class _Result(Protocol):
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool


TestRunner = Callable[[list[str]], _Result]
"""Runs a command (argv) in the sandbox on the tree with the changes applied."""


# --- one file ------------------------------------------------------------------------


def _python(path: str, text: str) -> list[str]:
    try:
        ast.parse(text, filename=path)
    except SyntaxError as exc:
        return [f"{path}:{exc.lineno or 1}: Python does not compile: {exc.msg}"]
    return []


def _yaml_docs(path: str, text: str) -> tuple[list[Any], list[str]]:
    try:
        return list(yaml.safe_load_all(text)), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return [], [f"{path}{line}: YAML does not parse: {problem}"]


def _github_keys(doc: Any) -> Any:
    # YAML 1.1 reads the key `on` as True; the workflow schema (and GitHub) mean "on".
    if isinstance(doc, dict) and True in doc and "on" not in doc:
        doc = {("on" if k is True else k): v for k, v in doc.items()}
    return doc


@cache
def _schema(name: str) -> dict | None:
    if importlib.util.find_spec("check_jsonschema") is None:
        return None
    try:
        text = resources.files(SCHEMA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return None
    return json.loads(text)


def _schema_errors(path: str, doc: Any, schema_name: str, notes: list[str]) -> list[str]:
    schema = _schema(schema_name)
    if schema is None:
        notes.append(
            f"{path}: the {schema_name} schema is not installed (pip install check-jsonschema); "
            f"only a structural check ran"
        )
        return _structural(path, doc)
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    found = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    out = []
    for err in found[:MAX_REPORTED]:
        best = jsonschema.exceptions.best_match([err]) or err
        where = "/".join(str(p) for p in best.absolute_path) or "(top level)"
        out.append(f"{path}: {where}: {best.message[:300]} (schema {schema_name})")
    return out


def _structural(path: str, doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{path}: expected a mapping at the top level"]
    if _WORKFLOW.match(path):
        problems = []
        if "on" not in doc:
            problems.append(f"{path}: a workflow needs `on:` (its triggers)")
        jobs = doc.get("jobs")
        if not isinstance(jobs, dict) or not jobs:
            problems.append(f"{path}: a workflow needs `jobs:` with at least one job")
        else:
            for name, job in jobs.items():
                if not isinstance(job, dict) or not ("runs-on" in job or "uses" in job):
                    problems.append(f"{path}: jobs/{name}: needs `runs-on` (or `uses`)")
        return problems
    return []


def check_file(path: str, text: str, notes: list[str] | None = None) -> list[str]:
    """Errors in one written file (empty when it is fine or of a kind we do not check)."""
    notes = notes if notes is not None else []
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".py":
        return _python(path, text)
    if suffix == ".json":
        try:
            json.loads(text)
        except ValueError as exc:
            return [f"{path}:{getattr(exc, 'lineno', 1)}: JSON does not parse: {exc}"]
        return []
    if suffix == ".toml":
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return [f"{path}: TOML does not parse: {exc}"]
        return []
    if suffix in (".yaml", ".yml"):
        docs, errors = _yaml_docs(path, text)
        if errors:
            return errors
        if _WORKFLOW.match(path):
            return _schema_errors(path, _github_keys(docs[0] if docs else None),
                                  "github-workflows.json", notes)  # fmt: skip
        if path == ".gitlab-ci.yml":
            return _schema_errors(path, docs[0] if docs else None, "gitlab-ci.json", notes)
    return []


# --- new tests -----------------------------------------------------------------------


def is_test_file(path: str) -> bool:
    """Whether ``path`` names a test file (Python, Go, JS/TS, Ruby, Java conventions)."""
    return bool(_PY_TEST.search(path) or _OTHER_TEST.search(path))


def new_test_files(changes: Iterable[FileChange], existed: Callable[[str], bool]) -> list[str]:
    """Test files the change set adds (written and absent before the role ran)."""
    return [
        c.path
        for c in changes
        if c.content is not None
        and (_PY_TEST.search(c.path) or _OTHER_TEST.search(c.path))
        and not existed(c.path)
    ]


def pytest_command(paths: Sequence[str]) -> list[str]:
    """The argv that collects and runs ``paths`` with the bot's Python."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--", *paths]


def _tail(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def _runnable_tests(paths: list[str], report: ValidationReport) -> list[str]:
    """The Python test files the bot can run; a note for each it cannot."""
    python = [p for p in paths if p.endswith(".py")]
    others = [p for p in paths if not p.endswith(".py")]
    if others:
        report.notes.append(
            "not run (no runner for this stack in the sandbox): " + ", ".join(others)
        )
    if python and importlib.util.find_spec("pytest") is None:
        report.notes.append("not run (pytest is not installed for the bot): " + ", ".join(python))
        return []
    return python


def run_new_tests(paths: list[str], run: TestRunner, report: ValidationReport) -> None:
    """Run the new test files; failures become errors, what could not run a note."""
    python = _runnable_tests(paths, report)
    if not python:
        return
    result = run(pytest_command(python))
    if result.timed_out:
        report.errors.append(f"the new tests did not finish in time: {', '.join(python)}")
    elif result.exit_code == 5:
        report.errors.append(f"pytest collected no tests from {', '.join(python)}")
    elif result.exit_code != 0:
        output = _tail(result.stdout + "\n" + result.stderr)
        report.errors.append(
            f"the new tests fail (pytest exit {result.exit_code}): {', '.join(python)}\n{output}"
        )
    else:
        report.notes.append(f"new tests pass: {', '.join(python)}")


def run_reproducing_tests(paths: list[str], run: TestRunner, report: ValidationReport) -> None:
    """Run tests that must fail on the unfixed code (a bug's reproduction)."""
    python = _runnable_tests(paths, report)
    if not python:
        return
    # Each file on its own: one reproducing file must not hide another that passes.
    failing = []
    for path in python:
        result = run(pytest_command([path]))
        if result.timed_out:
            report.errors.append(f"the reproducing test did not finish in time: {path}")
        elif result.exit_code == 0:
            report.errors.append(
                f"{path}: the test passes on the current code, so it does not reproduce the "
                "bug. Write a test that fails because of the bug (and passes once it is "
                "fixed); do not change the code under test in this phase."
            )
        elif result.exit_code != 1:
            # 2: errors while collecting (an import or syntax error), 5: no tests at all.
            output = _tail(result.stdout + "\n" + result.stderr)
            report.errors.append(
                f"{path}: the test does not run (pytest exit {result.exit_code}); a "
                f"reproduction must fail by a failing assertion, not an error\n{output}"
            )
        else:
            failing.append(path)
    if failing:
        report.notes.append(
            "new tests fail on the current code, as a reproduction should: " + ", ".join(failing)
        )


def run_must_pass(paths: list[str], run: TestRunner, report: ValidationReport) -> None:
    """Run an earlier phase's reproducing tests on the changed tree: they must pass."""
    python = [p for p in paths if p.endswith(".py")]
    if not python:
        return
    if importlib.util.find_spec("pytest") is None:
        report.notes.append("not run (pytest is not installed for the bot): " + ", ".join(python))
        return
    result = run(pytest_command(python))
    if result.timed_out:
        report.errors.append(f"the reproducing tests did not finish in time: {', '.join(python)}")
    elif result.exit_code != 0:
        output = _tail(result.stdout + "\n" + result.stderr)
        report.errors.append(
            f"the tests that reproduce the bug still fail (pytest exit {result.exit_code}): "
            f"{', '.join(python)}; fix the code so they pass (do not weaken the tests)\n{output}"
        )
    else:
        report.notes.append(f"the reproducing tests pass now: {', '.join(python)}")


def validate_changes(
    changes: Sequence[FileChange],
    *,
    existed: Callable[[str], bool],
    run: TestRunner | None,
    new_tests: str = "pass",
    must_pass: Sequence[str] = (),
) -> ValidationReport:
    """Check every written file, then run the new tests if the files are sound.

    Args:
        changes: The staged change set.
        existed: Whether a path existed before the role ran (new tests are run).
        run: Runs a command on the changed tree in the sandbox; None to skip the tests
            (noted in the report).
        new_tests: ``pass``: new tests must pass. ``fail``: the phase reproduces a bug,
            so every test file written must fail (and at least one must be written).
        must_pass: Test files (earlier phases' reproductions) that must pass on the
            changed tree.
    """
    report = ValidationReport()
    for change in changes:
        if change.content is not None:
            report.errors.extend(check_file(change.path, change.content, report.notes))
    if new_tests == "fail":
        tests = [c.path for c in changes if c.content is not None and is_test_file(c.path)]
        if not tests:
            report.errors.append(
                "this phase reproduces the bug: write a test that fails because of it "
                "(and passes once it is fixed)"
            )
    else:
        tests = new_test_files(changes, existed)
    deleted = {c.path for c in changes if c.content is None}
    report.errors.extend(
        f"{path}: the test that reproduces the bug may not be deleted; fix the code instead"
        for path in must_pass
        if path in deleted
    )
    required = [p for p in must_pass if p not in deleted]
    if report.errors or not (tests or required):
        return report
    if run is None:
        report.notes.append("not run (no sandbox): " + ", ".join([*tests, *required]))
        return report
    if new_tests == "fail":
        run_reproducing_tests(tests, run, report)
    elif tests:
        run_new_tests(tests, run, report)
    if required:
        run_must_pass(required, run, report)
    return report


def sandbox_runner(changes: Any, sandbox: Any, timeout_s: float | None) -> TestRunner:
    """A :data:`TestRunner` running on a scratch tree with ``changes`` applied.

    Args:
        changes: The role's :class:`agents.roles.changes.ChangeSet`.
        sandbox: The :class:`agents.roles.sandbox.Sandbox` to run in.
        timeout_s: Wall-clock limit of the test run.
    """

    def run(argv: list[str]) -> _Result:
        with tempfile.TemporaryDirectory(prefix="agentforge-validate-") as scratch:
            tree = Path(scratch) / "tree"
            changes.materialize(tree)
            return sandbox.run(argv, tree, timeout_s=timeout_s)

    return run
