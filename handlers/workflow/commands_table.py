"""The workflow's slash commands: one table, one runner per command.

Each :class:`CommandSpec` names who may use the command, whether its bare ``/name``
form is recognised (``/agentforge name`` always is), and when it is offered in the
status comment. The conversation issue adds ``reject``, ``retry``, ``status``,
``cancel`` and ``help`` by calling :func:`register_command`; this module ships the
ones the main road needs:

- ``/approve`` (``/agentforge approve``), approvers only: passes the human part of the
  current phase's gate, bound to the MR head SHA;
- ``/agentforge start``, by an approver or the issue's author: starts a run (the
  bare ``/start`` is not recognised, it is too common a word);
- ``/agentforge ok-to-run``, approvers only: lets a run start that was asked for by
  someone below ``trust.min_permission`` (:mod:`.admission`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import ForgeError
from bot.forge import Permission
from handlers.commands import Command
from handlers.workflow import admission, approvals
from handlers.workflow.approvers import Verdict
from handlers.workflow.infra_hold import INFRA, held, release_verdict
from handlers.workflow.job import Job, when
from handlers.workflow.state import RunData

Runner = Callable[[Job, Command, int], None]
"""``runner(job, command, issue_number)``: does the command's work."""


@dataclass(frozen=True)
class CommandSpec:
    """One command.

    Attributes:
        name: The command's name.
        run: Does its work (called only for a new comment by a non-bot on an open
            issue or MR, with a valid config).
        bare: Whether ``/name`` works without the ``/agentforge`` prefix.
        offered: When the status comment lists it: called with the run's state.
        usage: How to write it, for ``/help`` (``/reject <feedback>``).
        who: Who may use it, in words, for ``/help``.
        what: What it does, in one line, for ``/help``.
    """

    name: str
    run: Runner
    bare: bool = True
    offered: Callable[[RunData], bool] = lambda data: False
    usage: str = ""
    who: str = "approvers"
    what: str = ""


COMMANDS: dict[str, CommandSpec] = {}
"""The command table (name → spec)."""


def register_command(spec: CommandSpec) -> None:
    """Add (or replace) a command in :data:`COMMANDS`."""
    COMMANDS[spec.name] = spec


def bare_names() -> frozenset[str]:
    """Commands recognised in their bare form."""
    return frozenset(name for name, spec in COMMANDS.items() if spec.bare)


def commands_now(data: RunData) -> list[str]:
    """The commands the status comment offers for the run's current state."""
    return [name for name, spec in COMMANDS.items() if spec.offered(data)]


def safe_key(text: str) -> str:
    """``text`` usable in a marker key."""
    return re.sub(r"[^A-Za-z0-9_.:/-]", "-", text)[:120]


# --- /approve --------------------------------------------------------------------------

_WHY = {
    "early": (
        "@{who}, your `/approve` was written before **{phase}** showed what you would "
        "approve (it was still running, or someone pushed after it). Review the current "
        "head and comment `/approve` again."
    ),
    "not_human": (
        "@{who}, the **{phase}** phase's gate is `{gates}`: `/approve` does not pass it; it "
        "moves on when that is met."
    ),
    "stale": (
        "@{who}, your approval was given at an older commit than the MR's head; approve the "
        "current head to pass **{phase}**."
    ),
}


def ended_reply(job: Job, command: Command, run_state: str) -> None:
    """Say that the run has ended, so ``command`` does nothing (keyed by comment id;
    throttled like every refusal)."""
    job.refuse(
        safe_key(f"ended.{job.event.comment_id}"),
        f"@{job.event.actor.login}, this issue's run was **{run_state}**: `/{command.name}` "
        "does nothing now. Comment `/agentforge start` to start a new run.",
    )


def _approve(job: Job, command: Command, issue: int) -> None:
    run = job.locate(issue)
    if run is None:
        return
    if run.terminal:
        if run.state == "cancelled":
            ended_reply(job, command, run.state)
        return
    config = job.config(issue)
    if config is None:
        return
    engine = job.engine(config)
    who = job.event.actor.login
    verdict, rule = approver_verdict(engine, engine.data(run), who)
    if not verdict.ok:
        job.refuse(
            safe_key(f"refused.{job.event.comment_id}"),
            f"@{who}, only approvers may `/approve` this phase: "
            f"{rule}. Your approval does not count ({verdict.reason}), so nothing was changed.",
        )
        return
    job.react()
    signal = approvals.Signal(
        by=who,
        id=f"comment:{job.event.comment_id}",
        via="comment",
        at=when(job.event.updated_at),
    )
    with engine.guard(run):
        run, outcome = approvals.record(engine, run, signal)
        data = engine.data(run)
        if outcome in _WHY and data.phase is not None:
            job.reply(
                safe_key(f"approve.{job.event.comment_id}"),
                _WHY[outcome].format(
                    who=who, phase=data.phase.name, gates=" + ".join(data.phase.gates)
                ),
            )
        engine.drive(run)


