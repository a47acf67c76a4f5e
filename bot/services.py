"""The services factory: what the shell hands to the handlers of each job.

:func:`build_services` returns a :data:`bot.jobs.dispatch.ServicesFactory`; the in-process
dispatcher calls it for every job and passes the :class:`handlers.services.Services`
in :class:`handlers.registry.HandlerContext`. Per job it gives:

============  ===========================================================================
forge         the event's forge adapter (one per forge, shared with the executor)
runs          :class:`bot.store.runs.DuckDBRunStore` on the server's records database
repo          :class:`ForgeRepoReader`: a file at a ref, an MR's changed files (forge
              API), a ``base...head`` diff (the cached git clone, fetched first)
config        :class:`ForgeConfigSource`: ``.agentforge/`` read at the default branch's
              head through the forge and validated, so an MR cannot loosen its own
              rules; the head sha is looked up per job (:class:`ClonedHeads`) and the
              validated config cached by it
roles         the role runner (:func:`wire_roles`, built when a role first runs)
context       the discussion index (:func:`wire_roles`, likewise)
actions       :class:`ExecutorSink`: the same judged, audited executor as the
              end-of-job actions, applied now; its outcomes join the job's result
clock         UTC now
heartbeat     renews this job's lease (raises :class:`bot.errors.LeaseLost` once lost)
bot_login     ``AGENTFORGE_BOT_LOGIN``, else the forge token's own login (cached)
feedback      :class:`bot.feedback.DuckDBFeedback`: reviewer feedback per repository
              (lessons), on the records database
limits        :class:`bot.limits_store.DuckDBLimitLedger`: runs started and refusal
              replies, for the rate limits (survives restarts)
============  ===========================================================================

A forge with no credentials raises :class:`bot.errors.ConfigError` from the factory;
the dispatcher then runs the handlers without services and records why.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from agents.roles.contract import RoleRunner
from bot.actions import Action
from bot.audit_trail import AuditedRunStore, AuditedUsageLedger, ShellAuditTrail
from bot.config_cache import ConfigCache
from bot.errors import ForgeError, WorkspaceError
from bot.events import Event
from bot.executor import RETRYABLE as EXECUTOR_RETRYABLE
from bot.executor import (
    ExecutionContext,
    Executor,
    ExecutorFactory,
    _clone_lock,
    executor_factory_from_settings,
)
from bot.feedback import DuckDBFeedback
from bot.forge import Forge
from bot.jobs.followups import RecordedContinuations
from bot.jobs.priorities import LIGHT
from bot.jobs.queue import Job
from bot.jobs.queue_admin import QueueIssueJobs
from bot.limits_store import DuckDBLimitLedger
from bot.repoconfig import AgentForgeConfig
from bot.repoconfig.loader import CONFIG_DIR, MAX_FILE_BYTES, ROLES_DIR
from bot.store.audit import AuditLog
from bot.store.db import Database
from bot.store.runs import DuckDBRunStore
from bot.workspace import Workspace, cache_path
from handlers.services import ActionResult, BranchCommit, ContextSource, Services

log = logging.getLogger(__name__)

RolesWiring = Callable[[Forge], tuple[RoleRunner, ContextSource]]
"""``wiring(forge) -> (role runner, context source)`` for one forge."""


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the services' clock)."""
    return datetime.now(UTC)


def _no_lease() -> None:
    """The heartbeat of a job without a lease (a CI runner): nothing to renew."""


# --- repository reads ----------------------------------------------------------------


class CommitFiles:
    """Files read at a commit, kept by ``(forge, repo, commit, path)`` (LRU, thread-safe).

    A commit names its content, so an entry (the text, or None for "no such file")
    never goes stale; only reads pinned to a commit id are kept.

    Args:
        size: How many files to keep (least recently used go first).
    """

    _ABSENT = object()

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, str, str], str | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str, str], read: Callable[[], str | None]) -> str | None:
        """The file under ``key``, read with ``read`` only on a miss (errors are not kept)."""
        with self._lock:
            found = self._items.get(key, self._ABSENT)
            if found is not self._ABSENT:
                self._items.move_to_end(key)
                return found  # type: ignore[return-value]
        text = read()
        with self._lock:
            self._items[key] = text
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return text


