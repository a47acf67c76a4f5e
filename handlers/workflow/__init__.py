"""The workflow engine: from an issue to a reviewed, ready merge request.

An issue labelled ``agentforge`` (``trigger.label`` in ``.agentforge/config.yaml``) or a
comment ``/agentforge start`` starts a run. Each phase of ``.agentforge/workflow.yaml``
runs its role, commits to the branch ``agentforge/issue-<N>`` and updates one draft MR
and one live status comment; its gate (``human``, ``mr_approval``, ``tests``, ``auto``,
or a list of them) decides when the next phase starts. After the last gate the MR is
marked ready and a person merges it. See ``docs/workflow.md``.

Modules: :mod:`.state` (the run's state and its marker), :mod:`.engine` (the state
machine), :mod:`.gates`, :mod:`.approvals`, :mod:`.approvers`, :mod:`.status` (the
status comment), :mod:`.mr` (the MR description), :mod:`.work` (role task and push),
:mod:`.reconstruct` (state from the forge alone), :mod:`.job` (one event's view),
:mod:`.commands_table` (the slash commands), :mod:`.listen` (the handlers),
:mod:`.talk` (reject, retry, status, cancel, help), :mod:`.rounds` (their state
changes), :mod:`.fixups` and :mod:`.review_batch` (review and pipeline fix-ups),
:mod:`.lessons` (recurring feedback), :mod:`.reconcile` (sweep and watchdog).
"""

from __future__ import annotations

from bot.events import EventKind
from handlers.registry import HandlerRegistry


def register(registry: HandlerRegistry) -> None:
    """Register the workflow's handlers in ``registry`` (idempotent)."""
    from handlers.workflow import continuation, listen, reconcile

    registry.register(EventKind.ISSUE, listen.on_issue)
    registry.register(EventKind.ISSUE_COMMENT, listen.on_comment)
    registry.register(EventKind.MR_COMMENT, listen.on_comment)
    registry.register(EventKind.MR, listen.on_mr)
    registry.register(EventKind.MR_REVIEW, listen.on_review)
    registry.register(EventKind.PIPELINE, listen.on_pipeline)
    registry.register(EventKind.PUSH, listen.on_push)
    registry.register(EventKind.RECONCILE, reconcile.on_reconcile)
    registry.register(EventKind.CONTINUE, continuation.on_continue)
