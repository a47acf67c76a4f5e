"""The schema of a repository's ``.agentforge/`` files.

- ``config.yaml`` → :class:`RepoConfig` (approvers, protected paths, index, and the
  model-layer sections ``models``, ``budgets``, ``privacy``, ``prices`` defined in
  :mod:`bot.repoconfig.models`).
- ``workflow.yaml`` → :class:`WorkflowConfig` (ordered phases, each with a role, its
  outputs and its gate).
- ``roles/<name>.md`` → :class:`RoleSpec` (YAML front matter + prompt template).

Every model forbids unknown keys, so a typo is reported with its line instead of being
silently ignored.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.repoconfig.models import BudgetsConfig, ModelsConfig, PricesConfig, PrivacyConfig

BUILTIN_ROLES = ("analyst", "architect", "developer", "qa", "devops", "writer", "reviewer")
"""Roles AgentForge ships; a repository may add its own in ``.agentforge/roles/``."""

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(StrEnum):
    """How a phase is allowed to end.

    ``human``: an authorised person comments ``/approve``. ``mr_approval``: the MR is
    approved on the forge. ``tests``: the MR's pipeline is green. ``auto``: the phase
    ends when its role finishes (its MR still needs a human merge).
    """

    HUMAN = "human"
    MR_APPROVAL = "mr_approval"
    TESTS = "tests"
    AUTO = "auto"


class PermissionName(StrEnum):
    """Permission names accepted in config, matching :class:`bot.forge.Permission`."""

    READ = "read"
    TRIAGE = "triage"
    WRITE = "write"
    MAINTAIN = "maintain"
    ADMIN = "admin"


class ApproversConfig(_Strict):
    """Who may move a workflow with ``/approve`` and ``/reject``.

    Anyone listed in ``users``, or anyone with at least ``min_permission`` on the
    repository, is an approver.
    """

    users: list[str] = Field(default_factory=list)
    min_permission: PermissionName = PermissionName.MAINTAIN


class IndexConfig(_Strict):
    """What the context index includes."""

    include: list[str] = Field(default_factory=lambda: ["**"])
    exclude: list[str] = Field(
        default_factory=lambda: ["**/node_modules/**", "**/vendor/**", "**/*.min.js"]
    )
    max_file_bytes: int = Field(default=1_000_000, ge=1)


class RepoConfig(_Strict):
    """``.agentforge/config.yaml``."""

    version: int = Field(default=1, ge=1, le=1)
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)
    protected_paths: list[str] = Field(
        default_factory=lambda: [".agentforge/**", ".github/workflows/**", ".gitlab-ci.yml"],
        description="Globs agents may never write; changes there need a human commit.",
    )
    ci_writers: list[str] = Field(
        default_factory=list,
        description=(
            "Roles that may write the forge's CI files (.github/workflows/**, "
            ".gitlab-ci.yml) although protected_paths lists them; typically [devops]."
        ),
    )
    index: IndexConfig = Field(default_factory=IndexConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    prices: PricesConfig = Field(default_factory=PricesConfig)


class Phase(_Strict):
    """One workflow phase."""

    name: str
    role: str
    outputs: list[str] = Field(
        default_factory=list, description="Paths (globs) the phase is expected to produce."
    )
    gate: Gate = Gate.HUMAN
    description: str = ""

    @field_validator("name", "role")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("expected a lowercase name: letters, digits, '-' or '_'")
        return value


DEFAULT_PHASES: tuple[tuple[str, str, str, str], ...] = (
    ("discovery", "analyst", "docs/requirements/*.md", "human"),
    ("design", "architect", "docs/design/*.md", "human"),
    ("build", "developer", "**", "tests"),
    ("validate", "qa", "tests/**", "tests"),
    ("launch", "devops", "deploy/**", "mr_approval"),
    ("document", "writer", "docs/**", "human"),
)


def _default_phases() -> list[Phase]:
    return [Phase(name=n, role=r, outputs=[o], gate=Gate(g)) for n, r, o, g in DEFAULT_PHASES]


class WorkflowConfig(_Strict):
    """``.agentforge/workflow.yaml``: the ordered phases of a run."""

    version: int = Field(default=1, ge=1, le=1)
    phases: list[Phase] = Field(default_factory=_default_phases, min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> WorkflowConfig:
        seen: set[str] = set()
        for phase in self.phases:
            if phase.name in seen:
                raise ValueError(f"phase name {phase.name!r} is used twice")
            seen.add(phase.name)
        return self

    def phase(self, name: str) -> Phase | None:
        """The phase called ``name``, or None."""
        return next((p for p in self.phases if p.name == name), None)


class RoleSpec(_Strict):
    """A role's front matter in ``.agentforge/roles/<name>.md`` plus its template."""

    name: str
    description: str = ""
    tools: list[str] = Field(default_factory=list)
    writes: list[str] = Field(default_factory=list, description="Path globs the role may write.")
    model: str | None = Field(
        default=None, description="Route key in models.routes; defaults to the role name."
    )
    template: str = ""
    template_line: int = Field(
        default=1, ge=1, description="Line of the role file where the template starts."
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("expected a lowercase name: letters, digits, '-' or '_'")
        return value

    @field_validator("tools")
    @classmethod
    def _tool_names(cls, value: list[str]) -> list[str]:
        for tool in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", tool):
                raise ValueError(f"tool name {tool!r} must be a lowercase identifier")
        return value


class AgentForgeConfig(BaseModel):
    """Everything read from one repository's ``.agentforge/`` directory."""

    model_config = ConfigDict(frozen=True)

    config: RepoConfig = Field(default_factory=RepoConfig)
    workflow: WorkflowConfig = Field(default_factory=WorkflowConfig)
    roles: dict[str, RoleSpec] = Field(default_factory=dict)

    def role_names(self) -> set[str]:
        """Built-in roles plus the repository's own."""
        return set(BUILTIN_ROLES) | set(self.roles)
