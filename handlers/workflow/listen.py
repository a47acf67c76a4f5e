"""The workflow's event handlers: one per kind of event, each ``handler(event, ctx)``.

They write through ``services.actions`` as they go (the live status comment, the
phase's push, the MR) and return no further actions. Every handler first drops what
must never move a workflow: the bot's own events and other bots' (by login, not only
``[bot]`` accounts), edited or deleted comments, commands on closed or merged issues
and MRs.

- ``on_issue``: an issue opened with the trigger label, or the label added → start.
- ``on_comment`` (issue and MR comments): the first command of a new comment → its
  runner in :mod:`.commands_table`.
- ``on_review``: a GitLab approval (the ``/approve`` quick action) is a human gate's
  signal; any review re-evaluates ``mr_approval`` gates.
- ``on_mr`` / ``on_push``: a person's push to the run's branch → gates re-evaluated at
  the new head (approvals bound to the old head no longer count).
- ``on_pipeline``: a check changed on the run's branch → ``tests`` gates re-evaluated,
  and failing checks start a bounded fix-up round (:mod:`.fixups`).
- GitHub review submitted / GitLab diff notes → the review's line comments answered
  in one fix-up (:mod:`.review_batch`); unknown commands → the help reply
  (:mod:`.talk`).
"""

from __future__ import annotations

from bot.actions import Action
from bot.events import Event, ForgeKind, ReviewState
from handlers.commands import first_command, lone_unknown
from handlers.registry import HandlerContext
from handlers.workflow import approvals, fixups, review_batch, talk
from handlers.workflow.commands_table import (
    COMMANDS,
    approver_verdict,
    bare_names,
    safe_key,
    start_run,
)
from handlers.workflow.job import Job, when

_NEW_COMMITS = {"updated", "synchronize"}


def on_issue(event: Event, ctx: HandlerContext) -> list[Action]:
    """Start a run when the trigger label is on a newly opened issue or is added."""
    job = Job.open(event, ctx)
    if job is None or event.number is None or event.is_mr or job.from_self():
        return []
    if event.action not in ("opened", "labeled", "reopened"):
        return []
    if event.state not in (None, "open"):
        return []
    config = job.config(event.number if _mentions_default_label(event) else None)
    if config is None:
        return []
    label = config.config.trigger.label
    labelled = event.label == label if event.action == "labeled" else label in event.labels
    if not labelled:
        return []
    start_run(job, event.number, by=event.actor.login, trigger="label")
    return []


def _mentions_default_label(event: Event) -> bool:
    # With a broken config the configured label is unknown: the default label is the
    # sign the event was meant for the bot, so the error is reported there.
    from bot.repoconfig.schema import TriggerConfig

    default = TriggerConfig().label
    return event.label == default or default in event.labels


def on_comment(event: Event, ctx: HandlerContext) -> list[Action]:
    """Run the first command of a newly created comment."""
    job = Job.open(event, ctx)
    if job is None or event.action != "created" or job.from_self():
        return []
    command = first_command(event.comment, bare_names())
    if command is None:
        if review_batch.is_line_comment(event):
            issue = job.issue_number()
            if issue is not None and job.target_open():
                review_batch.answer(job, issue, review_id=None)
            return []
        command = lone_unknown(event.comment, bare_names())
        if command is None:
            return []
    spec = COMMANDS.get(command.name)
    issue = job.issue_number()
    if issue is None or not job.target_open():
        return []
    job.audit(
        "command",
        {"name": command.name, "known": spec is not None, "comment_id": event.comment_id},
    )
    if spec is None:
        # An unknown namespaced command is clearly meant for the bot; a bare one alone
        # on its comment is answered only where the bot already runs.
        if command.namespaced or job.locate(issue) is not None:
            talk.answer_help(job, issue, unknown=_written(command))
        return []
    spec.run(job, command, issue)
    return []


def _written(command) -> str:
    return f"/agentforge {command.name}" if command.namespaced else f"/{command.name}"


def _drive(job: Job, issue: int) -> None:
    run = job.locate(issue)
    if run is None or run.terminal:
        return
    config = job.config(issue)
    if config is None:
        return
    engine = job.engine(config)
    with engine.guard(run):
        engine.drive(run)


def on_review(event: Event, ctx: HandlerContext) -> list[Action]:
    """A review or approval: a GitLab approval can pass a human gate; any review can
    pass an ``mr_approval`` gate."""
    job = Job.open(event, ctx)
    if job is None or job.from_self():
        return []
    issue = job.issue_number()
    if issue is None:
        return []
    gitlab_approval = (
        event.forge == ForgeKind.GITLAB
        and event.review_state == ReviewState.APPROVED
        and event.event_name.lower().endswith("merge request hook")
    )
    if not gitlab_approval:
        _drive(job, issue)
        github_review = event.forge != ForgeKind.GITLAB and event.action == "submitted"
        if github_review and event.object_id and job.target_open():
            review_batch.answer(job, issue, review_id=event.object_id)
        return []
    run = job.locate(issue)
    if run is None or run.terminal or not job.target_open():
        return []
    config = job.config(issue)
    if config is None:
        return []
    engine = job.engine(config)
    who = event.actor.login
    verdict, rule = approver_verdict(engine, engine.data(run), who)
    if not verdict.ok:
        job.refuse(
            safe_key(f"refused.approval.{event.object_id}.{who}.{event.head_sha}"),
            f"@{who}, your approval on the forge does not pass the workflow's gate: only "
            f"{rule} may approve ({verdict.reason}).",
        )
        return []
    signal = approvals.Signal(
        by=who,
        id=safe_key(f"approval:{event.object_id}:{who}:{event.head_sha}:{event.updated_at}"),
        via="forge",
        sha=event.head_sha,
        at=when(event.updated_at),
    )
    with engine.guard(run):
        run, _ = approvals.record(engine, run, signal)
        engine.drive(run)
    return []


def on_mr(event: Event, ctx: HandlerContext) -> list[Action]:
    """New commits on the run's MR (a person pushed): re-evaluate at the new head."""
    job = Job.open(event, ctx)
    if job is None or job.from_self() or event.action not in _NEW_COMMITS:
        return []
    issue = job.issue_number()
    if issue is not None:
        _drive(job, issue)
    return []


def on_push(event: Event, ctx: HandlerContext) -> list[Action]:
    """A person's push to a run's branch: re-evaluate at the new head."""
    job = Job.open(event, ctx)
    if job is None or job.from_self():
        return []
    issue = job.issue_number()
    if issue is not None:
        _drive(job, issue)
    return []


def on_pipeline(event: Event, ctx: HandlerContext) -> list[Action]:
    """A check changed on a run's branch: re-evaluate its ``tests`` gate.

    CI runs as bots, so the bot-actor rule does not apply here: a check is read from
    the forge, never taken from the event.
    """
    job = Job.open(event, ctx)
    if job is None:
        return []
    issue = job.issue_number()
    if issue is None:
        return []
    _drive(job, issue)
    run = job.locate(issue)
    config = job.config(issue) if run is not None and not run.terminal else None
    if run is not None and config is not None:
        engine = job.engine(config)
        with engine.guard(run):
            run = fixups.on_red_pipeline(job, engine, run)
            engine.drive(run)
    return []
