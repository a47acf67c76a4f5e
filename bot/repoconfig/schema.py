"""The schema of a repository's ``.agentforge/`` files.

- ``config.yaml`` → :class:`RepoConfig` (approvers, protected paths, index, MCP tool
  servers, and the model-layer sections ``models``, ``budgets``, ``privacy``, ``prices`` defined in
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
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.repoconfig.abuse import BotsConfig, LimitsConfig, TrustConfig
from bot.repoconfig.models import BudgetsConfig, ModelsConfig, PricesConfig, PrivacyConfig
from bot.repoconfig.permissions import PermissionName

BUILTIN_ROLES = ("analyst", "architect", "developer", "qa", "devops", "writer", "reviewer")
"""Roles AgentForge ships; a repository may add its own in ``.agentforge/roles/``."""

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

KNOWN_TOOLS = (
    "list_files",
    "read_file",
    "search_code",
    "search_discussions",
    "git_log",
    "git_diff",
    "git_blame",
    "write_file",
    "delete_file",
    "run_command",
    "ask_human",
    "final_answer",
)
"""The tools a role file may name in ``tools:`` (a stable contract; see docs/roles.md).

MCP servers' tools are not named here: a repository grants an MCP server to roles in
``config.yaml`` (``mcp.servers.<name>.roles``), and its tools reach the model as
``<server>__<tool>``."""

_MCP_SERVER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,29}$")

SECRET_ENV = re.compile(
    r"(^AGENTFORGE_|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_?KEY|_KEY$|^KEY$)",
    re.IGNORECASE,
)
"""Environment variable names that look like secrets: never handed to a sandboxed
command or an MCP server, whatever a configuration asks."""


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


class SelfApproval(StrEnum):
    """Whether the person who started a run may approve its phases.

    ``allowed``: always. ``docs_only``: only phases whose changed files all match
    ``approvers.doc_paths`` (a phase that changes code needs someone else).
    ``never``: never.
    """

    ALLOWED = "allowed"
    DOCS_ONLY = "docs_only"
    NEVER = "never"


DEFAULT_DOC_PATHS: tuple[str, ...] = (
    "docs/**",
    "doc/**",
    "**/*.md",
    "**/*.markdown",
    "**/*.rst",
    "**/*.adoc",
    "**/*.txt",
    "LICENSE*",
    "CHANGELOG*",
)
"""Paths that count as documentation for ``self_approval: docs_only``."""


class ApproversConfig(_Strict):
    """Who may move a workflow with ``/approve`` and ``/reject``, and what a gate needs.

    Anyone listed in ``users``, or anyone with at least ``min_permission`` on the
    repository, is an approver (checked again whenever their approval is counted). A
    phase's ``human`` and ``mr_approval`` gates need ``required`` distinct approvers at
    the current head and, with ``codeowners``, the code owners of the paths the phase
    changed. Changes to CI or deployment files (see :class:`PoliciesConfig`) also need
    one of the ``infra`` logins.
    """

    infra: list[str] = Field(
        default_factory=list,
        description="Logins who approve changes to CI or deployment files.",
    )
    users: list[str] = Field(default_factory=list)
    min_permission: PermissionName = PermissionName.WRITE
    required: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Distinct approvers a phase's `human` or `mr_approval` gate needs at the "
        "MR's current head (a phase may set its own in workflow.yaml).",
    )
    codeowners: bool = Field(
        default=True,
        description="When the default branch has a CODEOWNERS file, the code owners of the "
        "paths a phase changed must be among its approvers (GitHub and GitLab syntax).",
    )
    self_approval: SelfApproval = Field(
        default=SelfApproval.DOCS_ONLY,
        description="Whether the run's starter may approve its phases: `allowed`, "
        "`docs_only` (not a phase that changed a path outside `doc_paths`), `never`.",
    )
    doc_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DOC_PATHS),
        description="Globs of documentation paths (for `self_approval: docs_only`).",
    )


class PhaseApprovers(_Strict):
    """``approvers:`` on one phase of a workflow file: this phase's own gate rules.

    Each key left out takes the value of ``approvers`` in config.yaml.
    """

    required: int | None = Field(
        default=None, ge=1, le=20, description="Distinct approvers this phase's gate needs."
    )
    codeowners: bool | None = Field(
        default=None, description="Whether code owners of the changed paths must approve."
    )
    self_approval: SelfApproval | None = Field(
        default=None, description="Whether the run's starter may approve this phase."
    )


class TriggerConfig(_Strict):
    """How a run is started on an issue.

    Adding ``label`` to an issue (or opening an issue with it) starts a run; so does a
    comment ``/agentforge start`` by an approver or the issue's author.

    Attributes:
        label: The issue label that starts a run.
    """

    label: str = Field(default="agentforge", min_length=1, max_length=50)
    command: bool = Field(default=True, description="Whether `/agentforge start` starts a run.")


class IndexConfig(_Strict):
    """What the context index includes.

    Read by the role runs' index and by ``agentforge index`` (where the operator's
    ``AGENTFORGE_INDEX_MAX_FILE_BYTES`` caps ``max_file_bytes``). A file that stops
    matching leaves the index at the next update.

    Attributes:
        include: Path globs of files to index.
        exclude: Path globs left out even when ``include`` matches.
        max_file_bytes: Files larger than this are left out.
    """

    include: list[str] = Field(default_factory=lambda: ["**"])
    exclude: list[str] = Field(
        default_factory=lambda: ["**/node_modules/**", "**/vendor/**", "**/*.min.js"]
    )
    max_file_bytes: int = Field(default=1_000_000, ge=1)


class McpServer(_Strict):
    """One MCP tool server a repository allowlists (``mcp.servers.<name>``).

    Exactly one of ``command`` (a stdio server started in the sandbox) or ``url`` (a
    remote Streamable-HTTP or SSE server) is set. Only the roles listed in ``roles`` get
    its tools; a server no role may use is never started.

    Attributes:
        transport: How a ``url`` server is spoken to.
    """

    command: list[str] | None = Field(
        default=None, min_length=1, description="argv of a stdio server (no shell)."
    )
    url: str | None = Field(default=None, description="http(s) URL of a remote server.")
    transport: Literal["streamable-http", "sse"] = "streamable-http"
    env: list[str] = Field(
        default_factory=list,
        description="Names of environment variables passed through to a stdio server.",
    )
    network: bool = Field(
        default=False, description="Let a stdio server reach the network (default: isolated)."
    )
    roles: list[str] = Field(default_factory=list, description="Roles that get its tools.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("env")
    @classmethod
    def _no_secrets(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if SECRET_ENV.search(name):
                raise ValueError(
                    f"{name!r} looks like a secret; AgentForge never hands the bot's tokens "
                    "or keys to a process a repository configures"
                )
        return value

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        for role in value:
            if not _NAME.match(role):
                raise ValueError(f"role {role!r} must be a lowercase name")
        return value

    @model_validator(mode="after")
    def _command_xor_url(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("set exactly one of 'command' (stdio server) or 'url'")
        if self.url is not None and (self.env or self.network):
            raise ValueError("'env' and 'network' apply to a stdio server ('command') only")
        return self


class McpConfig(_Strict):
    """``mcp:``: the MCP tool servers a repository allowlists, by name.

    Attributes:
        servers: Server name (lowercase letters, digits, ``_``; it prefixes the server's
            tool names as ``<server>__<tool>``) → the server.
    """

    servers: dict[str, McpServer] = Field(default_factory=dict)

    @field_validator("servers")
    @classmethod
    def _server_names(cls, value: dict[str, McpServer]) -> dict[str, McpServer]:
        for name in value:
            if not _MCP_SERVER_NAME.match(name):
                raise ValueError(
                    f"server name {name!r}: use lowercase letters, digits and '_' "
                    "(it prefixes the server's tool names)"
                )
        return value

    def for_role(self, role: str) -> dict[str, McpServer]:
        """The servers whose tools ``role`` may use, by name."""
        return {name: s for name, s in self.servers.items() if role in s.roles}


class DispatchConfig(_Strict):
    """Where this repository's jobs run (``dispatch:``): on the server, or on the forge's CI.

    ``mode: ci`` hands every job of the repository to its CI runners (GitHub
    ``workflow_dispatch`` of ``workflow`` at ``ref``; a GitLab pipeline trigger at
    ``ref``); the server keeps only intake and per-issue ordering. See docs/deploying.md.
    """

    mode: Literal["server", "ci"] = Field(
        default="server", description="server: the server's workers; ci: the forge's runners."
    )
    workflow: str = Field(
        default="agentforge.yml",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$",
        description="GitHub: the workflow file in .github/workflows/ that is dispatched.",
    )
    ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Branch or tag the CI run starts at; default: the default branch.",
    )


DEFAULT_INFRA_PATHS = (
    "deploy/**",
    "**/Dockerfile",
    "**/*.dockerfile",
    "**/docker-compose*.y*ml",
    "**/compose.y*ml",
    "helm/**",
    "charts/**",
    "k8s/**",
    "**/*.tf",
)


class PoliciesConfig(_Strict):
    """``policies:``: what the judge refuses or holds for approval in proposed changes.

    CI files and ``.agentforge/`` are always protected (see docs/security.md); these keys
    add to that.
    """

    deny_paths: list[str] = Field(
        default_factory=list,
        description="Globs no proposed change may touch, whatever the role.",
    )
    infra_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INFRA_PATHS),
        description="Deployment globs whose changes need an approvers.infra login "
        "(the CI files always do).",
    )
    min_permission: PermissionName = Field(
        default=PermissionName.TRIAGE,
        description="Least permission of the event's actor for the bot to push, open or "
        "change a merge request on its behalf.",
    )
    secret_scan: bool = Field(
        default=True, description="Refuse pushes whose added lines contain a secret."
    )


DEFAULT_WORKFLOW = "feature"
"""The workflow of an issue whose labels pick no other."""

DEFAULT_WORKFLOW_LABELS: dict[str, str] = {
    "bug": "bugfix",
    "bugfix": "bugfix",
    "docs": "docs",
    "documentation": "docs",
}


class WorkflowsConfig(_Strict):
    """``workflows:`` in config.yaml: which workflow an issue's labels pick.

    The first label of the issue (in the issue's order) that is a key of ``labels``
    picks that workflow; with none, ``default``. Workflows are
    ``.agentforge/workflows/<name>.yaml`` or the shipped ``feature``, ``bugfix`` and
    ``docs`` templates; ``.agentforge/workflow.yaml`` is the ``feature`` workflow.
    """

    labels: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_WORKFLOW_LABELS),
        description="Issue label → workflow name; the issue's first matching label wins.",
    )
    default: str = Field(
        default=DEFAULT_WORKFLOW, description="The workflow when no label matches."
    )

    @field_validator("labels")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for label, name in value.items():
            if not label.strip():
                raise ValueError("a label must not be empty")
            if not _NAME.match(name):
                raise ValueError(f"workflow name {name!r} must be a lowercase name")
        return value


class WatchdogConfig(_Strict):
    """``watchdog:`` in config.yaml: when a run counts as stuck.

    A run whose state is ``running``, that has not changed for ``stuck_after_minutes``
    and whose work is not in flight (no job about its issue running with a lease its
    worker still renews, no continuation queued) is marked failed, and the issue told
    so. A role that works longer than the limit is not stuck while its job's lease is
    fresh, so the limit may be shorter than the roles' wall-clock limit.
    """

    stuck_after_minutes: int = Field(
        default=120,
        ge=5,
        le=10_080,
        description=(
            "Minutes without a change after which a `running` run that no job works "
            "(none with a live lease) is failed."
        ),
    )


class RepoConfig(_Strict):
    """``.agentforge/config.yaml``.

    Attributes:
        version: Version of this file's format.
        approvers: Who may ``/approve`` and ``/reject``.
        trigger: What starts a run on an issue.
        index: What the context index includes.
        mcp: Allowlisted MCP tool servers.
        models: Model providers and the routes of each role.
        budgets: Money, call and token limits, checked before every model call.
        privacy: What makes work sensitive (local models only).
        prices: USD per million tokens, by model id.
        dispatch: Where its jobs run: the server's workers, or the forge's CI runners.
        bots: Other bots whose events are handled (every other bot is ignored).
        limits: Rate limits on starting runs and on refusal replies.
        trust: Who may start a run without a trusted actor's ``/agentforge ok-to-run``.
    """

    version: int = Field(default=1, ge=1, le=1)
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
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
    mcp: McpConfig = Field(default_factory=McpConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    prices: PricesConfig = Field(default_factory=PricesConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    workflows: WorkflowsConfig = Field(default_factory=WorkflowsConfig)
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)
    bots: BotsConfig = Field(default_factory=BotsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    trust: TrustConfig = Field(default_factory=TrustConfig)


class Phase(_Strict):
    """One workflow phase.

    ``gate`` is one gate or a list of gates that must all pass. An ``auto`` gate turns
    into ``human`` when the role's confidence is below ``confidence_threshold`` (the
    workflow's threshold when the phase sets none).

    Attributes:
        name: The phase's name (lowercase letters, digits, ``-``, ``_``); it appears in
            commit trailers (``Agentforge-Phase:``) and the status comment.
        role: The role that works the phase: a built-in role or one defined in
            ``.agentforge/roles/``.
        gate: How the phase ends: one gate, or a list of gates that must all pass.
        confidence_threshold: This phase's threshold for ``auto`` (the workflow's
            ``confidence_threshold`` when unset).
        description: What the phase is for, for people reading the file.
        new_tests: ``pass`` (new tests must pass) or ``fail`` (a bug's reproduction:
            the tests written must fail before the fix; later phases must make them
            pass).
        approvers: This phase's own approval rules (``required``, ``codeowners``,
            ``self_approval``) over ``config.yaml``'s ``approvers``.
    """

    name: str
    role: str
    outputs: list[str] = Field(
        default_factory=list, description="Paths (globs) the phase is expected to produce."
    )
    gate: Gate | tuple[Gate, ...] = Gate.HUMAN
    confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    description: str = ""
    new_tests: Literal["pass", "fail"] = Field(
        default="pass",
        description=(
            "pass: tests the phase adds must pass. fail: the phase reproduces a bug, so "
            "the tests it writes must fail on the code as it is, and later phases of the "
            "run must make them pass (the bugfix workflow's reproduce)."
        ),
    )
    approvers: PhaseApprovers = Field(
        default_factory=PhaseApprovers,
        description="This phase's own `required`, `codeowners` and `self_approval`.",
    )

    @field_validator("name", "role")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("expected a lowercase name: letters, digits, '-' or '_'")
        return value

    @field_validator("gate", mode="before")
    @classmethod
    def _gate(cls, value: object) -> Gate | tuple[Gate, ...]:
        # Validated here so a bad gate is one clear problem, not one per union member.
        known = ", ".join(g.value for g in Gate)
        items = value if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise ValueError(f"expected a gate or a non-empty list of gates ({known})")
        gates: list[Gate] = []
        for item in items:
            if isinstance(item, Gate):
                gates.append(item)
            elif isinstance(item, str) and item in {g.value for g in Gate}:
                gates.append(Gate(item))
            else:
                raise ValueError(f"unknown gate {item!r}; expected one of {known}")
        if len(set(gates)) != len(gates):
            raise ValueError("a gate is listed twice")
        if isinstance(value, (list, tuple)):
            return tuple(gates)
        return gates[0]

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The phase's gates as a tuple (all must pass)."""
        return self.gate if isinstance(self.gate, tuple) else (self.gate,)


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


