"""Read and validate a repository's ``.agentforge/`` files, reporting every problem.

The core works on a mapping of repository-relative path → text, so the same code
validates a checkout on disk (``agentforge config check``) and the files read from the
default branch's head in git (so a merge request cannot loosen its own rules).
Missing files mean defaults. All problems are collected, each with file, line and
field, and raised together as one :class:`bot.errors.RepoConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.errors import RepoConfigError
from bot.repoconfig.issues import ConfigIssue
from bot.repoconfig.schema import AgentForgeConfig, RepoConfig, RoleSpec, WorkflowConfig
from bot.repoconfig.yamlpos import Path_, YamlSyntaxError, dotted, line_for, load_with_lines

CONFIG_DIR = ".agentforge"
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
WORKFLOW_FILE = f"{CONFIG_DIR}/workflow.yaml"
ROLES_DIR = f"{CONFIG_DIR}/roles"
_ROLE_FILE = re.compile(r"^\.agentforge/roles/([^/]+)\.md$")
MAX_FILE_BYTES = 256 * 1024


def read_config_files(root: Path) -> dict[str, str]:
    """Read ``<root>/.agentforge/**`` into a path → text mapping.

    Files that are not UTF-8 or are too large are returned as ``None``-free error
    markers by :func:`validate_files`, so nothing here raises on content.
    """
    base = Path(root) / CONFIG_DIR
    files: dict[str, str] = {}
    if not base.is_dir():
        return files
    for path in sorted(base.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(root).as_posix()
        if not (rel.endswith((".yaml", ".yml", ".md"))):
            continue
        data = path.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            files[rel] = "\x00too-large"
            continue
        try:
            files[rel] = data.decode("utf-8")
        except UnicodeDecodeError:
            files[rel] = "\x00not-utf8"
    return files


def validate_files(files: Mapping[str, str]) -> tuple[AgentForgeConfig | None, list[ConfigIssue]]:
    """Validate ``.agentforge/`` files; return the config (if valid) and every issue."""
    issues: list[ConfigIssue] = []
    config = _load_model(files, CONFIG_FILE, RepoConfig, issues)
    workflow = _load_model(files, WORKFLOW_FILE, WorkflowConfig, issues)
    roles: dict[str, RoleSpec] = {}
    for rel in sorted(files):
        if rel.endswith(".yml") and rel.startswith(CONFIG_DIR):
            issues.append(ConfigIssue(rel, None, "", f"use the .yaml extension ({rel[:-4]}.yaml)"))
        match = _ROLE_FILE.match(rel)
        if match:
            role = _load_role(rel, match.group(1), files[rel], issues)
            if role is not None:
                roles[role.name] = role
    if workflow is not None:
        _check_workflow_roles(files, workflow, roles, issues)
    if workflow is not None and config is not None:
        _check_outputs_unprotected(files, workflow, config, issues)
    from bot.repoconfig.workflows import check_workflow_labels, load_workflows

    workflows = load_workflows(files, workflow, config, roles, issues)
    if config is not None:
        check_workflow_labels(files, config, workflows, issues)
    # Problems are found file by file and check by check; people read them top down.
    issues.sort(key=lambda i: (i.file, i.line or 0))
    if issues or config is None or workflow is None:
        return None, issues
    main = workflows.get(config.workflows.default, workflow)
    return (
        AgentForgeConfig(
            config=config,
            workflow=main,
            roles=roles,
            workflows=workflows,
            workflow_name=config.workflows.default,
        ),
        issues,
    )


def load_files(files: Mapping[str, str]) -> AgentForgeConfig:
    """Validated config from a path → text mapping.

    Raises:
        RepoConfigError: with every problem found.
    """
    result, issues = validate_files(files)
    if issues or result is None:
        raise RepoConfigError(issues)
    return result


def load_repo_config(root: Path) -> AgentForgeConfig:
    """Validated config of the checkout at ``root`` (defaults when files are absent)."""
    return load_files(read_config_files(root))


# --- internals -----------------------------------------------------------------------


def _content_problem(rel: str, text: str, issues: list[ConfigIssue]) -> bool:
    if text == "\x00too-large":
        issues.append(ConfigIssue(rel, None, "", f"file is larger than {MAX_FILE_BYTES} bytes"))
        return True
    if text == "\x00not-utf8":
        issues.append(ConfigIssue(rel, None, "", "file is not UTF-8 text"))
        return True
    return False


def _load_model(
    files: Mapping[str, str], rel: str, model: type[BaseModel], issues: list[ConfigIssue]
) -> Any:
    text = files.get(rel)
    if text is None:
        return model()
    if _content_problem(rel, text, issues):
        return None
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as exc:
        issues.append(ConfigIssue(rel, exc.line, "", str(exc)))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        issues.append(ConfigIssue(rel, 1, "", "expected a mapping (key: value) at the top level"))
        return None
    return _validate(model, data, rel, lines, issues)


def _validate(
    model: type[BaseModel],
    data: dict,
    rel: str,
    lines: dict[Path_, int],
    issues: list[ConfigIssue],
    *,
    line_offset: int = 0,
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc: Path_ = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            # Discriminated/union errors add type tags to loc; keep only real path parts.
            loc = _real_path(loc, data)
            line = line_for(lines, loc)
            issues.append(
                ConfigIssue(
                    rel,
                    line + line_offset if line else None,
                    dotted(loc),
                    _message(err),
                )
            )
        return None


def _real_path(loc: Path_, data: Any) -> Path_:
    out: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and out[-1:] != [part]:
            # Missing required key or extra key: name it even though it has no value.
            out.append(part)
            node = None
        else:
            node = None
    return tuple(out)


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "required field is missing"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def _split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter YAML or None, template body, line where the body starts)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return "", "", 1


def _front_line(lines: dict[Path_, int], path: Path_) -> int | None:
    # Front matter starts on the file's second line, after the opening '---'.
    line = line_for(lines, path)
    return line + 1 if line else None


def _load_role(rel: str, stem: str, text: str, issues: list[ConfigIssue]) -> RoleSpec | None:
    if _content_problem(rel, text, issues):
        return None
    front, body, body_line = _split_front_matter(text)
    if front == "" and body == "" and text.strip():
        issues.append(ConfigIssue(rel, 1, "", "front matter opened with '---' is never closed"))
        return None
    data: dict[str, Any] = {}
    lines: dict[Path_, int] = {}
    if front is not None:
        try:
            parsed, lines = load_with_lines(front)
        except YamlSyntaxError as exc:
            issues.append(ConfigIssue(rel, exc.line + 1 if exc.line else None, "", str(exc)))
            return None
        if parsed is not None and not isinstance(parsed, dict):
            issues.append(ConfigIssue(rel, 2, "", "front matter must be a mapping"))
            return None
        data = dict(parsed or {})
    name = data.setdefault("name", stem)
    if name != stem:
        issues.append(
            ConfigIssue(
                rel,
                _front_line(lines, ("name",)),
                "name",
                f"role name {name!r} must match the file name {stem!r}",
            )
        )
        return None
    for reserved in ("template", "template_line"):
        if reserved in data:
            issues.append(
                ConfigIssue(
                    rel,
                    _front_line(lines, (reserved,)),
                    reserved,
                    "the template is the file's body, not a front-matter field",
                )
            )
            return None
    data["template"] = body
    data["template_line"] = body_line
    before = len(issues)
    spec = _validate(RoleSpec, data, rel, lines, issues, line_offset=1)
    if len(issues) > before:
        return None
    _check_template(rel, body, body_line, issues)
    if not body.strip():
        issues.append(ConfigIssue(rel, body_line, "template", "the prompt template is empty"))
    return spec


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def _check_template(rel: str, body: str, first_line: int, issues: list[ConfigIssue]) -> None:
    for offset, line in enumerate(body.splitlines()):
        stripped = _PLACEHOLDER.sub("", line)
        if "{{" in stripped or "}}" in stripped:
            issues.append(
                ConfigIssue(
                    rel,
                    first_line + offset,
                    "template",
                    "malformed placeholder: use {{ name }} with a dotted identifier",
                )
            )


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob: ``**`` spans directories, ``*`` and ``?`` do not."""
    out: list[str] = []
    i = 0
    pattern = pattern.lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _sample_path(glob: str) -> str:
    # A concrete path the output glob stands for: wildcards become a plain name.
    sample = re.sub(r"\*\*|\*|\?|\[[^\]]*\]", "x", glob.lstrip("/"))
    return sample.rstrip("/") or "x"


def _check_outputs_unprotected(
    files: Mapping[str, str],
    workflow: WorkflowConfig,
    config: RepoConfig,
    issues: list[ConfigIssue],
    rel: str = WORKFLOW_FILE,
) -> None:
    """A phase must not be told to produce files its role may never write."""
    lines: dict[Path_, int] = {}
    if rel in files:
        try:
            _, lines = load_with_lines(files[rel])
        except YamlSyntaxError:
            lines = {}
    protected = [(p, glob_regex(p)) for p in config.protected_paths]
    for i, phase in enumerate(workflow.phases):
        for j, output in enumerate(phase.outputs):
            sample = _sample_path(output)
            hit = next((p for p, rx in protected if rx.match(sample)), None)
            if hit is None:
                continue
            issues.append(
                ConfigIssue(
                    rel,
                    line_for(lines, ("phases", i, "outputs", j))
                    or line_for(lines, ("phases", i, "outputs")),
                    f"phases[{i}].outputs[{j}]",
                    f"output {output!r} of phase {phase.name!r} is a protected path "
                    f"({hit!r} in {CONFIG_FILE} protected_paths), so the {phase.role} role "
                    "could never write it; remove it from the outputs, or from "
                    "protected_paths if agents may change it",
                )
            )


def _check_workflow_roles(
    files: Mapping[str, str],
    workflow: WorkflowConfig,
    roles: dict[str, RoleSpec],
    issues: list[ConfigIssue],
    rel: str = WORKFLOW_FILE,
) -> None:
    from bot.repoconfig.schema import BUILTIN_ROLES

    known = set(BUILTIN_ROLES) | set(roles)
    lines: dict[Path_, int] = {}
    if rel in files:
        try:
            _, lines = load_with_lines(files[rel])
        except YamlSyntaxError:
            lines = {}
    for i, phase in enumerate(workflow.phases):
        if phase.role not in known:
            issues.append(
                ConfigIssue(
                    rel,
                    line_for(lines, ("phases", i, "role")),
                    f"phases[{i}].role",
                    f"unknown role {phase.role!r}; known roles: {', '.join(sorted(known))}",
                )
            )
    if workflow.fixups.role not in known:
        issues.append(
            ConfigIssue(
                rel,
                line_for(lines, ("fixups", "role")),
                "fixups.role",
                f"unknown role {workflow.fixups.role!r}; known roles: {', '.join(sorted(known))}",
            )
        )
