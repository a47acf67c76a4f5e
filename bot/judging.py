"""The shell half of judging: gather a snapshot per event, then ask the pure policies.

:func:`judge_factory` returns ``factory(event, forge) -> Judge`` for
:func:`bot.executor.executor_factory_from_settings`. The judge it builds for an event
gathers the facts on its first call (events whose handlers propose nothing cost no
look-ups) and reuses them for the event's other actions:

- the actor's permission: ``forge.get_permission(repo, actor)``, asked when the job
  runs, not when it was queued (the bot's own events count as ``write``: its token's
  rights are what the forge enforces). A failed lookup is not an exception: it becomes a
  :attr:`policies.snapshot.Snapshot.problems` entry, and the policies deny what it
  would have allowed (fail closed) and say why;
- the repository config at the default branch's head (``load_config``; by default
  read from the cached clone, see :mod:`bot.judging_git`);
- for each :class:`bot.actions.PushCommit`: the diff against the tree it builds on
  (added lines per file, symbolic links on the way) — read just before it is judged.

The workflow engine can add the run's phase, role and approvals with ``context``; the
server and runner pass ``action_context`` (:func:`bot.judging_runs.run_facts`), which
reads them from the run store for each push, fresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.actions import Action, PushCommit
from bot.config_cache import ConfigCache
from bot.errors import ConfigError, ForgeError, WorkspaceError
from bot.events import Event, EventKind
from bot.forge import Forge, Permission
from bot.judging_git import BaseFiles, GitFacts
from bot.repoconfig import AgentForgeConfig
from policies.judge import DEFAULT_POLICIES, Policy, judge_action
from policies.snapshot import ChangedFile, Snapshot, diff_of_changes
from policies.verdict import Judge, Verdict

ConfigLoader = Callable[[str, str | None], AgentForgeConfig]
"""``load(repo, default_branch) -> config`` (:class:`handlers.services.ConfigSource`'s
``load`` fits)."""
BaseReader = Callable[[PushCommit], BaseFiles]
"""``read(push) -> BaseFiles``: the tree a push builds on, for the paths it changes."""
ContextFn = Callable[[Event], dict[str, Any]]
"""``context(event) -> {"phase": ..., "role": ..., "approvals": ...}`` from the run."""
ActionContextFn = Callable[[Event, Action], dict[str, Any]]
"""``facts(event, action) -> {"phase", "role", "approvals"}``, asked afresh for every
PushCommit (:func:`bot.judging_runs.run_facts` reads them from the run store)."""
JudgeFactory = Callable[[Event, Forge], Judge]
"""``factory(event, forge) -> Judge`` for one event on its forge's adapter."""


def gather_snapshot(
    event: Event,
    forge: Forge,
    *,
    load_config: ConfigLoader,
    bot_login: str | None = None,
    context: ContextFn | None = None,
) -> Snapshot:
    """The facts for judging ``event``'s actions; failures are kept as problems."""
    repo, actor = event.repo.full_name, event.actor.login
    problems: list[str] = []
    permission = None
    own = bool(bot_login) and actor.lower() == str(bot_login).lower()
    if own or event.kind is EventKind.RECONCILE:
        # The bot's own events (a pipeline on its push, its reconcile sweep, whose actor
        # is the bot's login only when AGENTFORGE_BOT_LOGIN is set; the webhook server
        # refuses sweep events): an App's login is not a collaborator to look up, and
        # its token's rights are what the forge enforces.
        permission = Permission.WRITE
    else:
        try:
            permission = forge.get_permission(repo, actor)
        except ForgeError as exc:
            problems.append(f"looking up the permission of {actor} on {repo} failed: {exc}")
    config = None
    branch = event.repo.default_branch
    try:
        config = load_config(repo, branch).config
    except ConfigError as exc:
        problems.append(f"the AgentForge config of {repo} at {branch or 'HEAD'} is invalid: {exc}")
    except (ForgeError, WorkspaceError) as exc:
        problems.append(f"reading the AgentForge config of {repo} failed: {exc}")
    extra = dict(context(event)) if context is not None else {}
    snap = Snapshot(
        actor=actor,
        permission=permission,
        is_bot=event.actor.is_bot,
        config=config,
        event_kind=event.kind.value,
        bot_login=bot_login,
        phase=extra.get("phase"),
        role=extra.get("role"),
        approvals=frozenset(extra.get("approvals") or ()),
        problems=tuple(problems),
    )
    return snap


