"""The append-only, hash-chained audit log.

Each row commits to its own content and to the row before it::

    hash = sha256(prev_hash + canonical_json({seq, at, actor, action, subject, detail}))

where ``prev_hash`` of row 1 is :data:`GENESIS_HASH` and canonical JSON means sorted
keys, no whitespace, UTF-8, no NaN. Changing any field of a row, deleting a row or
splicing one in is found by :meth:`AuditLog.verify`.

Deleting the newest rows, or rewriting the newest row *and* its hash, cannot be seen
from inside the table, so every append also records ``<seq> <hash>`` in an
append-only anchor file outside the database (:class:`AuditAnchor`, ``audit.anchor``
in the data directory, fsync'd). :meth:`AuditLog.verify` checks the
chain *and* that the newest anchored row is still there with the anchored hash.
Details are scrubbed of token-shaped text before they are hashed
(:func:`bot.redact.scrub`).

Appends run in one :meth:`Database.transaction` (read the last row, insert the next),
and the database has one writer, so concurrent appends from threads keep the chain.
"""

# SQL text is built only from this module's constant column names; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.errors import AuditChainBroken, StoreError
from bot.redact import scrub
from bot.store.audit_anchor import AuditAnchor
from bot.store.db import Database
from bot.store.records import now_utc, translate_errors, utc_aware, utc_naive

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row."""

Reason = Literal[
    "content_changed", "chain_broken", "seq_gap", "truncated", "anchor_mismatch", "anchor_missing"
]
ANCHOR_FILE = "audit.anchor"

_COLS = 'seq, "at", actor, action, subject, detail, prev_hash, hash'


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8, NaN/Infinity refused.

    Raises:
        ValueError: ``value`` is not plain JSON data.
    """
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except TypeError as exc:
        raise ValueError(f"not JSON data: {exc}") from exc


