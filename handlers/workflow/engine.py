"""The workflow engine: runs phases, records them, evaluates gates, advances.

A run is a small state machine kept in the run store (and mirrored in the status
comment's marker). :meth:`Engine.drive` looks at the current phase and takes the next
step, again and again, until the run waits on people or CI, or has ended::

    waiting ──► running: role runs ──► result recorded ──► pushed ──► MR opened
                                                                  │
                 approved ◄── gate passes ◄── needs_approval ◄────┘
                    │
                    └─► next phase ... after the last: MR marked ready, run succeeded

Every step is one :meth:`RunStore.compare_and_set` on the run's version; a lost CAS
re-reads the run and decides again, so two jobs racing (two ``/approve`` at once) make
one advance. Every side effect before a step's CAS is find-or-create (marked comment,
the branch's open MR, a push that commits nothing when the tree matches), so a crash
between an effect and its CAS resumes without duplicates. A running phase is *claimed*
by a job; a retry of that job (or anyone, once the claim is stale) takes it over.

Errors: a role's own failure fails the phase and the run (the status comment says why
and what to do). A retryable error (forge unavailable, rate limited, a transient model
error) is re-raised with the state left as it is, so the queue's retry resumes it.
Anything else is recorded as the run's failure at :meth:`Engine.guard`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from agents.costs import PhasePlan, estimate_run
from bot.actions import MarkReady, PostComment
from bot.errors import (
    AgentForgeError,
    Conflict,
    LeaseLost,
    ModelTransientError,
    RateLimited,
    Unavailable,
)
from bot.events import RepoRef
from bot.repoconfig import AgentForgeConfig
from handlers.services import RunRecord, Services
from handlers.workflow import infra_hold
from handlers.workflow import status as status_text
from handlers.workflow.approval_rules import ApprovalRules
from handlers.workflow.approvers import Approvers
from handlers.workflow.gates import GateOutcome, evaluate
from handlers.workflow.state import Claim, PhaseRun, RunData
from handlers.workflow.steps import PhaseSteps

log = logging.getLogger(__name__)

BRANCH_PREFIX = "agentforge/issue-"
RETRYABLE: tuple[type[BaseException], ...] = (Unavailable, RateLimited, ModelTransientError)
"""Errors the queue's retry may cure: the run's state is left as it is for the retry."""
_MAX_STEPS = 200
_ESTIMATE_CONTEXT_TOKENS = 8_000


def branch_for(issue_number: int) -> str:
    """The run's branch for an issue (deterministic, so every worker agrees)."""
    return f"{BRANCH_PREFIX}{issue_number}"


def issue_for_branch(branch: str | None) -> int | None:
    """The issue number a run branch belongs to, or None for any other branch."""
    if not branch:
        return None
    branch = branch.removeprefix("refs/heads/")
    rest = branch.removeprefix(BRANCH_PREFIX)
    return int(rest) if rest != branch and rest.isdigit() else None


def run_id_for(forge: str, repo: str, issue: int, key: str) -> str:
    """A run id from what started it (a redelivered start gives the same id)."""
    digest = hashlib.sha256(f"{forge}\x1f{repo}\x1f{issue}\x1f{key}".encode()).hexdigest()
    return f"{issue}-{digest[:10]}"


def _run_state(data: RunData) -> str:
    if data.outcome:
        return data.outcome
    phase = data.phase
    return "waiting" if phase is not None and phase.state == "needs_approval" else "running"