def diff_for(
    action: PushCommit, read_base: BaseReader | None
) -> tuple[tuple[ChangedFile, ...], str | None]:
    """The diff of ``action`` against its base, and a problem sentence if unreadable.

    Without a readable base, every line of the new content counts as added (the scan
    sees everything) and the problem is reported, so the push is not applied blind.
    """
    if read_base is None:
        return diff_of_changes(action.changes), None
    try:
        base = read_base(action)
    except (ForgeError, WorkspaceError) as exc:
        return diff_of_changes(action.changes), f"reading the base of the push failed: {exc}"
    files = diff_of_changes(action.changes, base.texts)
    return tuple(replace(f, symlink=base.symlinks.get(f.path)) for f in files), None


class EventJudge:
    """The judge of one event's actions (see the module docstring).

    Args:
        event: The event whose actions are judged.
        forge: Its forge's adapter (for the permission look-up).
        load_config: Reads the config at the default branch.
        read_base: Reads a push's base tree (None: judge the new content alone).
        bot_login: The bot's own login.
        context: The run's phase, role and approvals for the event (engine-provided).
        action_context: Facts for each PushCommit, asked when it is judged (so an
            approval recorded earlier in the same job counts).
        policies: The policies to ask.
    """

    def __init__(
        self,
        event: Event,
        forge: Forge,
        *,
        load_config: ConfigLoader,
        read_base: BaseReader | None = None,
        bot_login: str | None = None,
        context: ContextFn | None = None,
        action_context: ActionContextFn | None = None,
        policies: Sequence[Policy] = DEFAULT_POLICIES,
    ) -> None:
        self.action_context = action_context
        self.event = event
        self.forge = forge
        self.load_config = load_config
        self.read_base = read_base
        self.bot_login = bot_login
        self.context = context
        self.policies = tuple(policies)
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        """The event's snapshot, gathered once."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = gather_snapshot(
                    self.event,
                    self.forge,
                    load_config=self.load_config,
                    bot_login=self.bot_login,
                    context=self.context,
                )
            return self._snapshot

    def __call__(self, action: Action) -> Verdict:
        """The combined verdict of the policies on ``action``."""
        snap = self.snapshot()
        if isinstance(action, PushCommit):
            diff, problem = diff_for(action, self.read_base)
            problems = (*snap.problems, problem) if problem else snap.problems
            snap = replace(snap, diff=diff, problems=problems)
            if self.action_context is not None:
                snap = _with_facts(snap, self.action_context(self.event, action))
        return judge_action(action, snap, self.policies)


def _with_facts(snap: Snapshot, facts: dict[str, Any]) -> Snapshot:
    """``snap`` with the run's facts for one push (approvals add to the event's)."""
    changes: dict[str, Any] = {}
    if facts.get("phase"):
        changes["phase"] = facts["phase"]
    if facts.get("role"):
        changes["role"] = facts["role"]
    if facts.get("approvals"):
        changes["approvals"] = snap.approvals | frozenset(facts["approvals"])
    return replace(snap, **changes) if changes else snap


def judge_factory(
    clones_dir: Path,
    *,
    bot_login: str | None = None,
    load_config: Callable[[Forge], ConfigLoader] | None = None,
    context: ContextFn | None = None,
    action_context: ActionContextFn | None = None,
    policies: Sequence[Policy] = DEFAULT_POLICIES,
) -> JudgeFactory:
    """The production judge factory: facts from the forge and the cached clones.

    Args:
        clones_dir: The executor's clone cache (config and push bases are read there).
        bot_login: The bot's own login.
        load_config: ``make(forge) -> loader``; default: :meth:`GitFacts.load_config`.
        context: The run's phase, role and approvals per event (the engine's).
        action_context: The run's facts per push (:func:`bot.judging_runs.run_facts`).
        policies: The policies to ask.
    """

    configs = ConfigCache()  # validated configs, shared by every event's judge

    def factory(event: Event, forge: Forge) -> Judge:
        facts = GitFacts(forge, clones_dir, configs)
        loader = load_config(forge) if load_config is not None else facts.load_config
        return EventJudge(
            event,
            forge,
            load_config=loader,
            read_base=facts.read_base,
            bot_login=bot_login,
            context=context,
            action_context=action_context,
            policies=policies,
        )

    return factory
