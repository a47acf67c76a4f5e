"""CI runners as the fleet: hand a repository's jobs to GitHub Actions or GitLab CI.

A repository whose ``.agentforge/config.yaml`` (default branch) says
``dispatch: {mode: ci}`` has its jobs run by the forge's own runners instead of the
server's workers. The server still does intake, dedupe and ordering;
:class:`RoutingDispatcher` picks, per job, the in-process dispatcher or
:class:`CiDispatcher`, which:

1. **sends** the job's event: GitHub ``POST /repos/{repo}/actions/workflows/{workflow}/
   dispatches`` with inputs ``event`` (the normalised event as JSON), ``signature`` and
   ``dispatch_id``; GitLab ``POST /projects/:id/trigger/pipeline`` with the trigger
   token and the variables ``AGENTFORGE_EVENT``, ``AGENTFORGE_EVENT_SIGNATURE`` and
   ``AGENTFORGE_DISPATCH_ID``. The signature is an HMAC-SHA256 of the event text under
   ``AGENTFORGE_DISPATCH_SECRET``: ``agentforge run`` in the CI job refuses a
   dispatched event that does not verify, so a person who can start workflows cannot
   make the bot act on an event they wrote (an ``/approve`` "by" a maintainer);
2. **waits** for that CI run to end, polling its status every ``ci_poll_seconds``
   while the job's lease is renewed (the heartbeat). The job stays ``running`` the
   whole time, so the issue's next job cannot start before this one's run ended:
   **per-issue ordering is the queue's**, not a concurrency group's (GitHub cancels a
   *pending* run when a third joins its concurrency group, which would lose events);
3. **finishes** the job: ``done`` when the run succeeded (its summary names the run);
   a failed, cancelled or vanished run, a run that never appears, a timeout, or a
   dispatch the forge refuses or cannot take (5xx, rate limit) raises, and the worker
   records a failed attempt: **the job stays queued and is retried with backoff**,
   then ``dead`` after ``AGENTFORGE_JOB_MAX_ATTEMPTS`` (``agentforge jobs retry``).

A retried dispatch may start a second CI run for the same event; the runner's
dedupe (delivery id in its cached data directory) and the handlers' idempotent writes
make that harmless.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import ConfigError, DispatchError, SettingsError
from bot.events import Event, ForgeKind
from bot.jobs.dispatch import Dispatcher
from bot.jobs.dispatched import event_text, sign
from bot.jobs.priorities import HEAVY, LIGHT
from bot.jobs.queue import Job
from bot.logs import get_logger
from bot.repoconfig.schema import DispatchConfig

log = get_logger("bot.jobs.ci_dispatch")

RUN_NAME_PREFIX = "agentforge "
"""A dispatched GitHub run is found by its name: the workflow sets
``run-name: agentforge ${{ inputs.dispatch_id }}``."""
FIND_RUN_SECONDS = 600.0
"""How long a dispatched GitHub run may take to appear in the run list."""
_GITLAB_WAITING = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled", "manual"}
)


def dispatch_id(job: Job) -> str:
    """Names one attempt's CI run: job id, attempt, and a hash of the delivery id."""
    digest = hashlib.sha256((job.delivery_id or "").encode()).hexdigest()[:8]
    return f"job-{job.id}-{job.attempts}-{digest}"


