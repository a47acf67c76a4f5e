"""What the jobs side runs on an open writer database: the feeder, the workers, the sweep.

:class:`JobsRuntime` is the body of the jobs process (:mod:`bot.jobs.process`), and
of the single-process app that tests and embedders build with
:func:`bot.intake.server.create_app`: the queue over the database, the journal feeder,
one worker lane per queue and the reconcile scheduler, started and stopped together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.jobs.dispatch import Dispatcher
from bot.jobs.feeder import JournalFeeder
from bot.jobs.ids import IdCounter
from bot.jobs.queue import JobQueue
from bot.jobs.subjects import MrAliases
from bot.jobs.worker import WorkerPool
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store.db import Database

log = get_logger("bot.jobs.runtime")

STORE_SETTINGS = ("SET threads = 1", "SET checkpoint_threshold = '256MB'")
"""DuckDB settings for the writer. Small transactions come back to back on a machine
whose cores also answer webhooks: one DuckDB thread avoids handing tiny inserts between
threads, and a larger WAL threshold keeps the automatic checkpoint (which rewrites
tables and stalls commits) out of bursts; DuckDB still checkpoints at that size and when
the database is closed."""


def tune_store(db: Database) -> None:
    """Apply :data:`STORE_SETTINGS` to the writer database (in-memory ones too)."""
    for statement in STORE_SETTINGS:
        db.execute(statement)


class JobsRuntime:
    """The queue, feeder, workers and sweep over one writer database.

    Args:
        settings: Process settings (workers, attempts, leases, reconcile interval).
        db: The open writer database.
        dispatcher: Where jobs go.
        metrics: Where job metrics go.
        journal: The intake journal's directory to feed from (None: no journal, e.g.
            an in-memory database whose intake commits to DuckDB directly).
        ids: The job id counter shared with the intake (None: the database sequence).
        start_workers: False to store jobs without running them.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        dispatcher: Dispatcher,
        metrics: Metrics,
        *,
        journal: Path | None = None,
        ids: IdCounter | None = None,
        start_workers: bool = True,
    ) -> None:
        self.settings = settings
        self.db = db
        self.metrics = metrics
        tune_store(db)
        self.aliases = MrAliases.for_db(db)
        self.queue = JobQueue(
            db,
            max_attempts=settings.job_max_attempts,
            lease_seconds=settings.job_lease_seconds,
            backoff_seconds=settings.job_backoff_seconds,
        )
        if ids is not None:
            self.queue.id_source = ids.next
        self.feeder = JournalFeeder(self.queue, journal, self.aliases) if journal else None
        self.pool: WorkerPool | None = None
        if start_workers:
            self.pool = WorkerPool(
                self.queue,
                dispatcher,
                # One lane per queue, each with its own limit (bot.jobs.priorities).
                lanes=settings.lanes(),
                metrics=metrics,
            )
        self.scheduler: Any = None
        metrics.watch_queue(self.queue.depth)
        metrics.watch_queues(self.queue.depth_by_queue)

    def start(self) -> None:
        """Start feeding, the workers and the sweep."""
        if self.feeder is not None:
            self.feeder.start()
        if self.pool is not None:
            self.pool.start()
        self.scheduler = self._reconcile_scheduler()
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self, grace: float) -> None:
        """Stop the sweep, give running jobs ``grace`` seconds, store what is journaled."""
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.pool is not None:
            self.pool.stop(grace)
        if self.feeder is not None:
            self.feeder.stop()
        self.queue.close()

    def problems(self) -> list[str]:
        """Why the jobs side cannot work right now (empty when fine)."""
        problems = []
        try:
            self.db.fetchone("SELECT count(*) FROM jobs WHERE false")
        except Exception as exc:  # noqa: BLE001 - any failure here means "not ready"
            problems.append(f"records database unreadable: {type(exc).__name__}")
        if not self.queue.healthy:
            problems.append(f"queue not writable: {self.queue.last_error or 'committer stopped'}")
        if self.feeder is not None and not self.feeder.healthy:
            problems.append(f"journal feeder: {self.feeder.last_error or 'stopped'}")
        if self.pool is not None and self.pool.alive < self.pool.size:
            problems.append(f"{self.pool.size - self.pool.alive} worker thread(s) stopped")
        return problems

    def _reconcile_scheduler(self) -> Any:
        """The thread enqueueing reconcile sweeps (None when turned off or nothing to
        sweep with: no forge configured, no workers)."""
        settings = self.settings
        if not settings.reconcile_minutes or self.pool is None:
            return None
        from bot.jobs.reconcile import ReconcileScheduler, known_repos

        forges = [
            name
            for name, ok in (
                ("github", settings.github_token or settings.github_app_id),
                ("gitlab", settings.gitlab_token),
                ("local", getattr(settings, "local_dir", None)),
            )
            if ok
        ]
        if not forges:
            return None
        queue, db = self.queue, self.db

        def repos() -> list[tuple[str, str]]:
            return known_repos(db, settings.repo_allowlist, forges)

        return ReconcileScheduler(
            lambda delivery: queue.enqueue(delivery),
            repos,
            interval=settings.reconcile_minutes * 60,
            actor=settings.bot_login,
        )