class JobHeads:
    """:data:`BranchHeads` looked up once per job and branch.

    Only default branches are asked for (the config's and the run's base), and the bot
    never pushes to them, so within one job the first answer stays true; the config
    source and the repository reader share one instance, so a job fetches once.
    """

    def __init__(self, heads: BranchHeads) -> None:
        self.heads = heads
        self._seen: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    def __call__(self, repo: str, branch: str) -> str | None:
        """The head of ``branch`` as the first lookup in this job found it."""
        key = (repo, branch)
        with self._lock:
            if key not in self._seen:
                self._seen[key] = self.heads(repo, branch)
            return self._seen[key]


class ForgeRepoReader:
    """:class:`handlers.services.RepoReader` over a forge and its cached clones.

    Reads at the repository's default branch are pinned to its head commit (looked up
    through ``heads``) and kept in ``files``, so the gate's CODEOWNERS and the lessons
    are not read from the forge again until the default branch moves. Reads at any
    other branch (the run's own, which the bot pushes to) always go to the forge.

    Args:
        forge: Where files and MR changes are read.
        clones_dir: The cache of git clones (shared with the executor's pushes).
        heads: The default branch's head per job (None: every read goes to the forge).
        files: Files at commits, shared between jobs.
    """

    def __init__(
        self,
        forge: Forge,
        clones_dir: Path,
        heads: BranchHeads | None = None,
        files: CommitFiles | None = None,
    ) -> None:
        self.forge = forge
        self.clones_dir = Path(clones_dir)
        self.heads = heads
        self.files = files
        self._default: dict[str, str] = {}

    def file_at(self, repo: str, ref: str, path: str) -> str | None:
        """The text of ``path`` at ``ref``, or None when it does not exist there."""
        sha = self._pinned(repo, ref)
        if sha is None:
            return self.forge.get_file(repo, path, ref=ref)
        return self.files.get(
            (self.forge.name, repo, sha, path), lambda: self.forge.get_file(repo, path, ref=sha)
        )

    def _pinned(self, repo: str, ref: str) -> str | None:
        """The commit ``ref`` stands for, when it is the default branch (else None)."""
        if self.heads is None or self.files is None:
            return None
        if repo not in self._default:
            self._default[repo] = self.forge.get_repo(repo).default_branch
        if ref != self._default[repo]:
            return None
        return self.heads(repo, ref)

    def mr_changed_files(self, repo: str, number: int) -> list[str]:
        """Paths the MR changes against its base."""
        return list(self.forge.list_mr_files(repo, number))

    def branch_commits(self, repo: str, branch: str, base: str) -> list[BranchCommit]:
        """Commits on ``branch`` not on ``base``, oldest first, with their trailers.

        Read from the cached clone after a fetch; an empty list when the branch does
        not exist on the forge.

        Raises:
            GitError: cloning or fetching failed, or ``base`` is unknown.
        """
        path = cache_path(self.clones_dir, self.forge.name, repo)
        with _clone_lock(path):
            ws = Workspace.open(self.forge.clone_url(repo), path)  # fetches a cached clone
            commits = ws.branch_commits(branch, base) or []
        return [
            BranchCommit(
                sha=c.sha,
                message=c.message,
                trailers=dict(c.trailers),
                author=c.author.name,
            )
            for c in commits
        ]

    def changed_files(self, repo: str, base: str, head: str) -> list[str]:
        """Paths ``base...head`` changes, from the cached clone after a fetch.

        Raises:
            GitError: cloning or fetching failed, or a revision is unknown.
        """
        path = cache_path(self.clones_dir, self.forge.name, repo)
        with _clone_lock(path):
            ws = Workspace.open(self.forge.clone_url(repo), path)  # fetches a cached clone
            return ws.changed_since(base, head)

    def diff(self, repo: str, base: str, head: str) -> str:
        """The unified diff ``base...head``, from the cached clone after a fetch.

        Raises:
            GitError: cloning or fetching failed, or a revision is unknown.
        """
        path = cache_path(self.clones_dir, self.forge.name, repo)
        with _clone_lock(path):  # one git operation at a time per clone
            ws = Workspace.open(self.forge.clone_url(repo), path)  # fetches a cached clone
            return ws.diff(base, head)


# --- repository config ---------------------------------------------------------------


BranchHeads = Callable[[str, str], str | None]
"""``heads(repo, branch) -> sha``: the branch's head commit now (None: unknown)."""


