"""Admission of new runs, and the refusal-reply throttle.

Before a *new* run starts (a resume of an active run is never refused):

1. **Trust.** A starter below ``trust.min_permission`` (default triage; GitLab
   Reporter), or whose permission cannot be read, and who is not an approver, does
   not start a run. The issue gets one reply (keyed per issue, so it is never
   reposted) saying that an approver's ``/agentforge ok-to-run`` starts it.
2. **Rate limits.** The repository's and the starter's runs started in the last
   ``limits.window_minutes`` (from the limit ledger, which survives restarts) are
   checked against ``limits.runs_per_repo`` / ``runs_per_actor``; over one, the issue
   gets one reply naming the limit and when to retry, and no run starts.

A started run is recorded in the ledger. The decisions are the pure functions of
:mod:`policies.limits`; this module gathers their inputs and says the outcome.

:func:`refusal_due` / :func:`refusal_sent` keep replies to refused commands to one per
actor per issue or MR per ``limits.refusal_reply_minutes``.
"""

from __future__ import annotations

from datetime import UTC

from bot.actions import PostComment
from bot.errors import ForgeError
from bot.repoconfig.abuse import LimitsConfig
from handlers.workflow.engine import Engine
from handlers.workflow.job import Job
from policies.limits import may_start, refusal_window_start, trusted, window_start

RUN_START = "run_start"
"""Ledger kind of a new run."""
REFUSAL_REPLY = "refusal_reply"
"""Ledger kind of a reply to a refused command."""
OK_TO_RUN = "ok-to-run"
"""The trigger of a run an approver let start with ``/agentforge ok-to-run``."""


def admit(job: Job, engine: Engine, issue: int, *, by: str, trigger: str) -> bool:
    """Whether a new run on ``issue`` started by ``by`` may start now (see the module
    docstring); when not, the issue has been told why."""
    config = engine.config.config
    if trigger != OK_TO_RUN and not _trusted(job, engine, by):
        job.audit("refused", {"what": "run start", "why": "untrusted", "by": by}, number=issue)
        _ask_for_ok(job, engine, issue, by)
        return False
    ledger = job.services.limits
    if ledger is None:
        return True
    now = job.services.clock()
    since = window_start(config.limits, now)
    decision = may_start(
        ledger.times_since(RUN_START, job.forge, job.repo, since),
        ledger.times_since(RUN_START, job.forge, job.repo, since, actor=by),
        config.limits,
        now,
    )
    if decision.ok:
        return True
    job.audit(
        "refused",
        {"what": "run start", "why": f"limits.runs_per_{decision.scope}", "by": by},
        number=issue,
    )
    minutes = int(decision.window.total_seconds() // 60)
    who = f"@{by} started" if decision.scope == "actor" else "this repository started"
    key = "runs_per_actor" if decision.scope == "actor" else "runs_per_repo"
    retry = decision.retry_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    job.apply(
        PostComment(
            repo=job.repo,
            number=issue,
            body=(
                f"⏳ No run was started: {who} {decision.limit} run(s) in the last "
                f"{minutes} minutes, the limit (`limits.{key}` in "
                f"`.agentforge/config.yaml`). Start it again after **{retry}**."
            ),
            marker_key=f"limit.{issue}",
            reason="a run start over the rate limit",
        )
    )
    return False


def started(job: Job, issue: int, *, by: str) -> None:
    """Record a new run in the ledger (it counts against the limits from now on)."""
    ledger = job.services.limits
    if ledger is not None:
        ledger.record(
            RUN_START,
            job.forge,
            job.repo,
            actor=by,
            subject=f"issue:{issue}",
            at=job.services.clock(),
        )


def _trusted(job: Job, engine: Engine, login: str) -> bool:
    approver = engine.approvers.check(login).ok
    if approver:
        return True
    try:
        permission = job.services.forge.get_permission(job.repo, login)
    except ForgeError:
        permission = None  # fail closed: an unknown permission is not trust
    return trusted(permission, approver=False, trust=engine.config.config.trust)


def _ask_for_ok(job: Job, engine: Engine, issue: int, by: str) -> None:
    least = engine.config.config.trust.min_permission.value
    job.apply(
        PostComment(
            repo=job.repo,
            number=issue,
            body=(
                f"👋 Thanks @{by}. Runs asked for by people with less than **{least}** "
                "access to this repository wait for a maintainer: an approver "
                f"({engine.approvers.describe()}) can comment `/agentforge ok-to-run` "
                "here to start it."
            ),
            marker_key=f"ok-to-run.wait.{issue}",
            reason="a run start by an untrusted actor",
        )
    )


def _subject(job: Job) -> str:
    event = job.event
    return f"{'mr' if event.is_mr else 'issue'}:{event.number}"


def _limits(job: Job) -> LimitsConfig:
    loaded = job.loaded_config()
    return loaded.config.limits if loaded is not None else LimitsConfig()


def refusal_due(job: Job) -> bool:
    """Whether a refused command by the event's actor may be answered now."""
    ledger = job.services.limits
    since = refusal_window_start(_limits(job), job.services.clock())
    if ledger is None or since is None:
        return True
    earlier = ledger.times_since(
        REFUSAL_REPLY,
        job.forge,
        job.repo,
        since,
        actor=job.event.actor.login,
        subject=_subject(job),
    )
    return not earlier


def refusal_sent(job: Job) -> None:
    """Note a refusal reply to the event's actor (jobs of one issue run one at a time,
    so check-then-record does not race)."""
    ledger = job.services.limits
    if ledger is not None:
        ledger.record(
            REFUSAL_REPLY,
            job.forge,
            job.repo,
            actor=job.event.actor.login,
            subject=_subject(job),
            at=job.services.clock(),
        )
