"""What one running server owns, shared by the server, its admin API and the dashboard.

A module of its own so the routers that read the state (:mod:`bot.intake.server_admin`,
:mod:`bot.dashboard`) need not import the server that mounts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.intake.journal import JournalIntake
from bot.intake.verify import Verifier
from bot.jobs.queue import JobQueue
from bot.jobs.subjects import MrAliases
from bot.jobs.worker import WorkerPool
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store.db import Database


@dataclass
class ServerState:
    """Everything one running app owns (no globals: tests run several apps)."""

    settings: Settings
    verifier: Verifier | None
    metrics: Metrics
    db: Database | None = None
    queue: JobQueue | None = None
    intake: JournalIntake | None = None
    pool: WorkerPool | None = None
    local_feed: Any = None
    """The :class:`bot.intake.local_feed.LocalFeed` when ``settings.local_dir`` is set."""
    aliases: MrAliases | None = None
    runtime: Any = None
    """The :class:`bot.jobs.runtime.JobsRuntime` where the jobs side runs in this process."""
    supervisor: Any = None
    """The :class:`bot.intake.supervisor.Supervisor` of the jobs process, when it is one."""
    jobs: Any = None
    """The :class:`bot.intake.jobs_client.JobsClient` that reaches the jobs process."""
    shutting_down: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
