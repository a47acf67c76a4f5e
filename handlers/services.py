"""What handlers get from the shell: typed services, implemented in ``bot/``.

Handlers decide; they do no I/O of their own. Everything they need to read or to have
done reaches them through these protocols in :class:`Services`, handed over in
:class:`handlers.registry.HandlerContext`. ``bot/`` implements them (DuckDB run store,
git-backed repository reader, the role runner, the executor as an action sink); tests
hand in in-memory fakes.

Writes still go only through :class:`ActionSink` (the judged, audited executor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agents.roles.contract import RoleRunner
from bot.actions import Action
from bot.forge import Forge
from bot.repoconfig import AgentForgeConfig

RunState = Literal["running", "waiting", "succeeded", "failed", "cancelled"]
"""``running``: a phase is being worked. ``waiting``: a gate waits on people or CI.
The last three are terminal: a terminal run never changes again."""

TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class RunRecord(BaseModel):
    """One workflow run as the run store keeps it.

    Attributes:
        id: Run id (deterministic per forge, repo and issue start, see the engine).
        forge: ``github``, ``gitlab`` or ``local``.
        repo: Repository full name.
        issue_number: The issue the run serves.
        state: See :data:`RunState`.
        phase: The current phase name.
        version: Bumped by every successful :meth:`RunStore.compare_and_set`.
        branch: The run's branch.
        mr_number: The run's merge request, once opened.
        data: The engine's own state (phases, approvals, rounds, comment ids...), JSON.
        started_at: When the run was created.
        updated_at: Last change.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    forge: str
    repo: str
    issue_number: int
    state: str
    phase: str | None = None
    version: int = 1
    branch: str | None = None
    mr_number: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    updated_at: datetime

    @property
    def terminal(self) -> bool:
        """Whether the run has ended (succeeded, failed or cancelled)."""
        return self.state in TERMINAL_STATES


