"""The rate-limit ledger in DuckDB: :class:`handlers.services.LimitLedger`.

One row per rate-limited thing (``run_start``, ``refusal_reply``) in ``limit_events``
(migration 5). The records database survives a restart, so a limit keeps counting;
rows older than :data:`KEEP` are pruned when new ones are written (no limit counts
further back than a week, the longest window the config allows).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.db import Database
from bot.store.records import translate_errors, utc_aware

KEEP = timedelta(days=8)
"""How long a row is kept (longer than the longest configurable window)."""


def _naive(at: datetime) -> datetime:
    # The records store naive UTC (bot.store.records.now_utc).
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


class DuckDBLimitLedger:
    """Rate-limit records in the bot's DuckDB database.

    Args:
        db: The open, migrated records database (the writer).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def times_since(
        self,
        kind: str,
        forge: str,
        repo: str,
        since: datetime,
        *,
        actor: str | None = None,
        subject: str | None = None,
    ) -> list[datetime]:
        """See :meth:`handlers.services.LimitLedger.times_since`."""
        sql = (
            "SELECT happened_at FROM limit_events"
            " WHERE kind = ? AND forge = ? AND repo = ? AND happened_at >= ?"
        )
        params: list[object] = [kind, forge, repo, _naive(since)]
        if actor is not None:
            sql += " AND actor = ?"
            params.append(actor.lower())
        if subject is not None:
            sql += " AND subject = ?"
            params.append(subject)
        with translate_errors(f"reading the {kind} limit records of {repo}"):
            rows = self.db.fetchall(sql + " ORDER BY happened_at", params)
        return [utc_aware(row[0]) for row in rows]

    def record(
        self, kind: str, forge: str, repo: str, *, actor: str, subject: str, at: datetime
    ) -> None:
        """See :meth:`handlers.services.LimitLedger.record`."""
        with (
            translate_errors(f"recording a {kind} of {actor} in {repo}"),
            self.db.transaction() as cur,
        ):
            self._insert(cur, kind, forge, repo, actor, subject, at)

    @staticmethod
    def _insert(cur, kind, forge, repo, actor, subject, at: datetime) -> None:
        cur.execute(
            "INSERT INTO limit_events (kind, forge, repo, actor, subject, happened_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [kind, forge, repo, actor.lower(), subject, _naive(at)],
        )
        cur.execute("DELETE FROM limit_events WHERE happened_at < ?", [_naive(at - KEEP)])