class ClonedHeads:
    """:data:`BranchHeads` from the cached clone, fetched first (as the judge reads it).

    A fetch asks the forge for its refs as of now, so the sha is the default branch's
    head when the job runs; the clone is the one the executor pushes from.

    Args:
        forge: The forge the clone comes from.
        clones_dir: The executor's clone cache.
    """

    def __init__(self, forge: Forge, clones_dir: Path) -> None:
        self.forge = forge
        self.clones_dir = Path(clones_dir)

    def __call__(self, repo: str, branch: str) -> str | None:
        """The head of ``branch`` after a fetch; None when it is absent, git failed, or
        there is no clone yet (a first clone can take minutes: it is not made for a
        config read, which then reads the forge by branch name)."""
        try:
            path = cache_path(self.clones_dir, self.forge.name, repo)
        except WorkspaceError:
            return None
        if not (path / ".git").exists():
            return None
        try:
            with _clone_lock(path):
                ws = Workspace.open(self.forge.clone_url(repo), path)  # clones or fetches
                return ws.commit_info(f"refs/remotes/origin/{branch}").sha
        except (WorkspaceError, ForgeError) as exc:
            log.info("no head for %s@%s from the clone (%s); reading the forge", repo, branch, exc)
            return None


class ForgeConfigSource:
    """:class:`handlers.services.ConfigSource`: ``.agentforge/`` at the default branch.

    Never the MR's branch: whatever the event, the files are read at the repository's
    default branch, so a merge request cannot loosen its own rules. One source serves
    one job, so a job that loads the config twice reads the forge once.

    With ``heads``, the default branch's head sha is looked up on every job and the
    files are read at that sha; the validated config is cached by it, so the files
    are read and validated again only when the default branch moves (a commit's id
    names its content, so a cached entry can never be stale).

    Args:
        forge: Where the files are read.
        cache: Validated configs shared between jobs.
        heads: Looks up the default branch's head (None: read the files by branch name
            on every job, then find the config by their content).
    """

    def __init__(self, forge: Forge, cache: ConfigCache, heads: BranchHeads | None = None) -> None:
        self.forge = forge
        self.cache = cache
        self.heads = heads
        self._loaded: dict[tuple[str, str], AgentForgeConfig] = {}

    def load(self, repo: str, default_branch: str | None = None) -> AgentForgeConfig:
        """Validated config of ``repo`` (defaults where files are absent).

        Raises:
            RepoConfigError: with every problem (file, line, field).
            ForgeError: the forge could not be read.
        """
        branch = default_branch or self.forge.get_repo(repo).default_branch
        key = (repo, branch)
        if key not in self._loaded:
            sha = self.heads(repo, branch) if self.heads is not None else None
            if sha is None:
                config = self.cache.load(self.read_files(repo, branch))
            else:
                config = self.cache.load_tree(
                    f"{self.forge.name}:{repo}@{sha}", lambda: self.read_files(repo, sha)
                )
            self._loaded[key] = config
        return self._loaded[key]

    def read_files(self, repo: str, ref: str) -> dict[str, str]:
        """``.agentforge/*.yaml|yml|md`` and ``roles/*.md`` at ``ref``, path -> text.

        Over-large files get the same marker as on disk, so validation names them.
        """
        files: dict[str, str] = {}
        entries = [_name(e) for e in self.forge.list_dir(repo, CONFIG_DIR, ref=ref)]
        paths = [f"{CONFIG_DIR}/{n}" for n in entries if n.endswith((".yaml", ".yml", ".md"))]
        if "roles" in entries:
            roles = [_name(e) for e in self.forge.list_dir(repo, ROLES_DIR, ref=ref)]
            paths += [f"{ROLES_DIR}/{n}" for n in roles if n.endswith(".md")]
        for path in sorted(paths):
            text = self.forge.get_file(repo, path, ref=ref)
            if text is None:
                continue  # listed, then gone (or a directory): nothing to validate
            files[path] = "\x00too-large" if len(text.encode()) > MAX_FILE_BYTES else text
        return files


def _name(entry: str) -> str:
    # list_dir entries may be names or repository paths; only the last part matters.
    return PurePosixPath(entry.rstrip("/")).name


# --- actions during a run ------------------------------------------------------------