class FixupsConfig(_Strict):
    """``fixups:`` in a workflow file: the bounded fix-up loop on a red pipeline.

    Attributes:
        max_rounds: Fix-up rounds per phase and round before a person is asked (0: ask
            at once).
        role: The role that fixes review comments and failing checks.
    """

    max_rounds: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Fix-up rounds on a red pipeline per phase and round before a person "
        "is asked (0: ask at once).",
    )
    role: str = Field(
        default="developer",
        description="The role that answers review comments and fixes failing checks.",
    )

    @field_validator("role")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("expected a lowercase name: letters, digits, '-' or '_'")
        return value


class WorkflowConfig(_Strict):
    """``.agentforge/workflow.yaml``: the ordered phases of a run.

    Attributes:
        version: Version of this file's format.
        phases: The phases in the order a run goes through them; names are unique.
    """

    version: int = Field(default=1, ge=1, le=1)
    phases: list[Phase] = Field(default_factory=_default_phases, min_length=1)
    confidence_threshold: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Below this, an `auto` gate becomes `human`."
    )
    fixups: FixupsConfig = Field(default_factory=FixupsConfig)

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

    def threshold_for(self, phase: Phase) -> float:
        """The confidence below which ``phase``'s ``auto`` gate becomes ``human``."""
        if phase.confidence_threshold is not None:
            return phase.confidence_threshold
        return self.confidence_threshold


