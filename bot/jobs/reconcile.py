"""The reconcile sweep as a job: a synthetic event the bot enqueues for itself.

While the bot is down, webhooks are lost (forges do not redeliver on their own) and a
run can be left ``running`` by a job that died with its process. The sweep repairs
both, one repository at a time, in the workflow's handler for
:attr:`bot.events.EventKind.RECONCILE` (:mod:`handlers.workflow.reconcile`):
commands written during the downtime are acted on once, red pipelines and unanswered
reviews are picked up, and stuck runs are failed by the watchdog.

- ``agentforge serve`` runs a :class:`ReconcileScheduler` thread: it enqueues one
  sweep job per repository when the server starts and every
  ``AGENTFORGE_RECONCILE_MINUTES`` (default 15; 0 turns it off). The repositories are
  those the bot has runs for (the records) plus the exact names in the allowlist.
- In CI, ``agentforge reconcile`` runs one sweep of the job's repository (a GitHub
  Actions ``schedule`` trigger or a GitLab pipeline schedule).

The job's event name is :data:`RECONCILE_EVENT`; the webhook server refuses it (only
the bot makes these).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.errors import PayloadError
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef
from bot.jobs.queue_types import Delivery
from bot.logs import get_logger

RECONCILE_EVENT = "agentforge/reconcile"
"""The event name of sweep jobs."""
SWEEPER = "agentforge-reconcile"
"""The actor of sweep events (a bot: it never counts as a person)."""

log = get_logger(__name__)


def payload(
    forge: str,
    repo: str,
    at: datetime,
    *,
    default_branch: str | None = None,
    actor: str | None = None,
) -> bytes:
    """The body of a sweep job for ``repo`` at ``at``.

    ``actor`` is the bot's own login when known: the sweep's writes are the bot's own
    (the judge counts the bot's events as its token's rights), while the commands it
    replays were each checked against their author by the workflow.
    """
    return json.dumps(
        {
            "forge": forge,
            "repo": repo,
            "default_branch": default_branch,
            "at": at.isoformat(),
            "actor": actor,
        }
    ).encode()


def parse_reconcile(forge: str, data: dict[str, Any], delivery_id: str | None) -> Event:
    """The :class:`Event` of a sweep job's body.

    Raises:
        PayloadError: the body names no repository.
    """
    repo = data.get("repo")
    if not isinstance(repo, str) or not repo.strip():
        raise PayloadError(f"a {RECONCILE_EVENT} job needs 'repo' (the repository's full name)")
    at = data.get("at") if isinstance(data.get("at"), str) else None
    return Event(
        forge=ForgeKind(forge),
        kind=EventKind.RECONCILE,
        action="sweep",
        event_name=RECONCILE_EVENT,
        delivery_id=delivery_id,
        repo=RepoRef(full_name=repo.strip(), default_branch=data.get("default_branch") or None),
        actor=Actor(login=str(data.get("actor") or SWEEPER), is_bot=True),
        object_id=f"reconcile:{repo}",
        updated_at=at,
        raw=data,
    )


def delivery(forge: str, repo: str, at: datetime, *, actor: str | None = None) -> Delivery:
    """A queue delivery for one sweep of ``repo`` (one per repository and minute)."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M")
    body = payload(forge, repo, at, actor=actor)
    from bot.jobs.priorities import classify

    event = parse_reconcile(forge, json.loads(body), None)
    placement = classify(event)  # last in the heavy lane
    return Delivery(
        forge=forge,
        delivery_id=f"reconcile:{repo}:{stamp}",
        event_name=RECONCILE_EVENT,
        payload=body,
        content_key=f"reconcile:{forge}:{repo}:{stamp}",
        subject=f"{forge}:{repo}:reconcile",
        repo=repo,
        kind=event.kind.value,
        action=event.action,
        queue=placement.queue,
        priority=placement.priority,
    )


def known_repos(db: Any, allowlist: list[str], forges: list[str]) -> list[tuple[str, str]]:
    """(forge, repo) pairs to sweep: repositories with runs, plus exact allowlist names."""
    found: dict[tuple[str, str], None] = {}
    for forge, repo in db.fetchall("SELECT DISTINCT forge, repo FROM runs ORDER BY 1, 2"):
        if forge in forges:
            found[(forge, repo)] = None
    for entry in allowlist:
        if any(ch in entry for ch in "*?["):
            continue  # a glob names no repository to sweep
        for forge in forges:
            found[(forge, entry)] = None
    return list(found)


class ReconcileScheduler:
    """A thread that enqueues sweep jobs at start and every ``interval`` seconds.

    Args:
        enqueue: Puts one delivery on the queue (``JobQueue.enqueue``).
        repos: The (forge, repo) pairs to sweep now.
        interval: Seconds between sweeps.
        clock: The current time.
        actor: The bot's own login (the sweep acts as the bot).
    """

    def __init__(
        self,
        enqueue: Callable[[Delivery], Any],
        repos: Callable[[], list[tuple[str, str]]],
        *,
        interval: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        actor: str | None = None,
    ) -> None:
        self.actor = actor
        self.enqueue = enqueue
        self.repos = repos
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Enqueue one sweep per repository now; returns how many were enqueued."""
        at = self.clock()
        count = 0
        for forge, repo in self.repos():
            self.enqueue(delivery(forge, repo, at, actor=self.actor))
            count += 1
        return count

    def _loop(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # the scheduler's boundary: log, try again next time
                log.exception("enqueueing reconcile sweeps failed")
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        """Start the thread (the first sweep is enqueued at once)."""
        self._thread = threading.Thread(target=self._loop, name="reconcile", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