class Engine(PhaseSteps):
    """Drives the runs of one repository for one job.

    Args:
        services: The shell's services.
        config: The repository's config (default branch).
        repo: The repository, as the event named it.
        job: This job's id (claims on running phases).
        status_interval: Least seconds between status refreshes while a role runs.
        takeover_after: When another job's claim on a running phase counts as stale.
    """

    def __init__(
        self,
        services: Services,
        *,
        config: AgentForgeConfig,
        repo: RepoRef,
        job: str,
        status_interval: float = 30.0,
        takeover_after: timedelta = timedelta(minutes=45),
    ) -> None:
        self.s = services
        self.config = config
        self.repo = repo
        self.forge_name = services.forge.name
        self.job = job
        self.status_interval = status_interval
        self.takeover_after = takeover_after
        self.approvers = Approvers(
            services.forge, repo.full_name, config.config.approvers, services.bot_login
        )
        self.rules = ApprovalRules(
            self.approvers,
            services.forge,
            services.repo,
            config,
            repo=repo.full_name,
            base_branch=repo.default_branch or "",
        )
        self._published: dict[str, str] = {}
        self._phase_rows: dict[str, tuple] = {}  # run id -> phase row last written
        self.commands_now: Callable[[RunData], list[str]] = lambda data: []

    # --- reading -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The services' clock."""
        return self.s.clock()

    def data(self, record: RunRecord) -> RunData:
        """The run's state."""
        return RunData.from_data(record.data)

    def head_sha(self, data: RunData) -> str | None:
        """The MR's current head (or the run's last commit while there is no MR)."""
        if data.mr is not None:
            return self.s.forge.get_mr(data.repo, data.mr).head_sha
        commits = self.s.repo.branch_commits(data.repo, data.branch, data.base)
        if commits:
            return commits[-1].sha
        return data.commits[-1] if data.commits else None

    def threshold(self, phase: PhaseRun) -> float:
        """The confidence below which ``phase``'s ``auto`` gate becomes ``human``."""
        cfg = self.config.workflow.phase(phase.name)
        if cfg is None:
            return self.config.workflow.confidence_threshold
        return self.config.workflow.threshold_for(cfg)

    def evaluate(self, data: RunData, phase: PhaseRun, head: str | None) -> GateOutcome:
        """The current phase's gates at ``head``."""
        forge = self.s.forge
        return evaluate(
            data,
            phase,
            head_sha=head,
            threshold=self.threshold(phase),
            approvers=self.rules,
            reviews=lambda: forge.list_reviews(data.repo, data.mr) if data.mr else [],
            checks=lambda sha: forge.list_checks(data.repo, sha),
        )

    # --- starting ------------------------------------------------------------------------

    def new_run(self, issue_number: int, *, by: str, trigger: str, key: str) -> RunRecord | None:
        """Create a run for the issue (None if another job created one first)."""
        workflow = self.config.workflow
        now = self.now()
        base = self.repo.default_branch or self.s.forge.get_repo(self.repo.full_name).default_branch
        run_id = run_id_for(self.forge_name, self.repo.full_name, issue_number, key)
        data = RunData(
            run_id=run_id,
            forge=self.forge_name,
            repo=self.repo.full_name,
            issue=issue_number,
            branch=branch_for(issue_number),
            base=base,
            phases=[
                PhaseRun(name=p.name, role=p.role, gates=[g.value for g in p.gates])
                for p in workflow.phases
            ],
            started_by=by,
            trigger=trigger,
            estimate_usd=self._estimate(),
            started_at=now,
            workflow=self.config.workflow_name,
        )
        try:
            return self.s.runs.create(
                run_id=run_id,
                forge=self.forge_name,
                repo=self.repo.full_name,
                issue_number=issue_number,
                state="running",
                phase=data.phases[0].name,
                branch=data.branch,
                data=data.to_data(),
            )
        except Conflict:
            return None

    def _estimate(self) -> float | None:
        plans = [
            PhasePlan(p.name, p.role, _ESTIMATE_CONTEXT_TOKENS) for p in self.config.workflow.phases
        ]
        try:
            return estimate_run(plans, self.config.config.models, self.config.config.prices).usd
        except AgentForgeError:
            return None  # a cloud model without a price: the estimate is unknown, not zero

    # --- transitions ---------------------------------------------------------------------

    def transition(
        self,
        record: RunRecord,
        change: Callable[[RunData, dict[str, Any]], bool | None],
    ) -> tuple[RunRecord, bool]:
        """Apply ``change`` to the run's state with a compare-and-set.

        ``change(data, extra)`` edits the state in place (``extra`` is the rest of
        ``RunRecord.data``: the pending change set) and returns False when there is
        nothing to change. Returns the updated run and True, or the re-read run and
        False when another writer won (the caller decides again) or nothing changed.
        """
        data = self.data(record)
        extra = {k: v for k, v in record.data.items() if k not in RunData.model_fields}
        if change(data, extra) is False:
            return record, False
        payload = {**data.to_data(), **extra}
        updated = self.s.runs.compare_and_set(
            record.id,
            record.version,
            state=_run_state(data),
            phase=(data.phase or data.phases[-1]).name,
            mr_number=data.mr,
            data=payload,
        )
        if updated is None:
            self._phase_rows.pop(record.id, None)  # another writer: its row, not ours
            reread = self.s.runs.get(record.id)
            if reread is None:
                raise Conflict(f"run {record.id} disappeared from the run store")
            return reread, False
        self._record_phase(updated)
        return updated, True

    def _record_phase(self, record: RunRecord) -> None:
        data = self.data(record)
        phase = data.phase
        if phase is None:
            return
        row = (phase.name, phase.role, phase.state, "+".join(phase.gates), data.mr)
        if self._phase_rows.get(record.id) == row:
            # This job wrote the same row at the run's previous version, and nobody
            # else changed the run since (our compare-and-set won): writing it again
            # would change nothing.
            return
        self.s.runs.record_phase(
            record.id, row[0], role=row[1], state=row[2], gate=row[3], mr_number=row[4]
        )
        self._phase_rows[record.id] = row

    def fail(self, record: RunRecord, error: str) -> RunRecord:
        """End the run as failed (its current phase too), then say so on the issue."""
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            if data.outcome:
                return False
            phase = data.phase
            if phase is not None and phase.state != "approved":
                phase.state = "failed"
                phase.error = phase.error or error
                phase.finished_at = now
            data.outcome, data.error, data.finished_at = "failed", error, now
            extra.pop("pending", None)
            return True

        for _ in range(_MAX_STEPS):
            if record.terminal:
                break
            record, _ = self.transition(record, change)
        return self.publish(record)

    @contextmanager
    def guard(self, record: RunRecord | None) -> Iterator[None]:
        """The engine's boundary: a non-retryable error fails the run, then is swallowed.

        Retryable errors propagate with the state untouched (the retry resumes), and so
        does :class:`~bot.errors.LeaseLost` (the job's other attempt carries on).
        """
        try:
            yield
        except RETRYABLE:
            raise
        except LeaseLost:
            # Another attempt of this job owns it now and works the run: this one stops
            # without touching the run (failing it would end the other attempt's work).
            raise
        except Exception as exc:  # the run's boundary: record, tell, end
            if record is None:
                raise
            log.exception("run %s failed", record.id)
            latest = self.s.runs.get(record.id) or record
            what = f"{type(exc).__name__}: {exc}"
            self.fail(latest, f"The run stopped on an error ({what}).")

    # --- the loop ------------------------------------------------------------------------

    def drive(self, record: RunRecord) -> RunRecord:
        """Take steps until the run waits on people or CI, or has ended."""
        for _ in range(_MAX_STEPS):
            if record.terminal:
                return record
            data = self.data(record)
            phase = data.phase
            if phase is None:
                nxt = self._finish(record, data)
            elif phase.state == "waiting":
                if self._hand_over(data, phase):
                    return record
                nxt = self._begin(record, phase.name)
            elif phase.state == "running":
                idle = not phase.result and not self._claimed_elsewhere(phase)
                if idle and self._hand_over(data, phase):
                    return record
                nxt = self._work(record, data, phase)
            elif phase.state == "needs_approval":
                nxt = self._check_gate(record, data, phase)
            elif phase.state == "approved":
                nxt = self._advance(record)
            else:
                nxt = self.fail(record, phase.error or f"phase {phase.name} failed")
            if nxt is None:
                return record
            record = nxt
        raise Conflict(f"run {record.id} did not settle after {_MAX_STEPS} steps")

    def _hand_over(self, data: RunData, phase: PhaseRun) -> bool:
        """In a light job (a command), ask for a heavy job to run the phase's role
        instead of running it here; True when asked (the caller stops driving)."""
        later = self.s.continuations
        if later is None:
            return False
        later.continue_run(data.repo, data.issue, f"phase {phase.name}")
        return True

    def _begin(self, record: RunRecord, name: str) -> RunRecord:
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name or phase.state != "waiting":
                return False
            phase.state = "running"
            phase.claim = Claim(job=self.job, at=now)
            phase.started_at = phase.started_at or now
            phase.result = phase.pushed = False
            return True

        updated, _ = self.transition(record, change)
        return self.publish(updated)

    def _claimed_elsewhere(self, phase: PhaseRun) -> bool:
        claim = phase.claim
        if claim is None or claim.job == self.job:
            return False
        return self.now() - claim.at < self.takeover_after

    def _work(self, record: RunRecord, data: RunData, phase: PhaseRun) -> RunRecord | None:
        if self._claimed_elsewhere(phase):
            return None  # another job is working this phase right now
        if phase.claim is None or phase.claim.job != self.job:
            return self._take_over(record, phase.name)
        if not phase.result:
            return self._run_role(record, data, phase)
        if not phase.pushed:
            return self._push(record, data, phase)
        if data.mr is None and data.commits:
            return self._open_mr(record, data)
        return self._enter_gate(record, data, phase)

    def _take_over(self, record: RunRecord, name: str) -> RunRecord:
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.name != name or phase.state != "running":
                return False
            phase.claim = Claim(job=self.job, at=now)
            return True

        return self.transition(record, change)[0]

    # --- gates ---------------------------------------------------------------------------

    def _enter_gate(self, record: RunRecord, data: RunData, phase: PhaseRun) -> RunRecord:
        head = self.head_sha(data)
        outcome = self.evaluate(data, phase, head)
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            current = data.phase
            if current is None or current.name != phase.name or current.state != "running":
                return False
            current.head_sha = head
            current.claim = None
            current.waiting_since = now
            current.pending, current.hold = outcome.pending, outcome.hold
            current.awaiting = outcome.awaiting
            if outcome.passed:
                current.state, current.finished_at = "approved", now
            else:
                current.state = "needs_approval"
            return True

        updated, won = self.transition(record, change)
        if won:
            self._update_mr(self.data(updated))
            updated = self.publish(updated)
        return updated

    def _check_gate(self, record: RunRecord, data: RunData, phase: PhaseRun) -> RunRecord | None:
        if infra_hold.held(phase):
            return self._check_hold(record, data, phase)
        head = self.head_sha(data)
        outcome = self.evaluate(data, phase, head)
        unchanged = (
            not outcome.passed
            and phase.head_sha == head
            and phase.pending == outcome.pending
            and phase.hold == outcome.hold
        )
        if unchanged:
            self.publish(record)
            return None
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            current = data.phase
            if current is None or current.name != phase.name:
                return False
            if current.state != "needs_approval":
                return False
            if current.head_sha != head:
                # A new head (a person pushed): the gate starts waiting again, and an
                # /approve written before this moment could not have seen it.
                current.waiting_since = now
            current.head_sha = head
            current.pending, current.hold = outcome.pending, outcome.hold
            current.awaiting = outcome.awaiting
            if outcome.passed:
                current.state, current.finished_at = "approved", now
            return True

        updated, won = self.transition(record, change)
        if not won:
            return updated  # someone else moved the run: decide again
        updated = self.publish(updated)
        return updated if outcome.passed else None

    def infra_releasers(self, data: RunData, phase: PhaseRun, head: str | None) -> list[str]:
        """Infrastructure approvers whose approval at ``head`` releases a held push (see
        :func:`handlers.workflow.infra_hold.release_verdict`)."""
        approvers = self.config.config.approvers
        return [
            login
            for login in infra_hold.released(data, phase, head, list(approvers.infra))
            if infra_hold.release_verdict(
                approvers, login, bot_login=self.s.bot_login, started_by=data.started_by
            ).ok
        ]

    def _check_hold(self, record: RunRecord, data: RunData, phase: PhaseRun) -> RunRecord | None:
        head = self.head_sha(data)
        go = bool(self.infra_releasers(data, phase, head))
        if not go and phase.head_sha == head:
            self.publish(record)
            return None
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            current = data.phase
            if not infra_hold.held(current) or current.name != phase.name:
                return False
            if current.head_sha != head:
                current.waiting_since = now  # a person pushed: approve the new head
            current.head_sha = head
            if go:
                current.state = "running"
                current.claim = Claim(job=self.job, at=now)
                current.awaiting, current.pending = [], []
            return True

        updated, won = self.transition(record, change)
        if not won:
            return updated
        updated = self.publish(updated)
        return updated if go else None

    def _advance(self, record: RunRecord) -> RunRecord:
        def change(data: RunData, extra: dict[str, Any]) -> bool:
            phase = data.phase
            if phase is None or phase.state != "approved":
                return False
            data.current += 1
            return True

        return self.transition(record, change)[0]

    def _finish(self, record: RunRecord, data: RunData) -> RunRecord:
        if data.mr is not None:
            self._update_mr(data)
            (ready,) = self.s.actions.apply(
                [MarkReady(repo=data.repo, number=data.mr, reason=f"run {data.run_id}: done")]
            )
            if not ready.landed:
                return self.fail(record, f"The MR could not be marked ready: {ready.detail}")
        now = self.now()

        def change(data: RunData, extra: dict[str, Any]) -> bool:
            if data.outcome or data.phase is not None:
                return False
            data.outcome, data.finished_at = "succeeded", now
            return True

        updated, _ = self.transition(record, change)
        return self.publish(updated)

    # --- the status comment --------------------------------------------------------------

    def publish(self, record: RunRecord) -> RunRecord:
        """Create or edit the run's status comment (skipped when the text is unchanged);
        returns the run (its comment id recorded the first time)."""
        data = self.data(record)
        comment_id = self._publish_data(data)
        if comment_id and data.status_comment_id != comment_id and not record.terminal:

            def change(data: RunData, extra: dict[str, Any]) -> bool:
                if data.status_comment_id == comment_id:
                    return False
                data.status_comment_id = comment_id
                return True

            record, _ = self.transition(record, change)
        return record

    def _publish_data(self, data: RunData) -> str | None:
        mr_ref = None
        if data.mr is not None:
            mr_ref = f"!{data.mr}" if data.forge == "gitlab" else f"#{data.mr}"
        body = status_text.render(
            data,
            now=self.now(),
            commands=self.commands_now(data),
            html_url=self.repo.html_url,
            mr_ref=mr_ref,
        )
        key = status_text.status_key(data.run_id)
        if self._published.get(key) == body:
            return data.status_comment_id
        (result,) = self.s.actions.apply(
            [
                PostComment(
                    repo=data.repo,
                    number=data.issue,
                    body=body,
                    marker_key=key,
                    reason=f"run {data.run_id}: live status",
                )
            ]
        )
        if result.landed:
            self._published[key] = body
        return result.result.get("comment_id") or data.status_comment_id
