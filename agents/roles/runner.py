"""Running one role: a smolagents tool-calling agent under step, time and budget limits.

:func:`run_role` renders the role's template (:mod:`agents.roles.prompt`), builds its
tools (:func:`agents.roles.tools.build_tools`, plus any MCP tools, plus our typed
:class:`~agents.roles.final.FinalAnswerTool`) and drives a
:class:`smolagents.ToolCallingAgent` — native tool calls, never generated Python — on
the given model (in production the role's :class:`~agents.routing.RoutedModel`).

It walks the agent's step stream itself, so that between two steps it can stop cleanly
at the step limit or the wall-clock limit and report each tool call as it happens. A
:class:`~bot.errors.BudgetExceeded` raised by the model's budget guard, a missing
provider or a failed model becomes a ``failed`` result whose ``error`` says why; errors
in our own code are raised. Before a final answer is accepted the staged files are
validated (:mod:`agents.roles.validate`); invalid output is sent back to the agent once
with the errors, and fails the run if it is still invalid.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolagents import ToolCallingAgent
from smolagents.agents import ToolOutput
from smolagents.memory import ActionStep, FinalAnswerStep
from smolagents.memory import ToolCall as AgentToolCall
from smolagents.monitoring import LogLevel
from smolagents.utils import AgentGenerationError

from agents.roles.contract import ProgressCallback, RoleProgress, RoleResult, RoleTask, RoleUsage
from agents.roles.contract import ToolCall as TranscriptCall
from agents.roles.final import FinalAnswer, FinalAnswerTool
from agents.roles.meter import UsageMeter
from agents.roles.prompt import SYSTEM_PREAMBLE, render_template
from agents.roles.specs import shipped_file
from agents.roles.validate import ValidationReport, sandbox_runner, validate_changes
from agents.roles.variables import CI_FILES, detect_stack, template_variables
from bot.errors import AgentForgeError, BudgetExceeded, ModelError, PolicyDenied
from bot.repoconfig import RoleSpec

RESULT_CHARS = 2000
"""A tool result is kept in the transcript up to this many characters."""


@dataclass(frozen=True)
class RoleLimits:
    """The limits every role run is held to.

    Attributes:
        max_steps: Model steps before the run is stopped as failed.
        wall_clock_s: Seconds before the run is stopped (checked between steps).
        context_tokens: Token budget of the context pack shown in the prompt.
        test_timeout_s: Wall-clock limit of running the new tests while validating.
        corrections: How many times invalid output is sent back before the run fails.
    """

    max_steps: int = 30
    wall_clock_s: float = 1800.0
    context_tokens: int = 8000
    test_timeout_s: float = 300.0
    corrections: int = 1


@dataclass
class _Run:
    """What one run collects while the agent works."""

    task: RoleTask
    started: float
    clock: Callable[[], float]
    meter: UsageMeter | None
    progress: ProgressCallback | None
    transcript: list[TranscriptCall] = field(default_factory=list)
    pending: dict[str, AgentToolCall] = field(default_factory=dict)
    step: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    validations: int = 0
    report: ValidationReport | None = None
    answer: FinalAnswer | None = None

    def usage(self) -> RoleUsage:
        seconds = self.clock() - self.started
        if self.meter is not None:
            return self.meter.usage(seconds)
        return RoleUsage(
            calls=self.step,
            input_tokens=self.tokens_in,
            output_tokens=self.tokens_out,
            seconds=round(seconds, 3),
        )

    def tell(self, kind: str, text: str) -> None:
        if self.progress is not None:
            self.progress(
                RoleProgress(
                    role=self.task.role, step=self.step, kind=kind, text=text, usage=self.usage()
                )
            )


def short_args(arguments: Any, limit: int = 80) -> str:
    """Tool arguments in one short line (``path=src/app.py``), for people."""
    if not isinstance(arguments, dict):
        text = str(arguments)
    else:
        parts = []
        for key, value in arguments.items():
            value = str(value).replace("\n", " ")
            parts.append(f"{key}={value[:40] + '…' if len(value) > 40 else value}")
        text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=1)
def _shipped_templates() -> dict[str, Any]:
    """smolagents' tool-calling prompt templates, parsed once per process."""
    import importlib.resources

    import yaml

    return yaml.safe_load(
        importlib.resources.files("smolagents.prompts")
        .joinpath("toolcalling_agent.yaml")
        .read_text(encoding="utf-8")
    )


def _prompt_templates(spec: RoleSpec) -> dict[str, Any]:
    base = copy.deepcopy(_shipped_templates())  # callers and smolagents may change it
    # Our own system prompt: the data-block rule, the role; no code-agent examples.
    # smolagents renders it with Jinja: keep it free of template syntax.
    description = spec.description.replace("{", "(").replace("}", ")")
    base["system_prompt"] = f"{SYSTEM_PREAMBLE}\nYour role: {spec.name}. {description}\n"
    return base


