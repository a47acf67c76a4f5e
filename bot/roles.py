"""The shell's :class:`~agents.roles.contract.RoleRunner`: a role run on a role checkout.

:class:`ShellRoleRunner` fetches the repository's cached clone, takes a persistent role
checkout of it (a git worktree, :mod:`bot.role_checkouts`) reset to the run's ref (or
the task's base when the ref does not exist yet), indexes it and the run's discussion
for search, builds the role's change set, sandbox, git view, searches and routed model,
and runs the role (:func:`agents.roles.runner.run_role`). The checkout is only read;
what the role wrote comes back as the result's change set, for the executor to commit.

:func:`prepare_role` does the part shared with ``agentforge role run`` (which runs on a
checkout the user already has): spec, change set, tools, model.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.budget import CallContext
from agents.roles.contract import ProgressCallback, RoleResult, RoleTask, RoleUsage
from agents.roles.meter import UsageMeter
from agents.roles.runner import RoleLimits, run_role
from agents.roles.specs import protected_for, resolve_spec, spec_source
from agents.routing import RoutedModel
from agents.usage import UsageLedger
from bot.errors import NoProviderConfigured, PrivacyViolation, StoreLocked, WorkspaceError
from bot.executor import _clone_lock, cached_workspaces
from bot.forge import Forge
from bot.repoconfig import AgentForgeConfig, RoleSpec
from bot.repoconfig.schema import IndexConfig
from bot.role_checkouts import RoleCheckouts
from bot.workspace import Workspace, cache_path
from policies.privacy import classify

log = logging.getLogger(__name__)


@dataclass
class PreparedRole:
    """Everything a role run needs, built for one checkout.

    Attributes:
        spec: The resolved role.
        source: The role file it came from.
        tools_env: The tools' environment (change set, sandbox, git view, searches).
        model: The routed model.
        meter: The usage meter the model records through.
        context: The rendered context pack.
    """

    spec: RoleSpec
    source: str
    tools_env: Any
    model: RoutedModel
    meter: UsageMeter
    context: str


def no_model_problem(model: RoutedModel) -> str | None:
    """Why the role has no usable model route (the setting to add), or None."""
    try:
        model.usable_routes(0)
    except (NoProviderConfigured, PrivacyViolation) as exc:
        return str(exc)
    return None


def failed(task: RoleTask, error: str) -> RoleResult:
    """A failed result that did no work."""
    return RoleResult(role=task.role, status="failed", error=error, usage=RoleUsage())


def prepare_role(
    task: RoleTask,
    *,
    config: AgentForgeConfig,
    checkout: Path,
    ledger: UsageLedger,
    env: Mapping[str, str] | None = None,
    retriever: Any = None,
    limits: RoleLimits | None = None,
) -> PreparedRole:
    """Build the role's spec, change set, tools and model on ``checkout``.

    Args:
        task: The work.
        config: The repository's config (from the default branch).
        checkout: A git checkout the role reads (never written).
        ledger: Where model usage is recorded.
        env: Where provider keys are read (the process environment by default).
        retriever: A :class:`bot.context.retrieval.Retriever` for searches and the
            context pack (None: no search, no pack).
        limits: Run limits (the context pack's budget).

    Raises:
        RepoConfigError: Unknown role.
    """
    from agents.roles.changes import ChangeSet
    from agents.roles.sandbox import Sandbox, SandboxLimits
    from agents.roles.tools import ToolEnv
    from bot.roles_context import IndexSearch, context_pack
    from bot.roles_git import CheckoutGitView

    limits = limits or RoleLimits()
    spec = resolve_spec(task.role, config)
    changes = ChangeSet(
        checkout, writes=list(spec.writes), protected=protected_for(task.role, config)
    )
    tools_env = ToolEnv(
        checkout,
        changes,
        Sandbox(SandboxLimits()),
        git=CheckoutGitView(checkout, changes),
        code_search=IndexSearch(retriever) if retriever is not None else None,
        discussions=IndexSearch(retriever, discussions=True) if retriever is not None else None,
        questions=[],
    )
    meter = UsageMeter(ledger)
    issue = task.issue
    model = RoutedModel(
        # The spec may route the role through another key of models.routes.
        role=spec.model or task.role,
        models=config.config.models,
        prices=config.config.prices,
        budgets=config.config.budgets,
        ledger=meter,
        context=CallContext(
            run_id=task.run_id,
            phase=task.phase,
            role=task.role,
            repo=task.repo,
            issue_number=issue.number if issue else None,
        ),
        sensitivity=classify(
            config.config.privacy,
            repo=task.repo,
            labels=issue.labels if issue else (),
            paths=[*task.outputs, *task.artifacts],
        ),
        env=env,
    )
    query = f"{issue.title}\n{issue.body}" if issue else task.task
    context = context_pack(retriever, query, limits.context_tokens) if retriever else ""
    return PreparedRole(spec, spec_source(task.role, config), tools_env, model, meter, context)


class ShellRoleRunner:
    """Runs roles on role checkouts of the forge's repositories.

    Args:
        forge: The forge the repositories live on (for clone URLs).
        clones_dir: Cache of clones (shared with the executor).
        ledger: Where model usage is recorded.
        index_dir: Index root for search (None: a throwaway index per run).
        env: Where provider keys are read (``os.environ`` by default).
        limits: Step, time and context limits of every run.
    """

    def __init__(
        self,
        *,
        forge: Forge,
        clones_dir: Path,
        ledger: UsageLedger,
        index_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        limits: RoleLimits | None = None,
    ) -> None:
        self.forge = forge
        self.clones_dir = Path(clones_dir)
        self.ledger = ledger
        self.index_dir = index_dir
        self.env = os.environ if env is None else env
        self.limits = limits or RoleLimits()
        self._open = cached_workspaces(forge, self.clones_dir)
        self._checkouts = RoleCheckouts(self.clones_dir, forge.name)

    def run(
        self,
        task: RoleTask,
        *,
        config: AgentForgeConfig,
        ref: str,
        progress: ProgressCallback | None = None,
    ) -> RoleResult:
        """Run the role on ``ref`` (or ``task.base_ref`` when ``ref`` does not exist yet).

        Raises:
            RepoConfigError: Unknown role, bad template or unknown tool.
            WorkspaceError: The repository cannot be cloned or the ref checked out.
        """
        with ExitStack() as stack:
            scratch = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="agentforge-role-"))
            )
            checkout = stack.enter_context(self._checkout(task, ref))
            retriever = self._retriever(task, config, checkout, scratch / "index")
            prepared = prepare_role(
                task,
                config=config,
                checkout=checkout,
                ledger=self.ledger,
                env=self.env,
                retriever=retriever,
                limits=self.limits,
            )
            problem = no_model_problem(prepared.model)
            if problem is not None:
                return failed(task, problem)
            extra = stack.enter_context(_mcp_tools(config, task.role, checkout))
            return run_role(
                task,
                prepared.spec,
                model=prepared.model,
                tools_env=prepared.tools_env,
                limits=self.limits,
                progress=progress,
                context=prepared.context,
                meter=prepared.meter,
                extra_tools=extra,
                source=prepared.source,
            )

    @contextmanager
    def _checkout(self, task: RoleTask, ref: str) -> Iterator[Path]:
        """A persistent role checkout (:mod:`bot.role_checkouts`) at ``ref``'s head.

        ``ref`` is the run's branch on the forge, else a commit, else the task's base.
        """
        cache = cache_path(self.clones_dir, self.forge.name, task.repo)
        with ExitStack() as held:
            with _clone_lock(cache):
                ws = self._open(task.repo)  # clones once, then fetches
                commit = _start_commit(ws, ref, task.base_ref)
                # Entered under the clone's lock (a new slot writes to the clone's .git);
                # the slot stays held for the whole run, the clone's lock does not.
                path = held.enter_context(self._checkouts.checkout(ws.path, task.repo, commit))
            yield path

    def _retriever(
        self, task: RoleTask, config: AgentForgeConfig, checkout: Path, scratch_index: Path
    ) -> Any:
        from bot.context import index_location

        directory = (
            index_location(self.index_dir, self.forge.name, task.repo)
            if self.index_dir is not None
            else scratch_index
        )
        return build_retriever(task, checkout, directory, selection=config.config.index)


def build_retriever(
    task: RoleTask, checkout: Path, directory: Path, *, selection: IndexConfig | None = None
) -> Any:
    """A retriever over ``directory``'s index, brought to ``checkout``'s HEAD, with the
    task's issue and discussion indexed (for ``search_discussions``).

    ``selection`` is the repository's ``index`` config: which files the index holds.
    """
    from bot.context.retrieval import Retriever
    from bot.roles_context import record, update_index

    index = update_index(directory, task.repo, checkout, selection=selection)
    if task.issue is not None:
        try:
            record(
                directory,
                task.repo,
                number=task.issue.number,
                kind="issue",
                title=task.issue.title,
                body=task.issue.body,
                comments=[(c.author, c.body) for c in task.discussion],
            )
        except StoreLocked:
            log.warning("index %s is locked; the discussion is not indexed now", directory)
    return Retriever(index)


def _start_commit(ws: Workspace, ref: str, base: str) -> str:
    """The commit a role run starts from: ``origin/<ref>``, else ``ref`` as a commit,
    else ``origin/<base>`` (or ``base``).

    Raises:
        WorkspaceError: none of them exists.
    """
    for rev in (f"refs/remotes/origin/{ref}", ref, f"refs/remotes/origin/{base}", base):
        try:
            return ws.commit_info(rev).sha
        except WorkspaceError:
            continue
    raise WorkspaceError(f"starting a role run: neither {ref!r} nor {base!r} exists in {ws.path}")


@contextmanager
def _mcp_tools(config: AgentForgeConfig, role: str, checkout: Path) -> Iterator[list]:
    """The MCP tools allowlisted for ``role`` (servers stopped on exit)."""
    from agents.roles.mcp import mcp_tools

    with mcp_tools(config.config, role, cwd=checkout) as tools:
        yield list(tools)