def format_at(at: datetime) -> str:
    """The timestamp as hashed: naive UTC, microseconds, ``Z`` suffix."""
    return utc_naive(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None,
    detail: Any,
) -> str:
    """The hash a row with this content and predecessor must carry."""
    body = canonical_json(
        {
            "seq": seq,
            "at": format_at(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class AuditEntry(BaseModel):
    """One row of the audit log.

    Attributes:
        seq: 1, 2, 3... with no gaps.
        at: When it was appended (UTC).
        actor: Who did it (forge login, ``agentforge`` for the bot itself).
        action: What was done (``phase.approved``, ``mr.opened``...).
        subject: What it was done to (``github:acme/app#3``).
        detail: A JSON object with more facts (as stored).
        prev_hash: The previous row's hash (:data:`GENESIS_HASH` for row 1).
        hash: This row's hash.
    """

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str | None = None
    detail: Any = None
    prev_hash: str
    hash: str


class VerifyResult(BaseModel):
    """The outcome of :meth:`AuditLog.verify`.

    Attributes:
        ok: True when every row checked out.
        rows: Rows checked (up to and including the first bad one).
        first_bad_seq: The first bad row's seq, or None.
        reason: Why it is bad: ``content_changed`` (fields differ from what was
            hashed), ``chain_broken`` (``prev_hash`` is not the previous row's hash) or
            ``seq_gap`` (rows are missing before it), ``truncated`` (the newest rows
            the anchor recorded are gone), ``anchor_mismatch`` (the anchored row was
            rewritten) or ``anchor_missing`` (rows exist but their anchor file does not).
        message: A sentence for people.
        head_hash: The last good row's hash; record it elsewhere to detect truncation.
        anchored_seq: The newest row the anchor recorded (None: no anchor checked).
        anchored_hash: Its hash as anchored.
    """

    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: Reason | None = None
    message: str
    head_hash: str = GENESIS_HASH
    anchored_seq: int | None = None
    anchored_hash: str | None = None

    def raise_if_broken(self) -> None:
        """Raise :class:`AuditChainBroken` (with seq and reason) unless ``ok``."""
        if not self.ok:
            raise AuditChainBroken(self.message, seq=self.first_bad_seq, reason=self.reason or "")


class AuditLog:
    """Append to and verify the audit log in a :class:`Database`.

    Args:
        db: The database (the writer for appends; verify also works read-only).
        clock: Returns the current time; defaults to the system clock in UTC.
        anchor: Where the chain's head is recorded outside the database; by default
            ``audit.anchor`` in the database's data directory (none in memory).
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] | None = None,
        anchor: AuditAnchor | Literal["default"] | None = "default",
    ) -> None:
        self.db = db
        self._clock = clock or now_utc
        if anchor == "default":
            in_memory = str(db.path) == ":memory:"
            anchor = None if in_memory else AuditAnchor(Path(db.path).parent / ANCHOR_FILE)
        self.anchor: AuditAnchor | None = anchor

    def append(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one row, chained to the last one, atomically.

        Raises:
            ValueError: ``actor``/``action`` empty, or ``detail`` is not a JSON object.
            StoreError: the database is read-only or the write failed.
        """
        for name, value in (("actor", actor), ("action", action)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"audit {name} must be a non-empty string, got {value!r}")
        if detail is not None and not isinstance(detail, dict):
            raise ValueError(f"audit detail must be a JSON object, got {type(detail).__name__}")
        # Tokens and keys never reach the records, whatever a caller put in the detail.
        detail = scrub(detail) if detail is not None else None
        detail_text = canonical_json(detail) if detail is not None else None
        # Store what will be read back, so the hash is over the round-tripped value.
        detail = json.loads(detail_text) if detail_text is not None else None
        doing = f"appending audit row {action} by {actor}"
        with translate_errors(doing), self.db.transaction() as cur:
            last = cur.execute(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS_HASH)
            # Read under the write lock, so times never go backwards along the chain.
            at = utc_naive(self._clock())
            digest = entry_hash(
                prev,
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                detail=detail,
            )
            row = (seq, at, actor, action, subject, detail_text, prev, digest)
            cur.execute(
                f"INSERT INTO audit_log ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row)
            )
        if self.anchor is not None:
            self.anchor.record(seq, digest)
        return _entry(row, detail)

    def entries(self, *, after_seq: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Rows with ``seq > after_seq``, oldest first.

        Raises:
            StoreError: a row's detail is not valid JSON.
        """
        with translate_errors("reading the audit log"):
            rows = self.db.fetchall(
                f"SELECT {_COLS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                [int(after_seq), int(limit)],
            )
        out = []
        for row in rows:
            detail_text = row[5]
            try:
                parsed = json.loads(detail_text) if detail_text is not None else None
            except ValueError as exc:
                raise StoreError(f"reading audit row {row[0]}: detail is not JSON") from exc
            out.append(_entry(row, parsed))
        return out

    def head(self) -> tuple[int, str] | None:
        """The newest row's ``(seq, hash)``, or None when the log is empty."""
        with translate_errors("reading the audit log's head"):
            row = self.db.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (int(row[0]), str(row[1])) if row else None

    def count(self) -> int:
        """How many rows the log holds."""
        with translate_errors("counting audit rows"):
            row = self.db.fetchone("SELECT count(*) FROM audit_log")
        return int(row[0]) if row else 0

    def verify(self, *, batch: int = 1000) -> VerifyResult:
        """Walk the whole chain in seq order and report the first bad row, if any.

        Then check the anchor: the newest anchored row must still be there, with the
        anchored hash (so deleting or rewriting the newest rows is found too).
        """
        head = self.anchor.head() if self.anchor is not None else None
        anchored = {"anchored_seq": head[0], "anchored_hash": head[1]} if head else {}
        expected_seq, expected_prev, checked = 1, GENESIS_HASH, 0
        with translate_errors("verifying the audit log"):
            cur = self.db.execute(f"SELECT {_COLS} FROM audit_log ORDER BY seq")
            while rows := cur.fetchmany(batch):
                for row in rows:
                    checked += 1
                    problem = _check_row(row, expected_seq, expected_prev)
                    if problem is None and head is not None and int(row[0]) == head[0]:
                        problem = _check_anchor(row, head)
                    if problem is not None:
                        reason, message = problem
                        return VerifyResult(
                            ok=False,
                            rows=checked,
                            first_bad_seq=int(row[0]),
                            reason=reason,
                            message=message,
                            head_hash=expected_prev,
                            **anchored,
                        )
                    expected_seq, expected_prev = int(row[0]) + 1, str(row[7])
        if head is not None and checked < head[0]:
            missing = f"{checked + 1}" if checked + 1 == head[0] else f"{checked + 1}-{head[0]}"
            return VerifyResult(
                ok=False,
                rows=checked,
                first_bad_seq=checked + 1,
                reason="truncated",
                message=(
                    f"audit row(s) {missing} are missing: the anchor ({self.anchor.path}) "  # type: ignore[union-attr]
                    f"records row {head[0]} with hash {head[1]}, the table ends at row "
                    f"{checked}"
                ),
                head_hash=expected_prev,
                **anchored,
            )
        if self.anchor is not None and head is None and checked > 0:
            return VerifyResult(
                ok=False,
                rows=checked,
                reason="anchor_missing",
                message=(
                    f"{checked} rows chain correctly, but their anchor {self.anchor.path} is "
                    "missing or empty, so deleted newest rows could not be detected"
                ),
                head_hash=expected_prev,
            )
        note = f" (anchored up to row {head[0]})" if head else ""
        return VerifyResult(
            ok=True,
            rows=checked,
            message=f"{checked} rows verified{note}",
            head_hash=expected_prev,
            **anchored,
        )


def _entry(row: tuple, detail: Any) -> AuditEntry:
    """The entry of a row (columns in ``_COLS`` order) whose detail is already decoded."""
    seq, at, actor, action, subject, _detail_text, prev, digest = row
    return AuditEntry(
        seq=seq,
        at=utc_aware(at),
        actor=actor,
        action=action,
        subject=subject,
        detail=detail,
        prev_hash=prev,
        hash=digest,
    )


def _check_anchor(row: tuple, head: tuple[int, str]) -> tuple[Reason, str] | None:
    if str(row[7]) == head[1]:
        return None
    return "anchor_mismatch", (
        f"audit row {head[0]}: its hash is not the one the anchor recorded "
        f"({head[1]}); the row (and the rows after it) were rewritten"
    )


def _check_row(row: tuple, expected_seq: int, expected_prev: str) -> tuple[Reason, str] | None:
    seq, at, actor, action, subject, detail_text, prev, digest = row
    if seq != expected_seq:
        missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
        return "seq_gap", f"audit row {seq}: row(s) {missing} are missing before it"
    if prev != expected_prev:
        return "chain_broken", (
            f"audit row {seq}: prev_hash does not match the hash of row {seq - 1} "
            "(one of them was rewritten)"
            if seq > 1
            else f"audit row {seq}: prev_hash is not the genesis value"
        )
    try:
        detail = json.loads(detail_text) if detail_text is not None else None
        recomputed = entry_hash(
            prev, seq=seq, at=at, actor=actor, action=action, subject=subject, detail=detail
        )
    except (ValueError, TypeError):
        recomputed = None
    if recomputed != digest:
        return "content_changed", (
            f"audit row {seq}: its content no longer matches its hash (the row was changed)"
        )
    return None
