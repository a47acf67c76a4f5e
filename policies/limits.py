"""Rate limits and trust for starting runs, and the refusal-reply throttle.

Pure functions over what the shell gathered (timestamps from the limit ledger, the
starter's permission, the ``limits:`` and ``trust:`` config): no I/O here.

- :func:`may_start`: a new run is refused when its repository or its starter already
  started ``runs_per_repo`` / ``runs_per_actor`` runs in the last ``window_minutes``;
  the answer says which limit and when the oldest counted start leaves the window.
- :func:`trusted`: a starter below ``trust.min_permission`` (or whose permission could
  not be read) is not trusted unless they are an approver.
- :func:`refusal_window_start`: since when an earlier refusal reply silences a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.forge import Permission
from bot.repoconfig.abuse import LimitsConfig, TrustConfig


@dataclass(frozen=True)
class StartDecision:
    """Whether a new run may start.

    Attributes:
        ok: True when no limit is reached.
        scope: ``repo`` or ``actor``: the limit that was reached (empty when ok).
        limit: That limit's number of runs.
        window: The window it counts in.
        retry_at: When a start is possible again (the oldest counted start plus the
            window); None when ok.
    """

    ok: bool
    scope: str = ""
    limit: int = 0
    window: timedelta = timedelta(0)
    retry_at: datetime | None = None


def window_start(limits: LimitsConfig, now: datetime) -> datetime:
    """The oldest start time that still counts against the limits."""
    return now - timedelta(minutes=limits.window_minutes)


def may_start(
    repo_starts: Sequence[datetime],
    actor_starts: Sequence[datetime],
    limits: LimitsConfig,
    now: datetime,
) -> StartDecision:
    """Whether a new run may start now (see the module docstring).

    Args:
        repo_starts: When runs started in the repository (any order; older ones than
            the window are ignored).
        actor_starts: When runs started by this starter in the repository.
        limits: The ``limits:`` section.
        now: The current time (aware).
    """
    window = timedelta(minutes=limits.window_minutes)
    since = now - window
    for scope, limit, times in (
        ("actor", limits.runs_per_actor, actor_starts),
        ("repo", limits.runs_per_repo, repo_starts),
    ):
        counted = sorted(t for t in times if t >= since)
        if limit and len(counted) >= limit:
            # The start that frees a slot: the (len - limit + 1)-th oldest one.
            freeing = counted[len(counted) - limit]
            return StartDecision(False, scope, limit, window, freeing + window)
    return StartDecision(True)


def trusted(permission: Permission | None, *, approver: bool, trust: TrustConfig) -> bool:
    """Whether a starter may start a run without ``/agentforge ok-to-run``.

    Args:
        permission: The starter's permission (None: the lookup failed, not trusted).
        approver: Whether the starter is an approver (approvers are always trusted).
        trust: The ``trust:`` section.
    """
    if approver:
        return True
    if permission is None:
        return False
    return permission >= Permission[trust.min_permission.value.upper()]


def refusal_window_start(limits: LimitsConfig, now: datetime) -> datetime | None:
    """Since when an earlier reply to the same actor on the same issue or MR silences a
    new refusal reply; None when every refusal is answered (``refusal_reply_minutes: 0``)."""
    if limits.refusal_reply_minutes == 0:
        return None
    return now - timedelta(minutes=limits.refusal_reply_minutes)
