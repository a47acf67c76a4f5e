"""The reconcile sweep and the watchdog: repairing what happened while the bot was away.

:func:`on_reconcile` handles the bot's own ``reconcile`` job for one repository
(``bot/jobs/reconcile.py`` enqueues it at start and every few minutes; ``agentforge
reconcile`` runs it in CI):

1. **Watchdog.** A run whose state is ``running``, whose record has not changed for
   ``watchdog.stuck_after_minutes`` (config.yaml, default 120) and whose work is not
   in flight (``services.jobs``: no job about the issue running with a lease its
   worker still renews, no continuation queued to work its phase) is failed with a
   reason, and the issue is told in one comment what happened and that ``/retry``
   runs the phase again. The record of a phase whose role works changes only when
   the role ends, so the lease — not the record's age — says whether a long role run
   is alive; the limit may be shorter than the roles' wall-clock limit without
   failing a healthy run.
2. **Sweep.** The issues to look at: open issues with the trigger label
   (``forge.list_issues(labels=[label])``), open MRs from ``agentforge/issue-<N>``
   branches, and the issues of the repository's active runs. For each:

   - an open, labelled issue without any run gets its run started (the label event
     was missed);
   - every comment on the issue and its MR written since the run started, by a
     person, that holds a command and was not handled yet is handled now, in order,
     as if its webhook had arrived. *Handled* means: its id is one of the run's
     ``consumed`` signals (approve, reject, retry, cancel record theirs), or a bot
     comment carries a reply marker keyed by it (every reply is keyed
     ``<what>.<comment id>``). So a comment is acted on once, whichever of the
     webhook and the sweep sees it first;
   - the run is driven (gates re-read checks and reviews), failing checks get their
     fix-up round, and review comments nobody answered are answered.

Everything it does goes through the same handlers and CAS transitions as webhooks, so
a sweep racing a live job changes nothing twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.actions import Action, PostComment
from bot.errors import NotFound
from bot.events import Actor, Event, EventKind
from bot.forge import markers_in
from handlers.commands import first_command, lone_unknown
from handlers.registry import HandlerContext
from handlers.services import RunRecord, Services
from handlers.workflow import fixups, listen, review_batch
from handlers.workflow.commands_table import bare_names, safe_key, start_run
from handlers.workflow.engine import BRANCH_PREFIX, issue_for_branch
from handlers.workflow.job import Job, when
from handlers.workflow.state import RunData

log = logging.getLogger(__name__)


def on_reconcile(event: Event, ctx: HandlerContext) -> list[Action]:
    """Watchdog, then sweep, for the event's repository."""
    services = ctx.services
    if services is None or event.kind != EventKind.RECONCILE:
        return []
    watchdog(event, ctx, services)
    sweep(event, ctx, services)
    return []


# --- the watchdog -------------------------------------------------------------------------


