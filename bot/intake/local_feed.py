"""The local forge's events into the job queue: what a webhook does for GitHub or GitLab.

A local forge (:mod:`bot.forges.local`) records every change as an event in its outbox
instead of sending a webhook. With ``agentforge serve --local DIR`` (or
``AGENTFORGE_LOCAL_DIR``), :class:`LocalFeed` polls that outbox in a background thread
and submits each new event to the server's intake — the same journal, dedupe and queue a
webhook delivery goes through — so the workers run it like any other event::

    agentforge local issue open ... ─► DIR/forge.duckdb outbox ─► LocalFeed (poll)
        ─► intake (journal, dedupe) ─► queue ─► workers ─► handlers ─► executor ─► DIR

- **Delivery id** = the local event's own id (a UUID the forge gave it), so a
  redelivered event is a duplicate, never a second job.
- **Cursor**: the last outbox sequence number whose delivery was committed is kept in
  ``<data dir>/local-feed.json`` (per forge directory), written after the commit. A
  restart resumes after it; an event committed but not yet in the cursor (a crash in
  between) is submitted again and deduplicated, so nothing is skipped or repeated.
- A delivery that cannot be committed (queue unavailable) stops the round; the next
  poll tries it again from the same place.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from bot.errors import ForgeError, QueueUnavailable, StoreError
from bot.events import Event, EventKind
from bot.jobs.queue import Delivery, EnqueueResult
from bot.logs import get_logger

log = get_logger("bot.intake.local_feed")

CURSOR_NAME = "local-feed.json"
SEQ_HEADER = "x-agentforge-local-seq"
"""Kept with each delivery: the event's sequence number in the forge's outbox."""
COMMIT_TIMEOUT = 30.0


class Intake(Protocol):
    """Where deliveries go.

    :class:`bot.intake.journal.JournalIntake` or :class:`bot.jobs.queue.JobQueue`.
    """

    def submit(self, delivery: Delivery) -> Future[EnqueueResult]:
        """Store ``delivery`` durably and deduplicated; the future holds the outcome."""
        ...


def delivery_for(seq: int, event: Event, aliases: Any = None) -> Delivery:
    """The delivery a local event stands for (its body is the stored event's JSON).

    ``aliases`` (:class:`bot.jobs.subjects.MrAliases`) maps an MR to its run's issue, so jobs
    about an issue and its MR share one ordering subject, as for webhooks.
    """
    from bot.jobs.priorities import classify
    from bot.jobs.subjects import resolve_subject

    placement = classify(event)
    return Delivery(
        forge="local",
        delivery_id=event.delivery_id or f"local-seq:{seq}",
        event_name=event.event_name or event.kind.value,
        payload=event.model_dump_json().encode(),
        content_key=event.content_key(),
        subject=resolve_subject(event, aliases),
        repo=event.repo.full_name,
        kind=event.kind.value,
        action=event.action,
        headers={SEQ_HEADER: str(seq)},
        queue=placement.queue,
        priority=placement.priority,
    )


def read_event(directory: Path | str, seq: int) -> Event:
    """Event number ``seq`` of the local forge in ``directory``.

    Raises:
        NotFound: no such event (the message says which sequence numbers exist).
    """
    from bot.errors import NotFound
    from bot.forges.local import LocalForge

    forge = LocalForge(directory)
    events = forge.events(after=max(seq - 1, 0))
    if events and events[0][0] == seq:
        return events[0][1]
    every = forge.events()
    last = every[-1][0] if every else 0
    doing = f"reading local event {seq} in {forge.directory}"
    known = f"events are numbered 1 to {last}" if last else "the forge has no events yet"
    raise NotFound(f"{doing}: no such event ({known})", forge="local", operation=doing)


class CursorFile:
    """The last committed outbox sequence number per forge directory, in one JSON file.

    Args:
        path: The cursor file (``<data dir>/local-feed.json``).
        directory: The forge directory whose cursor this is.
    """

    def __init__(self, path: Path, directory: Path) -> None:
        self.path = Path(path)
        self.key = str(Path(directory).resolve())

    def _all(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"reading the local feed cursor {self.path}: {exc}") from exc
        cursors = data.get("cursors") if isinstance(data, dict) else None
        if not isinstance(cursors, dict):
            raise StoreError(f"reading the local feed cursor {self.path}: no 'cursors' object")
        return {str(k): int(v) for k, v in cursors.items()}

    def load(self) -> int:
        """The last committed sequence number (0 before the first event)."""
        return self._all().get(self.key, 0)

    def save(self, seq: int) -> None:
        """Record ``seq`` durably (written to a temporary file, synced, then renamed)."""
        cursors = self._all()
        cursors[self.key] = int(seq)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"cursors": cursors}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class LocalFeed:
    """Polls one local forge's outbox and submits new events to an intake.

    Args:
        directory: The local forge directory.
        intake: Where deliveries go.
        cursor_path: The cursor file (see :class:`CursorFile`).
        poll_seconds: Pause between polls when nothing new arrived.
        allowed: ``allowed(repo_full_name) -> bool``; events of other repositories are
            skipped (the cursor still moves past them).
    """

    def __init__(
        self,
        directory: Path | str,
        intake: Intake,
        cursor_path: Path,
        *,
        poll_seconds: float = 1.0,
        allowed: Any = None,
        aliases: Any = None,
    ) -> None:
        from bot.forges.local import LocalForge

        self.forge = LocalForge(directory)
        self.directory = self.forge.directory
        self.intake = intake
        self.cursor = CursorFile(cursor_path, self.directory)
        self.poll_seconds = poll_seconds
        self.allowed = allowed or (lambda repo: True)
        self.aliases = aliases
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_server(cls, settings: Any, intake: Intake, aliases: Any = None) -> LocalFeed:
        """The feed ``agentforge serve`` runs for ``settings.local_dir``."""
        from bot.intake.access import repo_allowed

        return cls(
            settings.local_dir,
            intake,
            settings.data_dir / CURSOR_NAME,
            allowed=lambda repo: repo_allowed(repo, settings.repo_allowlist),
            aliases=aliases,
        )

    def poll_once(self) -> int:
        """Submit every event after the cursor; returns how many were committed.

        Raises:
            ForgeError: the forge directory cannot be read.
            QueueUnavailable: a delivery could not be committed (the cursor stays before it).
            StoreError: the cursor file cannot be read or written.
        """
        after = self.cursor.load()
        events = self.forge.events(after=after)
        done = 0
        for seq, event in events:
            self._submit(seq, event)
            self.cursor.save(seq)
            done += 1
        return done

    def _submit(self, seq: int, event: Event) -> None:
        if event.kind in (EventKind.IGNORED, EventKind.PING) or not self.allowed(
            event.repo.full_name
        ):
            log.info("local event skipped", seq=seq, repo=event.repo.full_name)
            return
        future = self.intake.submit(delivery_for(seq, event, self.aliases))
        try:
            result = future.result(timeout=COMMIT_TIMEOUT)
        except TimeoutError as exc:
            raise QueueUnavailable(f"local event {seq} was not committed in time") from exc
        log.info(
            "local event queued" if result.status != "duplicate" else "local event duplicate",
            seq=seq,
            delivery_id=event.delivery_id,
            job_id=result.job_id,
            kind=event.kind.value,
            repo=event.repo.full_name,
        )

    # --- background thread

    def start(self) -> None:
        """Start polling in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="agentforge-local-feed")
        self._thread.daemon = True
        self._thread.start()
        log.info("local forge feed started", directory=str(self.directory))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                moved = self.poll_once()
                self.last_error = None
            except (ForgeError, StoreError) as exc:
                # Retried on the next poll; the cursor never moved past what failed.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("local forge feed round failed", error=self.last_error)
                moved = 0
            if not moved:
                self._stop.wait(self.poll_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (a round in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def healthy(self) -> bool:
        """Whether the last round succeeded and the thread runs."""
        return self.last_error is None and (self._thread is None or self._thread.is_alive())


def run_local_event(
    env: Any,
    directory: Path | str,
    seq: int,
    *,
    data_dir: Path | None = None,
    dry_run: bool = False,
) -> Any:
    """``agentforge run --forge local --local DIR --event-id N``: one event, CI-runner style.

    The event goes through the CI runner's path (parse, dedupe in the data directory,
    handlers, executor writing to the same local forge as the bot); it returns the
    runner's :class:`bot.runner.RunResult`.

    Raises:
        NotFound: the forge has no event ``seq``.
        SettingsError: bad settings.
    """
    from bot.runner import CIEvent, ci_settings, open_records, run_ci_event

    event = read_event(directory, seq)
    ci = CIEvent(
        forge="local",
        event_name=event.event_name or event.kind.value,
        body=event.model_dump_json().encode(),
        delivery_id=event.delivery_id,
    )
    settings = ci_settings(env, data_dir=data_dir).model_copy(
        update={"local_dir": Path(directory).resolve()}
    )
    explicit = data_dir is not None or bool(str(env.get("AGENTFORGE_DATA_DIR", "")).strip())
    db = open_records(settings, explicit=explicit)
    try:
        return run_ci_event(ci, settings, db=db, dry_run=dry_run)
    finally:
        if db is not None:
            db.close()
