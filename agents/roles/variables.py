"""The variables a role's template is rendered with, built from its :class:`RoleTask`.

Every piece of untrusted text (issue title and body, labels, the free-text task,
earlier phases' artifacts, comments, feedback, diffs, lessons, the context pack) is a
:class:`~agents.roles.prompt.Data`; only values AgentForge computes itself (names,
numbers, globs from the default branch's config, the detected stack) are plain.
See ``docs/roles.md`` for the reference table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.roles.contract import RoleTask
from agents.roles.prompt import Data
from bot.repoconfig import RoleSpec

STACK_MARKERS: tuple[tuple[str, str], ...] = (
    ("pyproject.toml", "python"),
    ("setup.py", "python"),
    ("requirements.txt", "python"),
    ("package.json", "node"),
    ("go.mod", "go"),
    ("Cargo.toml", "rust"),
    ("pom.xml", "java-maven"),
    ("build.gradle", "java-gradle"),
    ("build.gradle.kts", "java-gradle"),
    ("Gemfile", "ruby"),
    ("composer.json", "php"),
    ("mix.exs", "elixir"),
    ("Dockerfile", "docker"),
)
"""A file at the repository root → the stack it shows."""

CI_FILES = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}
"""The CI file each forge reads."""

REQUIREMENTS_PREFIX = "docs/requirements/"
DESIGN_PREFIX = "docs/design/"


@dataclass(frozen=True)
class IssueView:
    """The issue as a template sees it: numbers plain, text as data."""

    number: int
    title: Data
    body: Data
    labels: Data
    author: str
    url: str


def detect_stack(exists: Callable[[str], bool]) -> list[str]:
    """The stacks the repository root shows, in :data:`STACK_MARKERS` order, no repeats."""
    found: list[str] = []
    for marker, stack in STACK_MARKERS:
        if stack not in found and exists(marker):
            found.append(stack)
    return found


def work_id(task: RoleTask) -> str:
    """The stem of a role's documents: ``issue-<n>``, else ``task-<slug of the title or task>``."""
    if task.issue is not None and task.issue.number > 0:
        return f"issue-{task.issue.number}"
    words = task.issue.title if task.issue is not None else task.task
    slug = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:40].strip("-")
    return f"task-{slug or 'local'}"


def _artifact(task: RoleTask, prefix: str) -> Data:
    texts = [
        f"{path}:\n{text}"
        for path, text in sorted(task.artifacts.items())
        if path.startswith(prefix)
    ]
    return Data(prefix.rstrip("/"), "\n\n".join(texts))


def _discussion(task: RoleTask) -> Data:
    lines = [
        f"{c.author}{' (on the merge request)' if c.on_mr else ''}: {c.body}"
        for c in task.discussion
    ]
    return Data("discussion", "\n\n".join(lines))


def template_variables(
    task: RoleTask,
    spec: RoleSpec,
    *,
    context: str = "",
    stack: list[str] | None = None,
    protected: list[str] | None = None,
    ci_file: str | None = None,
    ci_writable: bool = False,
) -> dict[str, Any]:
    """Everything a role template may use.

    Args:
        task: The work.
        spec: The role (its tools and writes are shown to it).
        context: The rendered context pack (repository excerpts).
        stack: Detected stacks (:func:`detect_stack`).
        protected: Protected globs that apply to this role.
        ci_file: The forge's CI file (default: by ``task.forge``).
        ci_writable: The role may write the forge's CI file.
    """
    issue = None
    if task.issue is not None:
        issue = IssueView(
            number=task.issue.number,
            title=Data("issue.title", task.issue.title),
            body=Data("issue.body", task.issue.body),
            labels=Data("issue.labels", ", ".join(task.issue.labels)),
            author=re.sub(r"[^A-Za-z0-9_.\-\[\]]", "", task.issue.author),
            url=task.issue.url or "",
        )
    return {
        "role": task.role,
        "repo": task.repo,
        "forge": task.forge,
        "phase": task.phase or "",
        "round": task.round,
        "work_id": work_id(task),
        "issue": issue,
        "task": Data("task", task.task),
        "outputs": list(task.outputs),
        "artifacts": {
            path: Data(f"artifact:{path}", text) for path, text in task.artifacts.items()
        },
        "requirements": _artifact(task, REQUIREMENTS_PREFIX),
        "design": _artifact(task, DESIGN_PREFIX),
        "context": Data("context", context),
        "discussion": _discussion(task),
        "feedback": Data("feedback", task.feedback),
        "previous_diff": Data("previous_diff", task.previous_diff),
        "diff": Data("diff", task.diff),
        "lessons": Data("lessons", task.lessons),
        "stack": list(stack or []),
        "writes": list(spec.writes),
        "protected": list(protected or []),
        "tools": list(spec.tools),
        "ci_file": CI_FILES.get(task.forge, "") if ci_file is None else ci_file,
        "ci_writable": ci_writable,
        "base_ref": task.base_ref,
        "new_tests": task.new_tests,
        "must_pass": list(task.must_pass),
    }