def watchdog(event: Event, ctx: HandlerContext, services: Services) -> list[str]:
    """Fail the repository's stuck runs; returns their ids."""
    failed: list[str] = []
    now = services.clock()
    for record in services.runs.list_runs(
        forge=event.forge.value, repo=event.repo.full_name, states=["running"]
    ):
        job = _job(event, ctx, record.issue_number)
        config = job.config(record.issue_number)
        if config is None:
            continue
        limit = timedelta(minutes=config.config.watchdog.stuck_after_minutes)
        idle = now - record.updated_at
        if idle < limit:
            continue
        if services.jobs is not None and services.jobs.in_flight(
            record.forge, record.repo, record.issue_number
        ):
            # A role may run longer than the limit (its record changes only when the
            # phase ends); while its job's lease is renewed, or a continuation waits
            # to work the phase, the run is slow, not stuck.
            log.info("watchdog: run %s is idle but its work is in flight", record.id)
            continue
        data = RunData.from_data(record.data)
        phase = data.phase
        where = f"the {phase.name} phase" if phase is not None else "the run"
        minutes = int(idle.total_seconds() // 60)
        why = (
            f"The run made no progress for {minutes} minutes while {where} was running "
            f"(the watchdog's limit is {config.config.watchdog.stuck_after_minutes}); the "
            "job working it was probably lost."
        )
        engine = job.engine(config)
        engine.fail(record, why)
        job.apply(
            PostComment(
                repo=data.repo,
                number=data.issue,
                body=f"⏱️ {why} Comment `/retry` to run it again.",
                marker_key=safe_key(f"watchdog.{record.id}"),
                reason=f"run {record.id}: stuck",
            )
        )
        failed.append(record.id)
    return failed


# --- the sweep ----------------------------------------------------------------------------


def _job(event: Event, ctx: HandlerContext, issue: int, **fields) -> Job:
    synthetic = Event(
        forge=event.forge,
        kind=fields.pop("kind", EventKind.ISSUE),
        repo=event.repo,
        actor=fields.pop("actor", event.actor),
        number=issue,
        delivery_id=fields.pop("delivery_id", event.delivery_id),
        **fields,
    )
    return Job(synthetic, ctx, ctx.services)


def _issues(event: Event, services: Services, label: str | None) -> list[int]:
    repo = event.repo.full_name
    found: dict[int, None] = {}
    if label:
        for issue in services.forge.list_issues(repo, state="open", labels=[label]):
            found[issue.number] = None
    for mr in services.forge.list_mrs(repo, state="open"):
        number = issue_for_branch(mr.head_ref) if mr.head_ref.startswith(BRANCH_PREFIX) else None
        if number is not None:
            found[number] = None
    for record in services.runs.list_runs(
        forge=event.forge.value, repo=repo, states=["running", "waiting"]
    ):
        found[record.issue_number] = None
    return list(found)


def sweep(event: Event, ctx: HandlerContext, services: Services) -> None:
    """Repair every run of the repository (see the module docstring)."""
    probe = _job(event, ctx, 0)
    config = probe.config(None)
    if config is None:
        return  # a broken config is reported on the next event about an issue
    label = config.config.trigger.label
    for issue in _issues(event, services, label):
        try:
            _repair(event, ctx, services, issue, label)
        except NotFound:
            continue  # the issue or MR went away meanwhile


def _repair(event: Event, ctx: HandlerContext, services: Services, issue: int, label: str) -> None:
    job = _job(event, ctx, issue, delivery_id=f"reconcile:label:{issue}")
    run = job.locate(issue)
    if run is None:
        found = services.forge.get_issue(event.repo.full_name, issue)
        if found.state == "open" and label in found.labels:
            start_run(job, issue, by=found.author.login, trigger="label")
        return
    for comment_event in _missed_comments(event, services, run):
        listen.on_comment(comment_event, ctx)
    run = job.locate(issue)
    if run is None or run.terminal:
        return
    config = job.config(issue)
    if config is None:
        return
    engine = job.engine(config)
    with engine.guard(run):
        run = engine.drive(run)
        if not run.terminal:
            run = fixups.on_red_pipeline(job, engine, run)
            engine.drive(services.runs.get(run.id) or run)
    review_batch.answer(_job(event, ctx, issue), issue, review_id=None)


def _handled(services: Services, run: RunRecord, repo: str, issue: int) -> set[str]:
    """Comment ids the bot already acted on or answered."""
    data = RunData.from_data(run.data)
    done = {s.removeprefix("comment:") for s in data.consumed if s.startswith("comment:")}
    bot = (services.bot_login or "").lower()
    sources = [(issue, False)] + ([(data.mr, True)] if data.mr is not None else [])
    for number, is_mr in sources:
        for comment in services.forge.list_comments(repo, number, is_mr=is_mr):
            if comment.author.login.lower() != bot:
                continue
            for key in markers_in(comment.body):
                done.add(key.rsplit(".", 1)[-1])
    return done


def _missed_comments(event: Event, services: Services, run: RunRecord) -> list[Event]:
    """Comment events for the run's comments that hold a command nobody acted on."""
    data = RunData.from_data(run.data)
    repo = event.repo.full_name
    handled = _handled(services, run, repo, data.issue)
    bot = (services.bot_login or "").lower()
    known = bare_names()
    missed: list[tuple[object, Event]] = []
    sources = [(data.issue, False)] + ([(data.mr, True)] if data.mr is not None else [])
    for number, is_mr in sources:
        for comment in services.forge.list_comments(repo, number, is_mr=is_mr):
            author = comment.author
            if author.is_bot or author.login.lower() == bot or comment.id in handled:
                continue
            created = when(comment.created_at)
            if created is not None and created < data.started_at:
                continue  # older than the run: acted on (or not) back then
            if first_command(comment.body, known) is None and (
                lone_unknown(comment.body, known) is None
            ):
                continue
            missed.append(
                (
                    created,
                    Event(
                        forge=event.forge,
                        kind=EventKind.MR_COMMENT if is_mr else EventKind.ISSUE_COMMENT,
                        action="created",
                        event_name=event.event_name,
                        delivery_id=f"reconcile:comment:{comment.id}",
                        repo=event.repo,
                        actor=Actor(login=author.login, id=author.id),
                        number=number,
                        is_mr=is_mr,
                        comment=comment.body,
                        comment_id=comment.id,
                        updated_at=comment.created_at,
                    ),
                )
            )
    missed.sort(key=lambda pair: (pair[0] is None, pair[0] or data.started_at))
    if missed:
        log.info("reconcile: %d missed command(s) on %s#%s", len(missed), repo, data.issue)
    return [e for _, e in missed]
