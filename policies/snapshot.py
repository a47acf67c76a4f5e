"""What a judge knows besides the action: a read-only snapshot gathered by the shell.

The shell (:mod:`bot.judging`) reads the facts once per event (the actor's permission,
the repository config at the default branch) and, for a :class:`bot.actions.PushCommit`,
the diff against the branch the push builds on. Policies are pure functions of
``(action, snapshot)``: they never call out, so each is tested with a table of values.

A fact the shell could not read is None and the reason is in :attr:`Snapshot.problems`;
policies treat a missing fact as a refusal (fail closed), never as "allowed".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bot.actions import Action, FileChange, PushCommit
from bot.forge import Permission
from bot.repoconfig import RepoConfig

TRAILER_PHASE = "Agentforge-Phase"
TRAILER_ROLE = "Agentforge-Role"
"""Trailers the workflow engine puts on a phase's commits; a PushCommit's phase and role
are read from them when the snapshot has none (the engine sets them, models cannot)."""


@dataclass(frozen=True)
class ChangedFile:
    """One file a push changes, as the judge sees it.

    Attributes:
        path: The path as proposed (not normalized: the policy checks it).
        added: ``(line number in the new file, text)`` of every added line.
        deleted: Whether the push deletes the file.
        symlink: The part of ``path`` that is a symbolic link (or a submodule) in the
            tree the push builds on, or None.
    """

    path: str
    added: tuple[tuple[int, str], ...] = ()
    deleted: bool = False
    symlink: str | None = None


def diff_of_changes(
    changes: Iterable[FileChange], before: dict[str, str | None] | None = None
) -> tuple[ChangedFile, ...]:
    """The changed files of ``changes`` against the old texts in ``before``.

    A path missing from ``before`` (or ``before`` None) counts as a new file, so every
    line of its content is "added": without the old text the judge scans everything.
    """
    import difflib

    before = before or {}
    out: list[ChangedFile] = []
    for change in changes:
        if change.content is None:
            out.append(ChangedFile(change.path, (), deleted=True))
            continue
        new_lines = change.content.splitlines()
        old = before.get(change.path)
        if old is None:
            added = tuple((i + 1, line) for i, line in enumerate(new_lines))
        else:
            matcher = difflib.SequenceMatcher(None, old.splitlines(), new_lines, autojunk=False)
            added = tuple(
                (j + 1, new_lines[j])
                for tag, _i1, _i2, j1, j2 in matcher.get_opcodes()
                if tag in ("replace", "insert")
                for j in range(j1, j2)
            )
        out.append(ChangedFile(change.path, added))
    return tuple(out)


@dataclass(frozen=True)
class Snapshot:
    """The facts one event's actions are judged against.

    Attributes:
        actor: Login of the event's sender (from the verified payload, never from text).
        permission: The actor's permission on the repository; None when the lookup
            failed (the reason is in ``problems``).
        is_bot: Whether the actor is a bot account.
        config: ``.agentforge/config.yaml`` read at the default branch's head; None when
            it could not be read or is invalid (see ``problems``).
        event_kind: The event's kind (``issue_comment``, ``merge_request``...).
        bot_login: The bot's own login on this forge, if known.
        phase: The run's current phase (None outside a run).
        role: The role whose work is being applied (None outside a run).
        diff: For a PushCommit: the files it changes (see :class:`ChangedFile`).
        approvals: Logins who approved the pending changes of this phase (the workflow
            engine fills it, so an infrastructure approver's ``/approve`` releases a
            change that needs one).
        problems: Facts the shell could not gather, each a sentence naming what and why.
    """

    actor: str
    permission: Permission | None
    is_bot: bool = False
    config: RepoConfig | None = field(default_factory=RepoConfig)
    event_kind: str = ""
    bot_login: str | None = None
    phase: str | None = None
    role: str | None = None
    diff: tuple[ChangedFile, ...] = ()
    approvals: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()

    @property
    def infra_approvers(self) -> tuple[str, ...]:
        """The ``approvers.infra`` logins of the config (empty when it is unknown)."""
        return tuple(self.config.approvers.infra) if self.config is not None else ()

    @property
    def actor_is_bot_itself(self) -> bool:
        """Whether the event was the bot's own (its login, case-insensitive)."""
        return bool(self.bot_login) and self.actor.lower() == str(self.bot_login).lower()

    def for_action(self, action: Action) -> Snapshot:
        """This snapshot with a PushCommit's phase and role filled from its trailers.

        Values the shell set win; without a diff from the shell, the push's own
        content is the diff (every line counts as added).
        """
        if not isinstance(action, PushCommit):
            return self
        changes: dict[str, object] = {}
        if self.phase is None and action.trailers.get(TRAILER_PHASE):
            changes["phase"] = action.trailers[TRAILER_PHASE]
        if self.role is None and action.trailers.get(TRAILER_ROLE):
            changes["role"] = action.trailers[TRAILER_ROLE]
        if not self.diff and action.changes:
            changes["diff"] = diff_of_changes(action.changes)
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]