class ExecutorSink:
    """:class:`handlers.services.ActionSink` through the job's executor (judged, audited).

    Every outcome is also kept (:meth:`applied`) so the job's result lists what was
    written during the run, not only at its end.

    Args:
        executor: The executor of the job's forge.
        ctx: Who and what the writes are for (bound into the audit log).
    """

    def __init__(self, executor: Executor, ctx: ExecutionContext) -> None:
        self.executor = executor
        self.ctx = ctx
        self._applied: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def apply(self, actions: list[Action]) -> list[ActionResult]:
        """Judge and apply ``actions`` now, in order; one result per action.

        Raises:
            StoreError: the audit log could not be written (fail closed).
            Unavailable, RateLimited: an action failed with an error a retry may cure
                (raised after every action ran and was recorded, as the
                :class:`bot.executor.ExecutingDispatcher` does), so the handler leaves
                its state as it is and the queue retries the job.
        """
        outcomes = self.executor.apply(list(actions), self.ctx)
        with self._lock:
            self._applied.extend({**o.to_dict(), "stage": "during_run"} for o in outcomes)
        for outcome in outcomes:
            if isinstance(outcome.error, EXECUTOR_RETRYABLE):
                raise outcome.error
        return [
            ActionResult(
                type=o.action.type, status=o.status.value, detail=o.detail, result=dict(o.result)
            )
            for o in outcomes
        ]

    def applied(self) -> list[dict[str, Any]]:
        """The outcomes of everything applied so far (JSON-able, oldest first)."""
        with self._lock:
            return list(self._applied)


# --- the factory ---------------------------------------------------------------------


def wire_roles(settings: Any, db: Database, audit: AuditLog | None = None) -> RolesWiring:
    """The role runner and discussion index for a forge (one place to adjust).

    Imported when the first job needs them: the agents and the index pull in heavy
    libraries the CLI must not load at start. With ``audit``, every model call is also
    an audit row (:class:`bot.audit_trail.AuditedUsageLedger`).
    """

    def wiring(forge: Forge) -> tuple[RoleRunner, ContextSource]:
        from bot.roles import ShellRoleRunner
        from bot.roles_context import DiscussionIndex
        from bot.store.records import DuckDBLedger

        ledger: Any = DuckDBLedger(db)
        if audit is not None:
            ledger = AuditedUsageLedger(ledger, audit)
        runner = ShellRoleRunner(
            forge=forge,
            clones_dir=settings.clones_dir,
            ledger=ledger,
            index_dir=settings.index_dir,
        )
        return runner, DiscussionIndex(settings.index_dir, forge.name)

    return wiring


class LazyRoles:
    """The role runner and discussion index of one forge, built on first use.

    Most jobs (a comment, a label) never run a role; building the runner imports the
    agent libraries, so it waits until a handler actually calls one. Built once, then
    shared by every job on the forge.

    Args:
        wiring: Builds the pair (see :func:`wire_roles`).
        forge: The forge they serve.
    """

    def __init__(self, wiring: RolesWiring, forge: Forge) -> None:
        self._wiring = wiring
        self._forge = forge
        self._built: tuple[RoleRunner, ContextSource] | None = None
        self._lock = threading.Lock()
        self.runner = _LazyRunner(self)
        self.context = _LazyContext(self)

    def get(self) -> tuple[RoleRunner, ContextSource]:
        """The role runner and the context source (built now if needed)."""
        with self._lock:
            if self._built is None:
                self._built = self._wiring(self._forge)
            return self._built


class _LazyRunner:
    """:class:`agents.roles.contract.RoleRunner` that builds the real one when first run."""

    def __init__(self, roles: LazyRoles) -> None:
        self._roles = roles

    def run(self, task: Any, *, config: Any, ref: str, progress: Any = None) -> Any:
        """Run the role; see :meth:`agents.roles.contract.RoleRunner.run`."""
        return self._roles.get()[0].run(task, config=config, ref=ref, progress=progress)


class _LazyContext:
    """:class:`handlers.services.ContextSource` that builds the real one when first used."""

    def __init__(self, roles: LazyRoles) -> None:
        self._roles = roles

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
        """Index one comment; see :meth:`handlers.services.ContextSource.add_discussion`."""
        self._roles.get()[1].add_discussion(
            repo, number=number, is_mr=is_mr, comment_id=comment_id, author=author, body=body
        )


