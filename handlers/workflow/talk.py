"""The conversation commands: ``/reject``, ``/retry``, ``/status``, ``/cancel``, ``/help``.

Registered in :data:`handlers.workflow.commands_table.COMMANDS` next to ``/approve``
and ``/agentforge start`` (importing this module is the registry line, see
:func:`handlers.workflow.register`). Who may use what:

- ``/reject <feedback>``, ``/retry [answers]``, ``/cancel``: approvers only (anyone
  else gets one reply saying who may, and nothing changes);
- ``/status`` and ``/help``: everyone.

Every reply is keyed by the command's comment id, so a redelivered comment edits the
same reply instead of posting another. An accepted command gets 👀.
"""

from __future__ import annotations

from typing import Any

from bot.actions import AddLabels
from handlers.commands import Command
from handlers.workflow import lessons, rounds
from handlers.workflow.commands_table import (
    COMMANDS,
    CommandSpec,
    commands_now,
    ended_reply,
    register_command,
    safe_key,
)
from handlers.workflow.engine import Engine
from handlers.workflow.job import Job, when
from handlers.workflow.state import RunData

_LABEL_CANCELLED = "agentforge:cancelled"
"""The label a cancelled run leaves on its issue."""


def _approver_or_reply(job: Job, engine: Engine, command: Command) -> bool:
    who = job.event.actor.login
    verdict = engine.approvers.check(who)
    if verdict.ok:
        return True
    job.refuse(
        safe_key(f"refused.{job.event.comment_id}"),
        f"@{who}, only approvers may `/{command.name}`: {engine.approvers.describe()} "
        f"(`approvers` in `.agentforge/config.yaml`). Nothing was changed ({verdict.reason}).",
    )
    return False


def _open_run(job: Job, command: Command, issue: int) -> tuple[Any, Engine] | None:
    """The issue's open run and its engine for an approver's command, or None.

    None (after the reply that says why, where one is due) when there is no run or
    config, the run has ended, or the commenter is no approver.
    """
    run = job.locate(issue)
    config = job.config(issue)
    if run is None or config is None:
        return None
    if run.terminal:
        ended_reply(job, command, run.state)
        return None
    engine = job.engine(config)
    if not _approver_or_reply(job, engine, command):
        return None
    return run, engine


def _signal(job: Job) -> str:
    return f"comment:{job.event.comment_id}"


# --- /reject ---------------------------------------------------------------------------

_REJECT_WHY = {
    "not_waiting": (
        "@{who}, no phase is waiting for review right now, so there is nothing to reject. "
        "`/status` shows where the run stands."
    ),
    "early": (
        "@{who}, your `/reject` was written before **{phase}** showed its current result. "
        "Review the current head and comment `/reject <feedback>` again."
    ),
}


def _reject(job: Job, command: Command, issue: int) -> None:
    opened = _open_run(job, command, issue)
    if opened is None:
        return
    run, engine = opened
    who = job.event.actor.login
    feedback = command.args.strip()
    if not feedback:
        job.reply(
            safe_key(f"reject.{job.event.comment_id}"),
            f"@{who}, say what should change: `/reject <feedback>` (the feedback goes to the "
            "role that works the phase again). Nothing was changed.",
        )
        return
    job.react()
    with engine.guard(run):
        data = engine.data(run)
        phase = data.phase
        run, outcome = rounds.reject(
            engine, run, signal=_signal(job), feedback=feedback, at=when(job.event.updated_at)
        )
        if outcome in _REJECT_WHY:
            job.reply(
                safe_key(f"reject.{job.event.comment_id}"),
                _REJECT_WHY[outcome].format(who=who, phase=phase.name if phase else "the phase"),
            )
        if outcome == "rejected" and phase is not None:
            lessons.remember(
                job,
                engine,
                run,
                kind="reject",
                text=feedback,
                phase=phase.name,
                role=phase.role,
            )
        engine.drive(run)


def _offer_reject(data: RunData) -> bool:
    return data.outcome is None and data.phase is not None and data.phase.state == "needs_approval"


# --- /retry ----------------------------------------------------------------------------


def _retry(job: Job, command: Command, issue: int) -> None:
    run = job.locate(issue)
    config = job.config(issue)
    if run is None or config is None:
        return
    engine = job.engine(config)
    if not _approver_or_reply(job, engine, command):
        return
    if run.state != "failed":
        job.reply(
            safe_key(f"retry.{job.event.comment_id}"),
            f"@{job.event.actor.login}, the run is **{run.state}**, not failed: there is "
            "nothing to retry. `/status` shows where it stands.",
        )
        return
    job.react()
    answers = command.args.strip() or None
    new = rounds.retry(engine, run, signal=_signal(job), by=job.event.actor.login, answers=answers)
    if new is None:
        return
    with engine.guard(new):
        new = engine.publish(new)
        engine.drive(new)