class RunStore(Protocol):
    """Runs, phases and artifacts, with compare-and-swap on a run's version."""

    def get(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        ...

    def active_for_issue(self, forge: str, repo: str, issue_number: int) -> RunRecord | None:
        """The one non-terminal run of an issue, or None."""
        ...

    def latest_for_issue(self, forge: str, repo: str, issue_number: int) -> RunRecord | None:
        """The newest run of an issue in any state, or None."""
        ...

    def for_mr(self, forge: str, repo: str, mr_number: int) -> RunRecord | None:
        """The newest run whose MR is ``mr_number``, or None."""
        ...

    def create(
        self,
        *,
        run_id: str,
        forge: str,
        repo: str,
        issue_number: int,
        state: str,
        phase: str | None,
        branch: str | None,
        data: dict[str, Any],
    ) -> RunRecord:
        """Record a new run at version 1.

        Raises:
            bot.errors.Conflict: the issue already has an active run, or the id exists.
        """
        ...

    def compare_and_set(
        self,
        run_id: str,
        expected_version: int,
        *,
        state: str | None = None,
        phase: str | None = None,
        mr_number: int | None = None,
        branch: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> RunRecord | None:
        """Change the run if its version is still ``expected_version``.

        Returns:
            The updated run (version + 1), or None when another writer got there first
            (re-read and decide again) or the run is terminal.
        """
        ...

    def record_phase(
        self,
        run_id: str,
        name: str,
        *,
        role: str | None,
        state: str,
        gate: str | None,
        mr_number: int | None = None,
    ) -> None:
        """Create or update the phase row ``(run_id, name)``."""
        ...

    def add_artifact(
        self, run_id: str, phase: str, path: str, *, kind: str | None, commit_sha: str | None
    ) -> None:
        """Record an artifact once: the same (run, phase, path, commit) is not duplicated."""
        ...

    def list_runs(
        self, *, forge: str, repo: str | None = None, states: list[str] | None = None
    ) -> list[RunRecord]:
        """Runs of ``forge`` (optionally of one repository, in some states), newest first.

        The reconcile sweep reads the repositories the bot has runs in, and the watchdog
        the runs still ``running``.
        """
        ...


@dataclass(frozen=True)
class BranchCommit:
    """One commit on a run's branch, as reconstruction reads it.

    Attributes:
        sha: The commit id.
        message: The full commit message (trailers included).
        trailers: The message's git trailers (``Agentforge-Run`` -> run id...).
        author: The author's name or login, as git records it.
    """

    sha: str
    message: str = ""
    trailers: dict[str, str] = field(default_factory=dict)
    author: str = ""


class RepoReader(Protocol):
    """Reads repository content at a ref (through git or the forge's API)."""

    def branch_commits(self, repo: str, branch: str, base: str) -> list[BranchCommit]:
        """Commits on ``branch`` that are not on ``base``, oldest first.

        An empty list when ``branch`` does not exist. Used to rebuild a run's state from
        git alone (the ``Agentforge-*`` trailers say which phase made which commit).
        """
        ...

    def file_at(self, repo: str, ref: str, path: str) -> str | None:
        """The text of ``path`` at ``ref``, or None when it does not exist there."""
        ...

    def mr_changed_files(self, repo: str, number: int) -> list[str]:
        """Paths the MR changes against its base."""
        ...

    def diff(self, repo: str, base: str, head: str) -> str:
        """The unified diff ``base...head`` (for the reviewer and ``/reject`` rounds)."""
        ...

    def changed_files(self, repo: str, base: str, head: str) -> list[str]:
        """Paths ``base...head`` changes (both paths of a rename), sorted: what a phase
        changed, for CODEOWNERS and the self-approval rule."""
        ...


class ConfigSource(Protocol):
    """The repository's ``.agentforge/`` config, read at the default branch's head."""

    def load(self, repo: str, default_branch: str | None = None) -> AgentForgeConfig:
        """Validated config (defaults where files are absent).

        Raises:
            bot.errors.RepoConfigError: with every problem (file, line, field).
        """
        ...


class ContextSource(Protocol):
    """The searchable index of discussions (code search happens inside the roles)."""

    def add_discussion(
        self,
        repo: str,
        *,
        number: int,
        is_mr: bool,
        comment_id: str | None,
        author: str,
        body: str,
    ) -> None:
        """Index one comment so ``search_discussions`` can find it."""
        ...


class FeedbackRecord(BaseModel):
    """One piece of reviewer feedback, kept per repository.

    Attributes:
        repo: Repository full name.
        run_id: The run it was given in.
        phase: The phase it was about.
        role: The role that worked the phase.
        kind: ``reject`` (a ``/reject``'s text) or ``review`` (a review comment).
        text: The feedback.
        score: For :meth:`FeedbackStore.similar`: how similar it is (0-1).
    """

    model_config = ConfigDict(frozen=True)

    repo: str
    run_id: str
    phase: str
    role: str
    kind: str
    text: str
    score: float = 0.0


class FeedbackStore(Protocol):
    """Reviewer feedback per repository (``/reject`` texts, review comments), so a kind
    of feedback that keeps coming back becomes a lesson."""

    def add(self, repo: str, run_id: str, phase: str, role: str, text: str, kind: str) -> None:
        """Keep one piece of feedback (the same run, kind and text is kept once)."""
        ...

    def similar(self, repo: str, text: str) -> list[FeedbackRecord]:
        """Earlier feedback in ``repo`` similar to ``text`` (above the store's
        documented threshold), most similar first."""
        ...


class LimitLedger(Protocol):
    """Timestamps of rate-limited things (runs started, refusal replies), kept across
    restarts, so a limit counts the same after the bot comes back."""

    def times_since(
        self,
        kind: str,
        forge: str,
        repo: str,
        since: datetime,
        *,
        actor: str | None = None,
        subject: str | None = None,
    ) -> list[datetime]:
        """When ``kind`` happened in ``repo`` since ``since``, oldest first; only by
        ``actor`` (case-insensitive) and on ``subject`` when given."""
        ...

    def record(
        self, kind: str, forge: str, repo: str, *, actor: str, subject: str, at: datetime
    ) -> None:
        """Note one ``kind`` by ``actor`` on ``subject`` (``issue:7``, ``mr:3``) at ``at``."""
        ...


class AuditTrail(Protocol):
    """Rows in the bot's hash-chained audit log for what handlers decide without an
    action: a command read, a command or run start refused (see docs/records.md)."""

    def record(
        self, actor: str, action: str, *, repo: str, number: int | None, detail: dict[str, Any]
    ) -> None:
        """Append one row (``action`` like ``command`` or ``refused``) by ``actor`` about
        ``repo`` issue/MR ``number``."""
        ...


class ActionResult(BaseModel):
    """What the executor did with one action (see :class:`bot.executor.ActionOutcome`).

    Attributes:
        type: The action's ``type``.
        status: ``applied``, ``skipped``, ``denied``, ``failed`` or ``blocked``.
        detail: A sentence for people.
        result: What was written or found: ``comment_id``, ``number``, ``sha``...
    """

    model_config = ConfigDict(frozen=True)

    type: str
    status: str
    detail: str = ""
    result: dict[str, Any] = Field(default_factory=dict)

    @property
    def landed(self) -> bool:
        """Whether the wanted state is now on the forge (applied or already there)."""
        return self.status in ("applied", "skipped")


class ActionSink(Protocol):
    """Applies actions now (judged and audited), during a handler's run."""

    def apply(self, actions: list[Action]) -> list[ActionResult]:
        """Judge and apply ``actions`` in order; one result per action.

        Raises:
            Unavailable, RateLimited: an action failed with an error a retry may cure
                (after every action ran); the handler leaves its state for the retry.
        """
        ...


class Continuations(Protocol):
    """Hands long work (a phase's role run) from a light job to the heavy queue."""

    def continue_run(self, repo: str, issue: int, reason: str) -> None:
        """Ask for a heavy job, after this one, that drives the issue's run.

        The request takes effect when this job finishes successfully (the shell stores
        the new job in the same transaction); the handler stops driving the run.
        """
        ...


class IssueJobs(Protocol):
    """What the job queue knows about the work on an issue (the watchdog asks it)."""

    def in_flight(self, forge: str, repo: str, issue: int) -> bool:
        """Whether a job about the issue (or its MR) runs with a lease its worker
        still renews (a fresh heartbeat), or a continuation that will work the run's
        phase waits in the queue.

        A run whose work is in flight is not stuck, however long its role takes.
        """
        ...


Clock = Callable[[], datetime]
"""The current time, timezone-aware UTC."""


@dataclass(frozen=True)
class Services:
    """Everything the shell provides to handlers for one job.

    Attributes:
        forge: The event's forge, for reads (handlers never write through it).
        runs: The run store.
        repo: Repository content at a ref.
        config: The repository's config from the default branch.
        roles: Runs role agents.
        context: The discussion index.
        actions: Applies actions during the run (the live status comment).
        clock: The current time.
        heartbeat: Keeps the job's lease alive; call it while long work runs.
        bot_login: The bot's own login on this forge (its own events are ignored).
        feedback: Reviewer feedback per repository (lessons); None where the shell
            keeps none (then no lessons are proposed).
        continuations: Set in light jobs (commands): the engine hands a role run to
            the heavy queue through it instead of running it. None: run everything
            here (heavy jobs, the CI runner, tests).
        limits: Rate-limit records (runs started, refusal replies); None where the
            shell keeps none (then nothing is limited or throttled).
        audit: The audit log for commands and refusals; None where the shell keeps
            none (actions are audited by the executor either way).
        jobs: The queue's view of the work on an issue; None where there is no
            queue (then the watchdog goes by the run record's age alone).
    """

    forge: Forge
    runs: RunStore
    repo: RepoReader
    config: ConfigSource
    roles: RoleRunner
    context: ContextSource
    actions: ActionSink
    clock: Clock
    heartbeat: Callable[[], None]
    bot_login: str | None = None
    feedback: FeedbackStore | None = None
    continuations: Continuations | None = None
    limits: LimitLedger | None = None
    audit: AuditTrail | None = None
    jobs: IssueJobs | None = None
