"""Writing deliveries and their jobs to DuckDB in batches, through Arrow.

A batch is turned into one columnar :mod:`pyarrow` table (built in C) and inserted
with ``INSERT ... SELECT ... FROM batch``. Binding Python values to a statement holds
the GIL for every value (about half a millisecond per row under load, which stalls the
event loop that answers webhooks); DuckDB scans an Arrow table with the GIL released,
so intake keeps running while a batch is written.

Two callers:

- :func:`store_records`: deliveries that already have a job id (from the intake
  journal, :mod:`bot.intake.journal`); rows already stored are skipped, so replaying a journal
  stores each delivery once.
- :func:`insert_deliveries`: deliveries committed before their 202 (the in-memory
  store of tests); job ids come from the sequence inside the statement.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import duckdb

from bot.errors import StoreError
from bot.jobs.queue_types import Delivery, Stored
from bot.store.db import Database

_BATCH = "agentforge_intake_batch"
_DELIVERY_COLUMNS = (
    "delivery_key, content_key, forge, delivery_id, event_name, repo, kind, action,"
    " job_id, received_at"
)
_STORE_DELIVERIES = (
    f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) SELECT {_DELIVERY_COLUMNS} FROM {_BATCH}"  # noqa: S608 - constant SQL text
    " ON CONFLICT DO NOTHING RETURNING delivery_key"
)
_INSERT_DELIVERIES = (
    f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) SELECT delivery_key, content_key, forge,"  # noqa: S608 - constant SQL text
    " delivery_id, event_name, repo, kind, action, nextval('job_id_seq'), received_at"
    f" FROM {_BATCH}"
)
_INSERT_JOBS = (
    "INSERT INTO jobs (id, delivery_id, forge, event_name, repo, subject, payload, headers,"  # noqa: S608 - constant SQL text
    " max_attempts, available_at, created_at, updated_at, queue, priority) SELECT b.job_id,"
    " b.delivery_id, b.forge, b.event_name, b.repo, b.subject, ''::BLOB, b.headers, $1,"
    f" b.received_at, b.received_at, b.received_at, b.queue, b.priority FROM {_BATCH} b"
)
_INSERT_PAYLOADS = (
    f"INSERT INTO job_payloads (job_id, payload) SELECT b.job_id, b.payload FROM {_BATCH} b"  # noqa: S608 - constant SQL text
)
"""Payloads live in their own table, keyed by job id: a job's state changes update an
indexed column, which DuckDB does as delete + insert of the row, and the payload
(~12 KB for a typical webhook) must not be rewritten with every lease and finish."""


def max_job_id(db: Database) -> int:
    """The highest id a job, a delivery or the id sequence has used (0 if none).

    Raises:
        StoreError: the tables could not be read.
    """
    try:
        row = db.fetchone(
            "SELECT greatest((SELECT coalesce(max(id), 0) FROM jobs),"
            " (SELECT coalesce(max(job_id), 0) FROM deliveries),"
            " (SELECT coalesce(max(last_value), 0) FROM duckdb_sequences()"
            "  WHERE sequence_name = 'job_id_seq'))"
        )
    except duckdb.Error as exc:
        raise StoreError(f"reading the highest job id: {exc}") from exc
    return int(row[0] or 0) if row else 0


def advance_job_ids(db: Database, used: int) -> None:
    """Move ``job_id_seq`` up so that its next value is above ``used``.

    Jobs stored while the server runs take ids from the shared counter
    (:mod:`bot.jobs.ids`); commands that enqueue while it is stopped draw from the
    sequence, which must not hand out an id a stored job holds.

    Raises:
        StoreError: the sequence could not be advanced.
    """
    try:
        row = db.fetchone(
            "SELECT coalesce(max(last_value), 0) FROM duckdb_sequences()"
            " WHERE sequence_name = 'job_id_seq'"
        )
        behind = used - int(row[0] or 0) if row else used
        if behind > 0:
            with db.transaction() as cur:
                cur.execute("SELECT max(nextval('job_id_seq')) FROM range(?)", [behind])
    except duckdb.Error as exc:
        raise StoreError(f"advancing the job id sequence to {used}: {exc}") from exc


def batch_table(deliveries: Sequence[Delivery], job_ids: Sequence[int | None], at: Any) -> Any:
    """The Arrow table of one batch: one column per stored field.

    Args:
        deliveries: The deliveries, in order.
        job_ids: Each delivery's job id (None where the statement draws one).
        at: One receive time for all, or a sequence with one per delivery.
    """
    # pyarrow costs a fifth of a second to import; only the writing process needs it.
    import pyarrow as pa

    received = at if isinstance(at, list) else [at] * len(deliveries)
    text = pa.string()
    return pa.table(
        {
            "delivery_key": pa.array([d.delivery_key for d in deliveries], text),
            "content_key": pa.array([d.content_key for d in deliveries], text),
            "forge": pa.array([d.forge for d in deliveries], text),
            "delivery_id": pa.array([d.delivery_id for d in deliveries], text),
            "event_name": pa.array([d.event_name for d in deliveries], text),
            "repo": pa.array([d.repo for d in deliveries], text),
            "kind": pa.array([d.kind for d in deliveries], text),
            "action": pa.array([d.action for d in deliveries], text),
            "subject": pa.array([d.subject for d in deliveries], text),
            "payload": pa.array([d.payload for d in deliveries], pa.binary()),
            "headers": pa.array([json.dumps(d.headers) for d in deliveries], text),
            "job_id": pa.array(list(job_ids), pa.int64()),
            "received_at": pa.array(received, pa.timestamp("us")),
            "queue": pa.array([d.queue for d in deliveries], text),
            "priority": pa.array([d.priority for d in deliveries], pa.int32()),
        }
    )


def store_records(db: Database, records: Sequence[Stored], max_attempts: int) -> list[Stored]:
    """Insert journaled deliveries and their jobs in one transaction, skipping stored ones.

    Returns:
        The records that were new (their jobs now exist).

    Raises:
        StoreError: the transaction failed (nothing was stored).
    """
    if not records:
        return []
    table = batch_table(
        [s.delivery for s in records],
        [s.job_id for s in records],
        [s.received_at for s in records],
    )
    try:
        with _batch_transaction(db, table) as cur:
            keys = {row[0] for row in cur.execute(_STORE_DELIVERIES).fetchall()}
            new = [s for s in records if s.delivery.delivery_key in keys]
            if len(new) == len(records):
                cur.execute(_INSERT_JOBS, [max_attempts])
                cur.execute(_INSERT_PAYLOADS)
            elif new:
                only = " WHERE b.delivery_key IN (SELECT unnest($keys))"
                cur.execute(
                    _INSERT_JOBS.replace("$1", "$attempts") + only,
                    {"attempts": max_attempts, "keys": sorted(keys)},
                )
                cur.execute(_INSERT_PAYLOADS + only, {"keys": sorted(keys)})
    except duckdb.Error as exc:
        raise StoreError(f"storing {len(records)} journaled deliveries: {exc}") from exc
    return new


def insert_deliveries(
    db: Database,
    rows: Sequence[Delivery],
    now: datetime,
    max_attempts: int,
    *,
    skip_conflicts: bool,
) -> dict[str, int]:
    """Insert deliveries with new job ids, and their jobs, in one transaction.

    Args:
        db: The writer database.
        rows: Deliveries without duplicates among themselves.
        now: Their receive time.
        max_attempts: Attempts each job gets.
        skip_conflicts: Skip rows whose keys exist instead of failing the transaction.

    Returns:
        Job id by delivery key, for the rows inserted.

    Raises:
        duckdb.ConstraintException: a key exists and ``skip_conflicts`` is False.
        duckdb.Error: any other database failure.
    """
    table = batch_table(rows, [None] * len(rows), now)
    with _batch_transaction(db, table) as cur:
        inserted = cur.execute(
            _INSERT_DELIVERIES
            + (" ON CONFLICT DO NOTHING" if skip_conflicts else "")
            + " RETURNING delivery_key, job_id"
        ).fetchall()
        job_ids = {key: int(job_id) for key, job_id in inserted}
        if job_ids:
            # The job ids were drawn by the statement above: join them back in.
            cur.execute(
                "INSERT INTO jobs (id, delivery_id, forge, event_name, repo, subject,"  # noqa: S608 - constant SQL text
                " payload, headers, max_attempts, available_at, created_at, updated_at,"
                " queue, priority) SELECT d.job_id, b.delivery_id, b.forge, b.event_name,"
                " b.repo, b.subject, ''::BLOB, b.headers, $1, b.received_at, b.received_at,"
                " b.received_at, b.queue, b.priority"
                f" FROM {_BATCH} b JOIN (SELECT unnest($2) AS delivery_key,"
                " unnest($3) AS job_id) d ON d.delivery_key = b.delivery_key",
                [max_attempts, list(job_ids), list(job_ids.values())],
            )
            cur.execute(
                "INSERT INTO job_payloads (job_id, payload) SELECT d.job_id, b.payload"  # noqa: S608 - constant SQL text
                f" FROM {_BATCH} b JOIN (SELECT unnest($1) AS delivery_key,"
                " unnest($2) AS job_id) d ON d.delivery_key = b.delivery_key",
                [list(job_ids), list(job_ids.values())],
            )
    return job_ids


@contextlib.contextmanager
def _batch_transaction(db: Database, table: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write transaction in which ``table`` can be read as :data:`_BATCH`."""
    cur = None
    try:
        with db.transaction() as cur:
            # Registered inside the transaction (the cursor is clean after BEGIN) and
            # dropped after it ends: an aborted transaction refuses the unregister.
            cur.register(_BATCH, table)
            yield cur
    finally:
        if cur is not None:
            cur.unregister(_BATCH)