class ServicesBuilder:
    """Builds one :class:`Services` per job; see :func:`build_services`."""

    def __init__(
        self,
        settings: Any,
        db: Database,
        executor_factory: ExecutorFactory,
        roles: RolesWiring,
        clock: Callable[[], datetime],
        audit: AuditLog | None = None,
    ) -> None:
        self.settings = settings
        self.audit = audit
        self.runs: Any = DuckDBRunStore(db)
        if audit is not None:
            self.runs = AuditedRunStore(self.runs, audit)
        self.feedback = DuckDBFeedback(db)
        self.limits = DuckDBLimitLedger(db)
        self.jobs = QueueIssueJobs(db)
        self.executor_factory = executor_factory
        self.roles = roles
        self.clock = clock
        self.config_cache = ConfigCache()
        self.commit_files = CommitFiles()
        self._logins: dict[str, str] = {}
        self._roles: dict[str, LazyRoles] = {}
        self._lock = threading.Lock()

    def __call__(self, job: Job, event: Event) -> Services:
        """The services for one job.

        Raises:
            ConfigError: the event's forge has no credentials configured.
            ForgeError: the bot's own login could not be read.
        """
        executor = self.executor_factory(event)
        forge = executor.forge
        ctx = ExecutionContext.from_event(event, job_id=getattr(job, "id", None) or None)
        roles = self._roles_for(forge)
        heads = JobHeads(ClonedHeads(forge, self.settings.clones_dir))
        return Services(
            forge=forge,
            runs=self.runs,
            repo=ForgeRepoReader(forge, self.settings.clones_dir, heads, self.commit_files),
            config=ForgeConfigSource(forge, self.config_cache, heads),
            roles=roles.runner,
            context=roles.context,
            actions=ExecutorSink(executor, ctx),
            clock=self.clock,
            heartbeat=job.heartbeat or _no_lease,
            bot_login=self._login_for(forge),
            feedback=self.feedback,
            limits=self.limits,
            audit=ShellAuditTrail(self.audit, forge.name) if self.audit is not None else None,
            # A light job hands role runs to the heavy queue (bot.jobs.followups).
            continuations=RecordedContinuations() if getattr(job, "queue", "") == LIGHT else None,
            jobs=self.jobs,
        )

    def _roles_for(self, forge: Forge) -> LazyRoles:
        with self._lock:
            if forge.name not in self._roles:
                self._roles[forge.name] = LazyRoles(self.roles, forge)
            return self._roles[forge.name]

    def _login_for(self, forge: Forge) -> str:
        if self.settings.bot_login:
            return self.settings.bot_login
        with self._lock:
            found = self._logins.get(forge.name)
        if found is None:
            found = forge.whoami().login  # outside the lock: a network call
            with self._lock:
                self._logins[forge.name] = found
        return found


def build_services(
    settings: Any,
    db: Database,
    *,
    executor_factory: ExecutorFactory | None = None,
    roles: RolesWiring | None = None,
    clock: Callable[[], datetime] = utc_now,
    audit: AuditLog | None = None,
) -> ServicesBuilder:
    """The services factory for a server or runner on the records ``db``.

    Args:
        settings: Process settings (forge credentials, clones and index dirs, bot login).
        db: The records database (the writer) for the run store and usage ledger.
        executor_factory: The executor factory the end-of-job actions use too (so both
            share forge adapters, judge and audit log); built from ``settings`` with
            no audit when not given.
        roles: Builds the role runner and discussion index for a forge
            (:func:`wire_roles` by default).
        clock: UTC now.
        audit: The audit log for run state changes, commands, refusals and model calls
            (the executor's own rows need it in ``executor_factory``); none if None.
    """
    return ServicesBuilder(
        settings,
        db,
        executor_factory or executor_factory_from_settings(settings, runs=DuckDBRunStore(db)),
        roles or wire_roles(settings, db, audit),
        clock,
        audit,
    )


def build_dispatcher(
    settings: Any, db: Database, *, raise_retryable: bool = True, judge: Any = None
) -> Any:
    """Handlers with services, then the executor: the server's and runner's default.

    Without forge credentials it still works: the services factory and the executor
    say so in the job's result, and nothing is written.

    Args:
        settings: Process settings.
        db: The records database (run store, usage ledger, audit log).
        raise_retryable: See :class:`bot.executor.ExecutingDispatcher`.
        judge: The policy judge for every action (everything allowed if None).
    """
    from bot.executor import ExecutingDispatcher
    from bot.jobs.dispatch import InProcessDispatcher

    audit = AuditLog(db)
    factory = executor_factory_from_settings(
        settings, audit=audit, judge=judge, runs=DuckDBRunStore(db)
    )
    services = build_services(settings, db, executor_factory=factory, audit=audit)
    return ExecutingDispatcher(
        InProcessDispatcher(services=services), factory, raise_retryable=raise_retryable
    )