def _known_tool(tool: str) -> str:
    if tool not in KNOWN_TOOLS:
        hint = ""
        if "__" in tool or tool.startswith("mcp"):
            hint = " (MCP servers are granted to roles in config.yaml mcp.servers.<name>.roles)"
        raise ValueError(f"unknown tool {tool!r}{hint}; known tools: {', '.join(KNOWN_TOOLS)}")
    return tool


ToolName = Annotated[str, AfterValidator(_known_tool)]
"""A name from :data:`KNOWN_TOOLS`; validated per item so an error names its line."""


class RoleSpec(_Strict):
    """A role's front matter in ``.agentforge/roles/<name>.md`` plus its template.

    Attributes:
        name: The role's name; the file name without ``.md``.
        description: One line on what the role does.
        tools: Tool names the role may call, each listed once.
        template: The prompt template: the file's body after the front matter.
    """

    name: str
    description: str = ""
    tools: list[ToolName] = Field(default_factory=list)
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
    def _unique_tools(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for tool in value:
            if tool in seen:
                raise ValueError(f"tool {tool!r} is listed twice")
            seen.add(tool)
        return value


class AgentForgeConfig(BaseModel):
    """Everything read from one repository's ``.agentforge/`` directory."""

    model_config = ConfigDict(frozen=True)

    config: RepoConfig = Field(default_factory=RepoConfig)
    workflow: WorkflowConfig = Field(default_factory=WorkflowConfig)
    roles: dict[str, RoleSpec] = Field(default_factory=dict)
    workflows: dict[str, WorkflowConfig] = Field(default_factory=dict)
    """Every named workflow (``feature``, ``bugfix``, ``docs``, the repository's own)."""
    workflow_name: str = DEFAULT_WORKFLOW
    """The name of :attr:`workflow`."""

    def role_names(self) -> set[str]:
        """Built-in roles plus the repository's own."""
        return set(BUILTIN_ROLES) | set(self.roles)

    def workflow_for_labels(self, labels: list[str]) -> str:
        """The workflow an issue with ``labels`` follows (see :class:`WorkflowsConfig`)."""
        mapping = self.config.workflows.labels
        for label in labels:
            name = mapping.get(label)
            if name is not None and name in self.all_workflows():
                return name
        return self.config.workflows.default

    def all_workflows(self) -> dict[str, WorkflowConfig]:
        """The named workflows (the main workflow as ``feature`` when none are listed)."""
        return self.workflows or {DEFAULT_WORKFLOW: self.workflow}

    def with_workflow(self, name: str) -> AgentForgeConfig:
        """This config following workflow ``name`` (unknown names keep the current one)."""
        chosen = self.all_workflows().get(name)
        if chosen is None or name == self.workflow_name:
            return self
        return self.model_copy(update={"workflow": chosen, "workflow_name": name})
