"""The role contract: what a role is asked to do and what it hands back.

The workflow engine builds a :class:`RoleTask`, a :class:`RoleRunner` runs the role
(a smolagents tool-calling agent on the role's routed model) and returns a
:class:`RoleResult`. The result's ``changes`` are *proposed*: the engine turns them
into a :class:`bot.actions.PushCommit` that the policies judge and the executor
applies. Control flow downstream depends on model output only through these typed
fields (``status``, ``confidence``, ``verdict``...), never on free text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.actions import FileChange
from bot.repoconfig import AgentForgeConfig

RoleStatus = Literal["completed", "needs_human", "failed"]
"""``completed``: the role finished its task. ``needs_human``: it asked questions a
person must answer before it can go on (``questions``). ``failed``: it could not finish
(``error`` says why: limits, budget, invalid output after one correction...)."""

ReviewVerdict = Literal["pass", "changes", "escalate"]
"""The reviewer role's verdict on a phase's diff."""


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class IssueBrief(_Value):
    """The issue a run serves, as the role sees it (untrusted text: data, never orders).

    Attributes:
        number: Issue number.
        title: Title.
        body: Description.
        labels: Labels on the issue.
        author: Login of whoever opened it.
        url: Web URL.
    """

    number: int
    title: str
    body: str = ""
    labels: list[str] = Field(default_factory=list)
    author: str = ""
    url: str | None = None


class Discussion(_Value):
    """One comment on the issue or MR, handed to the role as context (untrusted)."""

    author: str
    body: str
    on_mr: bool = False


class RoleTask(_Value):
    """One unit of work for one role.

    Attributes:
        role: Role name (``analyst``... or a repository's own role).
        repo: Repository full name.
        forge: ``github``, ``gitlab`` or ``local``.
        run_id: The workflow run (None when run from the CLI).
        phase: The workflow phase (None when run from the CLI).
        issue: The issue the work serves (None for a free-text ``task``).
        task: Free-text task (``agentforge role run --task``), or extra instructions.
        outputs: Globs the phase is expected to produce (from the workflow file).
        artifacts: Earlier phases' artifacts, path → text (requirements, design...).
        discussion: Comments on the issue and MR so far, oldest first.
        feedback: A reviewer's ``/reject`` feedback for this attempt, if any.
        previous_diff: The rejected attempt's diff, if any.
        diff: For the reviewer role: the phase's diff under review.
        round: 1 for the first attempt at the phase, 2 after one rejection...
        lessons: Repository lessons (``.agentforge/lessons.md``) to keep in mind.
        base_ref: The branch the run's branch was cut from.
        new_tests: ``pass``: tests the role adds must pass. ``fail``: the phase
            reproduces a bug, so the tests it writes must fail on the current code.
        must_pass: Test files that must pass once the change is applied (an earlier
            phase's reproduction of the bug).
    """

    role: str
    repo: str
    forge: str = "local"
    run_id: str | None = None
    phase: str | None = None
    issue: IssueBrief | None = None
    task: str = ""
    outputs: list[str] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(default_factory=dict)
    discussion: list[Discussion] = Field(default_factory=list)
    feedback: str | None = None
    previous_diff: str | None = None
    diff: str | None = None
    round: int = Field(default=1, ge=1)
    lessons: str = ""
    base_ref: str = "main"
    new_tests: Literal["pass", "fail"] = "pass"
    must_pass: list[str] = Field(default_factory=list)


class RoleUsage(_Value):
    """What a role run spent (also recorded per call in the usage ledger)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class ToolCall(_Value):
    """One tool call the agent made, for the transcript and the live progress view.

    Attributes:
        step: Agent step number (1-based).
        tool: Tool name.
        arguments: The arguments as the model sent them.
        result: The tool's answer (truncated for display).
        error: True when the tool refused or failed (the agent saw the error).
    """

    step: int
    tool: str
    arguments: dict = Field(default_factory=dict)
    result: str = ""
    error: bool = False


class RoleResult(_Value):
    """The typed outcome of one role run.

    Attributes:
        role: Role name.
        status: See :data:`RoleStatus`.
        changes: The staged change set (path → content, or deletion), already checked
            against the role's ``writes:`` globs and the protected paths.
        summary: A few sentences for the MR description and the status comment.
        confidence: The role's confidence in its work, 0-1.
        confidence_reasons: Why that confidence.
        covered: Acceptance-criterion id (``AC-1``) → the tests covering it.
        questions: Questions for a person (``status == "needs_human"``).
        verdict: The reviewer's verdict (None for other roles).
        findings: The reviewer's concrete findings (path:line and what is wrong).
        usage: What the run spent.
        error: Why the run failed (``status == "failed"``).
        transcript: Every tool call, in order.
    """

    role: str
    status: RoleStatus
    changes: list[FileChange] = Field(default_factory=list)
    summary: str = ""
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    confidence_reasons: list[str] = Field(default_factory=list)
    covered: dict[str, list[str]] = Field(default_factory=dict)
    questions: list[str] = Field(default_factory=list)
    verdict: ReviewVerdict | None = None
    findings: list[str] = Field(default_factory=list)
    usage: RoleUsage = Field(default_factory=RoleUsage)
    error: str | None = None
    transcript: list[ToolCall] = Field(default_factory=list)


class RoleProgress(_Value):
    """A live report from a running role (a tool call, a model step, tokens so far).

    Attributes:
        role: Role name.
        step: Agent step number.
        kind: ``step`` (a model answer), ``tool`` (a tool call finished) or ``note``.
        text: One line for people ("read_file src/cart.py").
        usage: Spend so far.
    """

    role: str
    step: int
    kind: Literal["step", "tool", "note"]
    text: str
    usage: RoleUsage = Field(default_factory=RoleUsage)


ProgressCallback = Callable[[RoleProgress], None]
"""Called from the running role after each model step and tool call."""


class RoleRunner(Protocol):
    """Runs one role on a task against a repository ref. Implemented in ``bot/``.

    The shell checks out ``ref`` (the run's branch, or ``base`` when it does not exist
    yet) in a scratch workspace, resolves the role's spec (the repository's
    ``.agentforge/roles/<role>.md`` over the shipped default), builds the routed model
    from ``config`` and runs the agent under its step, wall-clock and budget limits.
    """

    def run(
        self,
        task: RoleTask,
        *,
        config: AgentForgeConfig,
        ref: str,
        progress: ProgressCallback | None = None,
    ) -> RoleResult:
        """Run the role and return its typed result; never raises for model-caused
        trouble (that is a ``failed`` result), raises only for the shell's own errors.

        Args:
            task: What to do.
            config: The repository's config, read at the default branch's head.
            ref: The branch or commit to work on.
            progress: Live reports (status comment, CLI view, heartbeat).
        """
        ...