def _ci_file(task: RoleTask, exists: Callable[[str], bool]) -> str:
    if task.forge in CI_FILES:
        return CI_FILES[task.forge]
    # A local checkout: the forge's CI file that is already there, if any.
    if exists(".gitlab-ci.yml"):
        return ".gitlab-ci.yml"
    return CI_FILES["github"] if exists(".github") or exists(".github/workflows") else ""


def build_prompt(
    task: RoleTask,
    spec: RoleSpec,
    *,
    tools_env: Any,
    context: str = "",
    source: str | None = None,
) -> str:
    """The role's rendered task prompt (also shown by ``agentforge role run``).

    Raises:
        RepoConfigError: The template does not render (file and line named).
    """
    changes = tools_env.changes
    protected = list(changes.protected)
    ci_file = _ci_file(task, changes.exists)
    variables = template_variables(
        task,
        spec,
        context=context,
        stack=detect_stack(changes.exists),
        protected=protected,
        ci_file=ci_file,
        ci_writable=bool(ci_file) and not _is_protected(ci_file, protected),
    )
    return render_template(spec, variables, source=source or shipped_file(spec.name))


def _is_protected(path: str, protected: list[str]) -> bool:
    from agents.roles.changes import matches

    return matches(path, protected) is not None


def run_role(
    task: RoleTask,
    spec: RoleSpec,
    *,
    model: Any,
    tools_env: Any,
    limits: RoleLimits | None = None,
    progress: ProgressCallback | None = None,
    context: str = "",
    meter: UsageMeter | None = None,
    extra_tools: Sequence[Any] = (),
    source: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RoleResult:
    """Run ``spec`` on ``task`` and return its typed result.

    Args:
        task: The work.
        spec: The resolved role (:func:`agents.roles.specs.resolve_spec`).
        model: A smolagents model; in production the role's ``RoutedModel``.
        tools_env: The :class:`agents.roles.tools.ToolEnv` (checkout, change set,
            sandbox, git view, searches, questions).
        limits: Step, time, context and validation limits.
        progress: Called after every step and tool call.
        context: The rendered context pack for the prompt.
        meter: The usage meter the model records through (for usage so far).
        extra_tools: More smolagents tools (MCP servers allowlisted for the role).
        source: The role file (for template errors).
        clock: Monotonic seconds (the wall-clock limit).

    Returns:
        ``completed``, ``needs_human`` (it called ``ask_human``) or ``failed``.

    Raises:
        RepoConfigError: The role's template does not render.
    """
    from agents.roles.tools import build_tools

    limits = limits or RoleLimits()
    source = source or shipped_file(spec.name)
    prompt = build_prompt(task, spec, tools_env=tools_env, context=context, source=source)
    run = _Run(task=task, started=clock(), clock=clock, meter=meter, progress=progress)
    tools = [
        *build_tools([t for t in spec.tools if t != "final_answer"], tools_env),
        *extra_tools,
        FinalAnswerTool(),
    ]
    agent = ToolCallingAgent(
        tools=tools,
        model=model,
        prompt_templates=_prompt_templates(spec),
        # We stop at our own limit between steps; smolagents' own limit would make one
        # more model call to force an answer.
        max_steps=limits.max_steps + 1,
        final_answer_checks=[_checker(run, spec, tools_env, limits)],
        verbosity_level=LogLevel.OFF,
    )
    run.tell("note", f"{spec.name}: {len(tools)} tools, up to {limits.max_steps} steps")
    try:
        error = _drive(agent, prompt, run, limits)
    except AgentGenerationError as exc:
        error = _model_failure(exc)
    return _result(run, spec, tools_env, error)


def _model_failure(exc: AgentGenerationError) -> str:
    cause = exc.__cause__
    if isinstance(cause, BudgetExceeded):
        return str(cause)
    if isinstance(cause, (ModelError, PolicyDenied)):
        return f"the model call failed: {cause}"
    if isinstance(cause, AgentForgeError):
        return str(cause)
    # Our own bug (or smolagents'): not the model's fault, so not a failed result.
    raise exc


def _drive(agent: ToolCallingAgent, prompt: str, run: _Run, limits: RoleLimits) -> str | None:
    stream = agent.run(prompt, stream=True, max_steps=limits.max_steps + 1)
    try:
        for event in stream:
            if isinstance(event, AgentToolCall):
                run.pending[event.id] = event
            elif isinstance(event, ToolOutput):
                _tool_done(run, event)
            elif isinstance(event, ActionStep):
                stop = _step_done(run, event, limits)
                if stop is not None:
                    return stop
            elif isinstance(event, FinalAnswerStep):
                return None
    finally:
        # Stopping between steps (at an ActionStep) leaves smolagents in a clean state.
        stream.close()
    return None


def _tool_done(run: _Run, output: ToolOutput) -> None:
    call = run.pending.pop(output.id, None) or output.tool_call
    name = call.name if call is not None else "?"
    args = call.arguments if call is not None and isinstance(call.arguments, dict) else {}
    if name == "final_answer" and isinstance(output.output, FinalAnswer):
        run.answer = output.output
    text = str(output.observation or "")
    run.transcript.append(
        TranscriptCall(
            step=run.step + 1,
            tool=name,
            arguments=args,
            result=text[:RESULT_CHARS],
            # A tool that fails raises; its call is recorded from the step's error.
            error=False,
        )
    )
    run.tell("tool", f"{name} {short_args(args)}".strip())


def _step_done(run: _Run, step: ActionStep, limits: RoleLimits) -> str | None:
    run.step = step.step_number
    if step.token_usage is not None:
        run.tokens_in += step.token_usage.input_tokens
        run.tokens_out += step.token_usage.output_tokens
    if step.error is not None:
        # Calls whose output never came failed inside the tool: the agent saw the error.
        for call in run.pending.values():
            run.transcript.append(
                TranscriptCall(
                    step=run.step,
                    tool=call.name,
                    arguments=call.arguments if isinstance(call.arguments, dict) else {},
                    result=str(step.error)[:RESULT_CHARS],
                    error=True,
                )
            )
            run.tell("tool", f"{call.name} failed: {str(step.error).splitlines()[0][:120]}")
    run.pending.clear()
    thought = (step.model_output or "").strip() if isinstance(step.model_output, str) else ""
    run.tell("step", thought.splitlines()[0][:160] if thought else f"step {run.step} done")
    if step.is_final_answer:
        return None
    elapsed = run.clock() - run.started
    if elapsed > limits.wall_clock_s:
        return (
            f"stopped after {elapsed:.0f} s: the wall-clock limit is {limits.wall_clock_s:.0f} s "
            f"(step {run.step}); the role did not finish"
        )
    if run.step >= limits.max_steps:
        return f"stopped at the step limit ({limits.max_steps} steps) without a final answer"
    return None


def _checker(run: _Run, spec: RoleSpec, tools_env: Any, limits: RoleLimits) -> Callable:
    root = Path(tools_env.root)

    def validate_output(final_answer: Any, memory: Any, agent: Any = None) -> bool:
        """Validate the staged files (and the reviewer's verdict) before accepting."""
        answer = final_answer if isinstance(final_answer, FinalAnswer) else None
        problems: list[str] = []
        if spec.name == "reviewer" and answer is not None:
            if answer.verdict is None:
                problems.append("a review needs a verdict: pass, changes or escalate")
            elif answer.verdict != "pass" and not answer.findings:
                problems.append(f"verdict {answer.verdict} needs findings (path:line: problem)")
        changes = tools_env.changes
        report = validate_changes(
            changes.file_changes(),
            existed=lambda p: (root / p).is_file(),
            new_tests=run.task.new_tests,
            must_pass=run.task.must_pass,
            run=sandbox_runner(changes, tools_env.sandbox, limits.test_timeout_s)
            if tools_env.sandbox is not None
            else None,
        )
        report.errors[:0] = problems
        run.report = report
        run.validations += 1
        for note in report.notes:
            run.tell("note", note)
        if report.ok or run.validations > limits.corrections:
            return True
        run.tell("note", f"output invalid, sent back: {len(report.errors)} problem(s)")
        raise ValueError(
            "Your output is not ready. Fix these problems (write the files again), then call "
            "final_answer again:\n" + "\n".join(f"- {e}" for e in report.errors)
        )

    return validate_output


def _result(run: _Run, spec: RoleSpec, tools_env: Any, error: str | None) -> RoleResult:
    asked = [str(q) for q in getattr(tools_env, "questions", []) or []]
    answer = run.answer
    if error is None and answer is None:
        error = "the role ended without calling final_answer"
    if error is None and run.report is not None and not run.report.ok:
        error = (
            f"the output is still invalid after {run.validations - 1} correction(s): "
            + "; ".join(run.report.errors)
        )
    status = "failed" if error else ("needs_human" if asked else "completed")
    fields: dict[str, Any] = {}
    if answer is not None:
        fields = answer.model_dump(exclude={"questions"})
    questions = list(dict.fromkeys([*asked, *(answer.questions if answer else [])]))
    return RoleResult(
        role=spec.name,
        status=status,
        # A failed run proposes nothing: half-done or invalid files never reach a commit.
        changes=[] if status == "failed" else tools_env.changes.file_changes(),
        questions=questions,
        usage=run.usage(),
        error=error,
        transcript=run.transcript,
        **fields,
    )
