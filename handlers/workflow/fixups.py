"""Fix-ups: follow-up work on a waiting phase — review threads and red pipelines.

A fix-up runs the workflow's fix-up role (``fixups.role``, default ``developer``) on
the run's branch with the phase's context plus what to fix (``RoleTask.feedback``:
the review comments, or the failing checks' logs), pushes one commit on top of the
branch (trailers ``Agentforge-Run/Phase/Role/Round`` of the current phase plus
``Agentforge-Fixup: review|pipeline``) and records a :class:`~.state.Fixup` keyed by
what it answered, so the same review or the same red head is never worked twice.
The push moves the MR head, so the phase's gate is evaluated again (approvals of the
old head no longer count).

**Pipeline loop** (:func:`on_red_pipeline`): when a phase whose gates include ``tests``
waits and checks on the MR head fail, a fix-up round starts with the failing checks'
logs (``forge.get_check_log``). At most ``fixups.max_rounds`` rounds per phase and
round (workflow file); after that the bot asks a person on the issue, once, with the
failure summary.

Crash safety: the role's work is at least once — a job that dies after the push but
before the record reruns the role on retry; the second push commits nothing when the
tree matches, and replies are keyed so a thread gets one reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.roles.contract import RoleResult
from bot.actions import FileChange, PushCommit
from bot.forge import CommitState, CommitStatus
from handlers.services import RunRecord
from handlers.workflow.commands_table import safe_key
from handlers.workflow.engine import Engine
from handlers.workflow.state import Fixup, RunData
from handlers.workflow.work import build_task, trailers

TRAILER_FIXUP = "Agentforge-Fixup"
_FAILING = {CommitState.FAILURE, CommitState.ERROR}
_LOG_CHARS = 12_000
_CONSUMED_KEEP = 200


@dataclass(frozen=True)
class FixupOutcome:
    """What one fix-up did.

    Attributes:
        sha: The fix commit (None when the role changed nothing or failed).
        result: The role's result.
        run: The run after the fix-up was recorded.
    """

    sha: str | None
    result: RoleResult
    run: RunRecord


def run_fixup(
    engine: Engine,
    run: RunRecord,
    *,
    kind: str,
    key: str,
    task: str,
    feedback: str,
    consumed: tuple[str, ...] = (),
    before_record: Callable[[str | None, RoleResult], None] | None = None,
) -> FixupOutcome | None:
    """Run the fix-up role, push its change, record the fix-up (None: nothing to do).

    ``before_record(sha, result)`` runs after the push and before the record (the
    review replies: a crash in between replies again, keyed, rather than never).
    """
    data = engine.data(run)
    phase = data.phase
    if phase is None or phase.state != "needs_approval" or data.mr is None:
        return None
    if any(f.kind == kind and f.key == key for f in data.fixups):
        return None
    fixups = engine.config.workflow.fixups
    issue = engine.s.forge.get_issue(data.repo, data.issue)
    role_task = build_task(
        data,
        phase,
        outputs=["**"],
        issue=issue,
        forge=engine.s.forge,
        reader=engine.s.repo,
        bot_login=engine.s.bot_login,
        role=fixups.role,
        task=task,
        feedback=feedback,
        workflow=engine.config.workflow,
    )
    result = engine.s.roles.run(
        role_task, config=engine.config, ref=data.branch, progress=engine._progress(data)
    )
    sha = None
    fresh = engine.s.runs.get(run.id)
    if fresh is None or fresh.terminal:
        return None  # cancelled while the role worked: no more commits
    if result.status == "completed" and result.changes:
        sha = _push(engine, data, kind, result)
    if before_record is not None:
        before_record(sha, result)
    run = _record(engine, run, kind=kind, key=key, sha=sha, result=result, consumed=list(consumed))
    return FixupOutcome(sha=sha, result=result, run=run)


def _push(engine: Engine, data: RunData, kind: str, result: RoleResult) -> str | None:
    phase = data.phase
    if phase is None:
        return None
    summary = result.summary.strip() or f"{kind} fix-up"
    message = (
        f"agentforge({phase.name}): {summary.splitlines()[0][:60]}\n\n{summary}\n\n"
        f"Refs #{data.issue}"
    )
    push = PushCommit(
        repo=data.repo,
        branch=data.branch,
        base=data.base,
        message=message,
        changes=[FileChange.model_validate(c.model_dump()) for c in result.changes],
        trailers={**trailers(data, phase), "Agentforge-Role": result.role, TRAILER_FIXUP: kind},
        reason=f"run {data.run_id}: {kind} fix-up on {phase.name}",
    )
    (outcome,) = engine.s.actions.apply([push])
    if outcome.status == "applied":
        return outcome.result.get("sha")
    return None


def _record(
    engine: Engine,
    run: RunRecord,
    *,
    kind: str,
    key: str,
    sha: str | None,
    result: RoleResult,
    consumed: list[str],
) -> RunRecord:
    now = engine.now()
    from handlers.workflow.steps import _usage

    def change(data: RunData, extra: dict[str, Any]) -> bool:
        if any(f.kind == kind and f.key == key for f in data.fixups):
            return False
        phase = data.phase
        name = phase.name if phase is not None else data.phases[-1].name
        data.fixups.append(Fixup(kind=kind, key=key, phase=name, commit=sha, at=now))
        if phase is not None:
            if sha and sha not in phase.commits:
                phase.commits.append(sha)
            phase.usage = phase.usage.plus(_usage(result.usage))
        data.consumed = [*data.consumed, *consumed][-_CONSUMED_KEEP:]
        return True

    for _ in range(20):
        if run.terminal:
            return run
        run, won = engine.transition(run, change)
        if won or any(f.kind == kind and f.key == key for f in engine.data(run).fixups):
            return run
    return run


# --- the pipeline loop -------------------------------------------------------------------


def _log_of(engine: Engine, data: RunData, sha: str, check: CommitStatus) -> str:
    text = engine.s.forge.get_check_log(data.repo, sha, check.context)
    if not text:
        detail = check.description or "no description"
        return f"(no log available; the check says: {detail})"
    return text[-_LOG_CHARS:]


def on_red_pipeline(job: Any, engine: Engine, run: RunRecord) -> RunRecord:
    """Start a fix-up round for failing checks on the run's head, within the bound."""
    data = engine.data(run)
    phase = data.phase
    if run.terminal or phase is None or phase.state != "needs_approval" or data.mr is None:
        return run
    if "tests" not in phase.gates:
        return run
    head = engine.head_sha(data)
    if head is None:
        return run
    failing = sorted(
        (c for c in engine.s.forge.list_checks(data.repo, head) if c.state in _FAILING),
        key=lambda c: c.context,
    )
    if not failing:
        return run
    # One round per red head; rounds are counted per phase and phase round.
    key = f"{head}:" + ",".join(c.context for c in failing) + f"@{phase.round}"
    used = [
        f
        for f in data.fixups
        if f.kind == "pipeline" and f.phase == phase.name and f.key.endswith(f"@{phase.round}")
    ]
    if any(f.kind == "pipeline" and f.key == key for f in data.fixups):
        return run
    names = ", ".join(f"`{c.context}`" for c in failing)
    limit = engine.config.workflow.fixups.max_rounds
    if len(used) >= limit:
        _ask_human(job, data, phase.name, phase.round, failing, head, limit)
        return run
    logs = "\n\n".join(
        f"### {c.context} ({c.state.value})\n```text\n{_log_of(engine, data, head, c)}\n```"
        for c in failing
    )
    feedback = (
        f"The checks {names} fail on the branch's head `{head[:10]}` "
        f"(fix-up round {len(used) + 1} of {limit}). Find the cause in the logs and fix it; "
        f"change only what the failure needs.\n\n{logs}"
    )
    outcome = run_fixup(
        engine,
        run,
        kind="pipeline",
        key=key,
        task="Make the failing checks pass.",
        feedback=feedback,
    )
    return outcome.run if outcome is not None else run


def _ask_human(
    job: Any,
    data: RunData,
    phase: str,
    round_: int,
    failing: list[CommitStatus],
    head: str,
    limit: int,
) -> None:
    lines = [
        f"🚨 The checks on `{data.branch}` still fail after {limit} fix-up round(s) in "
        f"**{phase}**; a person needs to look.",
        "",
        f"Failing at `{head[:10]}`:",
    ]
    for check in failing:
        link = f" ([details]({check.target_url}))" if check.target_url else ""
        detail = f": {check.description}" if check.description else ""
        lines.append(f"- `{check.context}` — {check.state.value}{detail}{link}")
    lines += [
        "",
        "Push a fix to the branch, or comment `/reject <what to change>` to run the phase "
        "again with directions, or `/cancel`.",
    ]
    from bot.actions import PostComment

    job.apply(
        PostComment(
            repo=data.repo,
            number=data.issue,
            body="\n".join(lines),
            marker_key=safe_key(f"fixups.exhausted.{data.run_id}.{phase}.{round_}"),
            reason=f"run {data.run_id}: fix-up rounds used up",
        )
    )