def _offer_retry(data: RunData) -> bool:
    return data.outcome == "failed"


# --- /cancel ---------------------------------------------------------------------------


def _cancel(job: Job, command: Command, issue: int) -> None:
    opened = _open_run(job, command, issue)
    if opened is None:
        return
    run, engine = opened
    job.react()
    with engine.guard(run):
        run, _ = rounds.cancel(engine, run, signal=_signal(job), by=job.event.actor.login)
        engine.publish(run)
        job.apply(
            AddLabels(
                repo=job.repo,
                number=issue,
                labels=[_LABEL_CANCELLED],
                reason=f"run {run.id} was cancelled",
            )
        )


def _offer_cancel(data: RunData) -> bool:
    return data.outcome is None


# --- /status ---------------------------------------------------------------------------


def describe(data: RunData, state: str) -> str:
    """The run's state in a few lines (the ``/status`` answer)."""
    lines = [f"**Run** `{data.run_id}` · workflow **{data.workflow}** · **{state}**"]
    if data.outcome:
        lines.append(f"It ended {data.outcome}" + (f": {data.error}" if data.error else "."))
    phase = data.phase
    if phase is not None and not data.outcome:
        line = f"Current phase: **{phase.name}** ({phase.role}) — {phase.state}"
        if phase.round > 1:
            line += f", round {phase.round}"
        lines.append(line)
        if phase.hold:
            lines.append(f"- held: {phase.hold}")
        lines += [f"- waiting for {item}" for item in phase.pending]
    done = [p.name for p in data.phases if p.state == "approved"]
    if done:
        lines.append("Done: " + ", ".join(done))
    if data.mr is not None:
        lines.append(f"MR: {data.mr_url or data.mr}")
    return "\n".join(lines)


def _status(job: Job, command: Command, issue: int) -> None:
    run = job.locate(issue)
    key = safe_key(f"answer.status.{job.event.comment_id}")
    if run is None:
        job.reply(key, "There is no AgentForge run on this issue. `/agentforge start` starts one.")
        return
    job.react()
    data = RunData.from_data(run.data)
    config = job.config(issue)
    if config is not None:
        engine = job.engine(config)
        with engine.guard(run):
            engine.publish(run)  # refresh the status comment; the state does not change
    job.reply(key, describe(data, run.state) + "\n\n" + help_text(data))


# --- /help and unknown commands ------------------------------------------------------


def help_text(data: RunData | None) -> str:
    """Every command with who may use it; those that work now are marked."""
    now = set(commands_now(data)) if data is not None else set()
    lines = ["| command | who | what |", "|---|---|---|"]
    for name, spec in COMMANDS.items():
        usage = spec.usage or (f"/{name}" if spec.bare else f"/agentforge {name}")
        mark = " ✅ now" if name in now else ""
        lines.append(f"| `{usage}`{mark} | {spec.who} | {spec.what} |")
    lines.append("")
    lines.append("Every command also works as `/agentforge <command>`.")
    return "\n".join(lines)


def answer_help(job: Job, issue: int, *, unknown: str | None = None) -> None:
    """Reply with the command list (for ``/help`` and for an unknown command)."""
    run = job.locate(issue)
    data = RunData.from_data(run.data) if run is not None else None
    head = (
        f"`{unknown}` is not an AgentForge command. These are:"
        if unknown
        else "AgentForge commands:"
    )
    answer = job.refuse if unknown else job.reply  # an unknown command is refused
    answer(safe_key(f"help.{job.event.comment_id}"), f"{head}\n\n{help_text(data)}")


def _help(job: Job, command: Command, issue: int) -> None:
    job.react()
    answer_help(job, issue)


# --- the registry lines ----------------------------------------------------------------

register_command(
    CommandSpec(
        "reject",
        _reject,
        offered=_offer_reject,
        usage="/reject <feedback>",
        what="runs the current phase again with your feedback and its previous diff",
    )
)
register_command(
    CommandSpec(
        "retry",
        _retry,
        offered=_offer_retry,
        usage="/retry [answers]",
        what="runs the failed phase again (answers to the role's questions go along)",
    )
)
register_command(
    CommandSpec(
        "cancel",
        _cancel,
        offered=_offer_cancel,
        usage="/cancel",
        what="ends the run (`cancelled`): no more commits, later commands do nothing",
    )
)
register_command(
    CommandSpec(
        "status",
        _status,
        offered=lambda data: True,
        usage="/status",
        who="everyone",
        what="answers with the run's state and refreshes the status comment",
    )
)
register_command(
    CommandSpec(
        "help",
        _help,
        offered=lambda data: True,
        usage="/help",
        who="everyone",
        what="lists the commands",
    )
)
