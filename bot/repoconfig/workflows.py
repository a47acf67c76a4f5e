"""Named workflows: ``.agentforge/workflows/<name>.yaml`` and the shipped templates.

An issue's labels pick its workflow (``workflows.labels`` in config.yaml, default
``bug``/``bugfix`` → ``bugfix``, ``docs``/``documentation`` → ``docs``; otherwise
``workflows.default``, ``feature``). The workflows are the shipped templates in
``bot/repoconfig/defaults/`` (``feature``, ``bugfix``, ``docs``), replaced by a
repository's own file of the same name; ``.agentforge/workflow.yaml`` is the
``feature`` workflow. Every workflow file is validated like ``workflow.yaml`` (unknown
keys, roles, protected outputs), each problem with its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.repoconfig.issues import ConfigIssue
from bot.repoconfig.loader import (
    CONFIG_DIR,
    CONFIG_FILE,
    WORKFLOW_FILE,
    _check_outputs_unprotected,
    _check_workflow_roles,
    _load_model,
)
from bot.repoconfig.schema import RepoConfig, RoleSpec, WorkflowConfig
from bot.repoconfig.yamlpos import Path_, YamlSyntaxError, line_for, load_with_lines

WORKFLOWS_DIR = f"{CONFIG_DIR}/workflows"
_WORKFLOW_FILE = re.compile(r"^\.agentforge/workflows/([^/]+)\.yaml$")
SHIPPED_WORKFLOWS = ("feature", "bugfix", "docs")
"""Workflow templates shipped in ``bot/repoconfig/defaults/`` (a repository's own
``.agentforge/workflows/<name>.yaml`` replaces the one of the same name)."""


def _shipped_workflow(name: str) -> WorkflowConfig:
    from importlib import resources

    import yaml

    text = resources.files("bot.repoconfig.defaults").joinpath(f"{name}.yaml").read_text()
    return WorkflowConfig.model_validate(yaml.safe_load(text))


def load_workflows(
    files: Mapping[str, str],
    main: WorkflowConfig | None,
    config: RepoConfig | None,
    roles: dict[str, RoleSpec],
    issues: list[ConfigIssue],
) -> dict[str, WorkflowConfig]:
    """The named workflows: shipped templates, ``workflow.yaml`` as ``feature``, and
    every ``.agentforge/workflows/<name>.yaml`` (each validated with file and line)."""
    from bot.repoconfig.schema import DEFAULT_WORKFLOW

    workflows = {name: _shipped_workflow(name) for name in SHIPPED_WORKFLOWS}
    if main is not None:
        workflows[DEFAULT_WORKFLOW] = main
    for rel in sorted(files):
        match = _WORKFLOW_FILE.match(rel)
        if match is None:
            continue
        name = match.group(1)
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", name):
            issues.append(
                ConfigIssue(rel, None, "", f"workflow file name {name!r} must be a lowercase name")
            )
            continue
        if name == DEFAULT_WORKFLOW and WORKFLOW_FILE in files:
            issues.append(
                ConfigIssue(
                    rel,
                    None,
                    "",
                    f"both {WORKFLOW_FILE} and {rel} define the {DEFAULT_WORKFLOW!r} workflow; "
                    "keep one of them",
                )
            )
            continue
        before = len(issues)
        loaded = _load_model(files, rel, WorkflowConfig, issues)
        if loaded is None or len(issues) > before:
            continue
        _check_workflow_roles(files, loaded, roles, issues, rel)
        if config is not None:
            _check_outputs_unprotected(files, loaded, config, issues, rel)
        workflows[name] = loaded
    return workflows


def check_workflow_labels(
    files: Mapping[str, str],
    config: RepoConfig,
    workflows: dict[str, WorkflowConfig],
    issues: list[ConfigIssue],
) -> None:
    """Every workflow ``workflows.labels`` and ``workflows.default`` name must exist."""
    lines: dict[Path_, int] = {}
    if CONFIG_FILE in files:
        try:
            _, lines = load_with_lines(files[CONFIG_FILE])
        except YamlSyntaxError:
            lines = {}
    known = ", ".join(sorted(workflows))
    for label, name in config.workflows.labels.items():
        if name not in workflows:
            issues.append(
                ConfigIssue(
                    CONFIG_FILE,
                    line_for(lines, ("workflows", "labels", label)),
                    f"workflows.labels.{label}",
                    f"unknown workflow {name!r}; known workflows: {known} "
                    f"(add {WORKFLOWS_DIR}/{name}.yaml)",
                )
            )
    if config.workflows.default not in workflows:
        issues.append(
            ConfigIssue(
                CONFIG_FILE,
                line_for(lines, ("workflows", "default")),
                "workflows.default",
                f"unknown workflow {config.workflows.default!r}; known workflows: {known}",
            )
        )