class CiDispatcher:
    """Sends a job to the repository's CI and waits for that run (see the module docstring).

    Args:
        settings: Process settings (dispatch secret, GitLab trigger tokens, polling).
        forge_for: The forge adapter by forge name (its ``http`` session is used).
        sleep: How to wait between polls (tests pass one that advances a clock).
        clock: Monotonic seconds, for the timeouts.
    """

    def __init__(
        self,
        settings: Any,
        forge_for: Callable[[str], Any],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.forge_for = forge_for
        self.sleep = sleep
        self.clock = clock

    def dispatch(self, job: Job, event: Event, config: DispatchConfig) -> dict[str, Any]:
        """Send the job, wait for its run; the job's result names the run.

        Raises:
            SettingsError: no dispatch secret, or no GitLab trigger token for the project.
            DispatchError: the run failed, vanished, never appeared or timed out.
            ForgeError: the forge refused or could not take the dispatch (Unavailable
                and RateLimited are retried by the queue like any failed attempt).
        """
        secret = self.settings.dispatch_secret
        if secret is None:
            raise SettingsError(
                f"{event.repo.full_name} has dispatch mode ci: set AGENTFORGE_DISPATCH_SECRET "
                "(and the same value as the CI secret AGENTFORGE_DISPATCH_SECRET there)",
                variable="AGENTFORGE_DISPATCH_SECRET",
            )
        text = event_text(event)
        signature = sign(secret.get_secret_value(), text)
        name = dispatch_id(job)
        deadline = self.clock() + self.settings.ci_timeout_seconds
        forge = self.forge_for(event.forge.value)
        ref = (
            config.ref
            or event.repo.default_branch
            or forge.get_repo(event.repo.full_name).default_branch
        )
        if event.forge == ForgeKind.GITHUB:
            run = self._github(forge, job, event, config, ref, (text, signature, name), deadline)
        elif event.forge == ForgeKind.GITLAB:
            run = self._gitlab(forge, job, event, ref, (text, signature, name), deadline)
        else:
            raise SettingsError(f"dispatch mode ci needs GitHub or GitLab, not {event.forge.value}")
        return {
            "handled": True,
            "kind": event.kind.value,
            "dispatched": {"ci": event.forge.value, "dispatch_id": name, "ref": ref, **run},
        }

    # --- GitHub Actions -------------------------------------------------------------------

    def _github(
        self,
        forge: Any,
        job: Job,
        event: Event,
        config: DispatchConfig,
        ref: str,
        sent: tuple[str, str, str],
        deadline: float,
    ) -> dict[str, Any]:
        text, signature, name = sent
        repo = event.repo.full_name
        workflow = f"/repos/{repo}/actions/workflows/{config.workflow}"
        since = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        forge.http.send(
            "POST",
            f"{workflow}/dispatches",
            f"dispatching job {job.id} to workflow {config.workflow} of {repo}",
            json={
                "ref": ref,
                "inputs": {"event": text, "signature": signature, "dispatch_id": name},
            },
        )
        log.info("job dispatched to GitHub Actions", workflow=config.workflow, dispatch_id=name)
        run_id = self._find_github_run(forge, job, workflow, name, since, deadline)
        while True:
            run = forge.http.get(
                f"/repos/{repo}/actions/runs/{run_id}", f"reading workflow run {run_id} of {repo}"
            )
            if run.get("status") == "completed":
                found = {
                    "run_id": run_id,
                    "url": run.get("html_url"),
                    "conclusion": run.get("conclusion"),
                }
                if run.get("conclusion") != "success":
                    raise DispatchError(
                        f"the GitHub Actions run {run.get('html_url') or run_id} for job {job.id} "
                        f"ended {run.get('conclusion')!r}: see its log; the job is retried"
                    )
                return found
            self._wait(job, f"GitHub Actions run {run_id}", deadline)

    def _find_github_run(
        self, forge: Any, job: Job, workflow: str, name: str, since: str, deadline: float
    ) -> int:
        appear_by = self.clock() + FIND_RUN_SECONDS
        title = RUN_NAME_PREFIX + name
        while True:
            listing = forge.http.get(
                f"{workflow}/runs",
                f"listing the runs of {workflow}",
                event="workflow_dispatch",
                created=f">={since}",
                per_page=50,
            )
            for run in listing.get("workflow_runs") or []:
                if run.get("display_title") == title:
                    return int(run["id"])
            if self.clock() >= appear_by:
                raise DispatchError(
                    f"job {job.id} was dispatched but no run named {title!r} appeared: the "
                    f"workflow must set `run-name: agentforge ${{{{ inputs.dispatch_id }}}}`"
                )
            self._wait(job, f"the run {title!r} to appear", deadline)

    # --- GitLab CI -----------------------------------------------------------------------

    def _gitlab(
        self,
        forge: Any,
        job: Job,
        event: Event,
        ref: str,
        sent: tuple[str, str, str],
        deadline: float,
    ) -> dict[str, Any]:
        text, signature, name = sent
        repo = event.repo.full_name
        token = self.settings.trigger_token_for(repo)
        if not token:
            raise SettingsError(
                f"{repo} has dispatch mode ci: set AGENTFORGE_GITLAB_TRIGGER_TOKEN "
                f"('{repo}=<pipeline trigger token>')",
                variable="AGENTFORGE_GITLAB_TRIGGER_TOKEN",
            )
        project = forge.project_path(repo)
        created = forge.http.send(
            "post",
            f"{project}/trigger/pipeline",
            f"triggering a pipeline of {repo} for job {job.id}",
            post={
                "token": token,
                "ref": ref,
                "variables": {
                    "AGENTFORGE_EVENT": text,
                    "AGENTFORGE_EVENT_SIGNATURE": signature,
                    "AGENTFORGE_DISPATCH_ID": name,
                },
            },
        ).json()
        pipeline_id = int(created["id"])
        log.info("job dispatched to a GitLab pipeline", pipeline=pipeline_id, dispatch_id=name)
        while True:
            pipeline = forge.http.get(
                f"{project}/pipelines/{pipeline_id}", f"reading pipeline {pipeline_id} of {repo}"
            )
            status = pipeline.get("status")
            if status not in _GITLAB_WAITING:
                found = {
                    "pipeline_id": pipeline_id,
                    "url": pipeline.get("web_url"),
                    "status": status,
                }
                if status != "success":
                    raise DispatchError(
                        f"the GitLab pipeline {pipeline.get('web_url') or pipeline_id} for job "
                        f"{job.id} ended {status!r}: see its log; the job is retried"
                    )
                return found
            self._wait(job, f"GitLab pipeline {pipeline_id}", deadline)

    # --- waiting ---------------------------------------------------------------------------

    def _wait(self, job: Job, what: str, deadline: float) -> None:
        if self.clock() >= deadline:
            raise DispatchError(
                f"job {job.id}: {what} did not finish within {self.settings.ci_timeout_seconds:.0f}"
                " s (AGENTFORGE_CI_TIMEOUT_SECONDS); the job is retried"
            )
        if job.heartbeat is not None:
            job.heartbeat()  # the job stays ours while the CI run works (LeaseLost stops it)
        self.sleep(self.settings.ci_poll_seconds)


class RoutingDispatcher:
    """Per repository: the server's own handlers, or the forge's CI (``dispatch:``).

    The repository's config is read at the default branch's head (as the handlers read
    it). A light job of a CI repository is moved to the heavy queue first (it keeps its id
    and so its place in the issue's order): waiting minutes for a CI run would take a
    thread of the light lane, which answers people. A config that cannot be read or is
    invalid keeps the job on the server, whose handlers report the problem on the issue.

    Args:
        local: The in-process dispatcher (handlers + executor).
        ci: The CI dispatcher.
        dispatch_config: ``(event) -> DispatchConfig`` for the event's repository.
    """

    def __init__(
        self,
        local: Dispatcher,
        ci: CiDispatcher,
        dispatch_config: Callable[[Event], DispatchConfig],
    ) -> None:
        self.local = local
        self.ci = ci
        self.dispatch_config = dispatch_config

    def dispatch(self, job: Job, event: Event) -> dict[str, Any]:
        """Run the job where its repository's config says; see :class:`Dispatcher`."""
        if event.forge in (ForgeKind.GITHUB, ForgeKind.GITLAB):
            try:
                config = self.dispatch_config(event)
            except ConfigError as exc:  # RepoConfigError too
                log.info("dispatch config unreadable; running on the server", error=str(exc))
            else:
                if config.mode == "ci":
                    if job.queue == LIGHT:
                        # Waiting for a CI run takes minutes: not in the light lane,
                        # whose threads answer people. Same job, same place in order.
                        return {"move_to": HEAVY, "reason": "runs on CI: waits in the heavy lane"}
                    return self.ci.dispatch(job, event, config)
        return self.local.dispatch(job, event)


def build_routing(settings: Any, local: Dispatcher) -> RoutingDispatcher:
    """The server's dispatcher: ``local`` unless a repository dispatches to CI."""
    import threading

    from bot.forges import make_forge
    from bot.services import ConfigCache, ForgeConfigSource

    forges: dict[str, Any] = {}
    lock = threading.Lock()
    cache = ConfigCache()

    def forge_for(name: str) -> Any:
        with lock:
            if name not in forges:
                forges[name] = make_forge(name, settings)
            return forges[name]

    def dispatch_config(event: Event) -> DispatchConfig:
        source = ForgeConfigSource(forge_for(event.forge.value), cache)
        return source.load(event.repo.full_name, event.repo.default_branch).config.dispatch

    return RoutingDispatcher(local, CiDispatcher(settings, forge_for), dispatch_config)