def approver_verdict(engine: Any, data: RunData, who: str) -> tuple[Verdict, str]:
    """Whether ``who``'s approval of the run's current phase counts and, when it does
    not, the rule in words for the reply (else ``""``: the rule may cost look-ups)."""
    phase = data.phase
    approvers = engine.config.config.approvers
    if held(phase):
        verdict = release_verdict(
            approvers, who, bot_login=engine.s.bot_login, started_by=data.started_by
        )
        if verdict.ok:
            verdict = _may_push(engine, data.repo, who)
        listed = ", ".join(f"@{a}" for a in approvers.infra)
        return verdict, f"{listed} (`approvers.infra` in `.agentforge/config.yaml`)"
    if phase is None or phase.state != "needs_approval":
        verdict = engine.approvers.check(who)
    else:
        verdict = engine.rules.may_approve(data, phase, who, phase.head_sha)
    if verdict.ok:
        return verdict, ""
    rule = engine.rules.describe(data, phase) + " (`approvers` in `.agentforge/config.yaml`)"
    return verdict, rule


def _may_push(engine: Any, repo: str, who: str) -> Verdict:
    """The released push is made in this job, on behalf of ``who``: the judge's
    ``policies.min_permission`` applies to them (refused here, with the reason, rather
    than failing the phase)."""
    needed = Permission[engine.config.config.policies.min_permission.value.upper()]
    try:
        have = engine.s.forge.get_permission(repo, who)
    except ForgeError as exc:
        return Verdict(False, f"the permission of @{who} could not be read ({exc})")
    if have >= needed:
        return Verdict(True, f"has {have.name.lower()} permission")
    return Verdict(
        False,
        f"@{who} has {have.name.lower()} permission, and the bot pushes on behalf of whoever "
        f"releases the push, which needs at least {needed.name.lower()} "
        "(policies.min_permission)",
    )


def _offer_approve(data: RunData) -> bool:
    phase = data.phase
    return (
        data.outcome is None
        and phase is not None
        and phase.state == "needs_approval"
        and ("human" in phase.awaiting or INFRA in phase.awaiting)
    )


# --- /agentforge start -----------------------------------------------------------------


def _start(job: Job, command: Command, issue: int) -> None:
    config = job.config(issue)
    if config is None or not config.config.trigger.command:
        return
    engine = job.engine(config)
    who = job.event.actor.login
    author = job.services.forge.get_issue(job.repo, issue).author.login
    if who.lower() != author.lower() and not engine.approvers.check(who).ok:
        job.refuse(
            safe_key(f"refused.{job.event.comment_id}"),
            f"@{who}, a run is started by the issue's author or an approver "
            f"({engine.approvers.describe()}). Nothing was changed.",
        )
        return
    job.react()
    start_run(job, issue, by=who, trigger="command")


def start_run(job: Job, issue: int, *, by: str, trigger: str) -> None:
    """Start (or resume) the issue's run and drive it as far as it goes now."""
    config = job.config(issue)
    if config is None:
        return
    engine = job.engine(config)
    run = job.locate(issue)
    if run is not None and (not run.terminal or run.state == "succeeded"):
        with engine.guard(run):
            engine.drive(run)  # already started: resume it (a redelivered start too)
        return
    if not admission.admit(job, engine, issue, by=by, trigger=trigger):
        return  # untrusted starter or over a rate limit: the issue was told why
    key = job.event.delivery_id or job.event.content_key()
    run = engine.new_run(issue, by=by, trigger=trigger, key=key)
    if run is None:  # another job started it first
        run = job.services.runs.active_for_issue(job.forge, job.repo, issue)
        if run is None:
            return
    else:
        admission.started(job, issue, by=by)
    with engine.guard(run):
        run = engine.publish(run)
        engine.drive(run)


# --- /agentforge ok-to-run --------------------------------------------------------------


def _ok_to_run(job: Job, command: Command, issue: int) -> None:
    config = job.config(issue)
    if config is None:
        return
    engine = job.engine(config)
    who = job.event.actor.login
    verdict = engine.approvers.check(who)
    if not verdict.ok:
        job.refuse(
            safe_key(f"refused.{job.event.comment_id}"),
            f"@{who}, only approvers may `/agentforge ok-to-run`: "
            f"{engine.approvers.describe()}. Nothing was changed ({verdict.reason}).",
        )
        return
    job.react()
    # The run is the issue author's request, let through by the approver: it counts
    # against the author's rate limit, and the approver is not its starter.
    author = job.services.forge.get_issue(job.repo, issue).author.login
    start_run(job, issue, by=author, trigger=admission.OK_TO_RUN)


register_command(
    CommandSpec(
        "approve",
        _approve,
        bare=True,
        offered=_offer_approve,
        usage="/approve",
        what="approves the current phase at the MR's head (its gate may need several "
        "approvers or code owners), or releases a push held for approvers.infra",
    )
)
register_command(
    CommandSpec(
        "start",
        _start,
        bare=False,
        usage="/agentforge start",
        who="the issue's author, approvers",
        what="starts a run (or resumes the active one)",
    )
)
register_command(
    CommandSpec(
        "ok-to-run",
        _ok_to_run,
        bare=False,
        usage="/agentforge ok-to-run",
        who="approvers",
        what="lets a run asked for by someone below `trust.min_permission` start",
    )
)
