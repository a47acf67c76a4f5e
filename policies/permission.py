"""Who the bot acts for: changes to code need an actor with enough permission.

A push, a new or changed merge request and taking one out of draft are done on behalf
of the event's actor; they need ``policies.min_permission`` (default ``triage``) on the
repository. Comments, reactions, labels and commit statuses are the bot's replies and
its visible state, so they are not gated here (the workflow decides whom it answers).

Fail closed: when the permission or the config could not be read, the code-changing
actions are denied with the reason, and the replies still go out so people learn why.

A CI result (a pipeline, check or status event) is no one asking for anything: its
sender is the CI account (``github-actions[bot]`` is no collaborator). What such an event
lets the workflow do next was decided by the run's gates, which only approvers pass, so
the sender's permission is not what gates it here.
"""

from __future__ import annotations

from bot.actions import Action, MarkReady, OpenMR, ProposeLesson, PushCommit, UpdateMR
from bot.forge import Permission
from policies.snapshot import Snapshot
from policies.verdict import Verdict

NAME = "actor_permission"
GATED = (PushCommit, OpenMR, UpdateMR, MarkReady, ProposeLesson)
"""Actions done on the actor's behalf that change code or a merge request."""

CI_RESULT_KINDS = frozenset({"pipeline"})
"""Event kinds that report CI results rather than ask for work (see the module doc)."""


def actor_permission(action: Action, snap: Snapshot) -> Verdict:
    """Deny a code-changing action when the actor lacks the configured permission."""
    if not isinstance(action, GATED):
        return Verdict.skip(policy=NAME)
    if snap.event_kind in CI_RESULT_KINDS and not snap.problems:
        return Verdict.allow(
            f"a CI result from {snap.actor} continues the run its approvers moved on", NAME
        )
    if snap.problems:
        return Verdict.deny("cannot judge this change safely: " + "; ".join(snap.problems), NAME)
    if snap.config is None or snap.permission is None:
        return Verdict.deny(f"the permission of {snap.actor} is unknown", NAME)
    needed = Permission[snap.config.policies.min_permission.value.upper()]
    if snap.permission >= needed:
        return Verdict.allow(f"{snap.actor} has {snap.permission.name.lower()} permission", NAME)
    return Verdict.deny(
        f"{snap.actor} has {snap.permission.name.lower()} permission; changing code "
        f"needs at least {needed.name.lower()} (policies.min_permission)",
        NAME,
    )
