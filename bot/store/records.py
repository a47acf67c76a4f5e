"""Run records over the DuckDB store: runs, phases, artifacts and the model-usage ledger.

These are fast local records of what the bot did; the forge and git stay the source of
truth (a run can always be rebuilt from the issue, its status comment and the branch's
commit trailers). Every write goes through :meth:`Database.transaction`, so it is
serialised with the other writers in the process and atomic.

Timestamps are stored as naive UTC (DuckDB ``TIMESTAMP``) and returned as aware UTC
datetimes.
"""

# SQL text is built only from this module's constant column names; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from agents.usage import UsageRecord
from bot.errors import RecordNotFound, StoreError
from bot.store.db import Database


def utc_naive(value: datetime) -> datetime:
    """``value`` as a naive UTC datetime (naive input is taken to be UTC already)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def utc_aware(value: datetime | None) -> datetime | None:
    """A stored naive-UTC timestamp as an aware UTC datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    """The current time as naive UTC, the form the records store."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextlib.contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """Turn DuckDB errors into :class:`StoreError` saying what was being done."""
    try:
        yield
    except duckdb.Error as exc:
        raise StoreError(f"{doing}: {exc}") from exc


def _require_text(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _optional_positive(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class Run(BaseModel):
    """One workflow run: an issue being carried through the phases.

    Attributes:
        id: Run id (unique).
        forge: ``github``, ``gitlab`` or ``local``.
        repo: Repository full name.
        issue_number: The issue the run serves.
        state: Free-form run state (``running``, ``waiting``, ``done``, ``failed``...).
        phase: The current phase name.
        estimate_usd: Cost estimate made when the run started.
        started_at: When the run was created.
        updated_at: Last change.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    forge: str
    repo: str
    issue_number: int | None = None
    state: str
    phase: str | None = None
    estimate_usd: float | None = None
    started_at: datetime
    updated_at: datetime


class Phase(BaseModel):
    """One phase of a run (``design``, ``build``...), keyed by (run_id, name).

    Attributes:
        run_id: The run.
        name: Phase name from the workflow.
        role: Role that works the phase.
        state: ``running``, ``awaiting_approval``, ``approved``, ``rejected``, ``failed``...
        gate: The gate that ends it (``human``, ``mr_approval``, ``tests``, ``auto``).
        mr_number: The merge request the phase's work sits in.
        started_at: When the phase (last) started.
        finished_at: When it finished, or None while it is open.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    role: str | None = None
    state: str
    gate: str | None = None
    mr_number: int | None = None
    started_at: datetime
    finished_at: datetime | None = None


class Artifact(BaseModel):
    """A file a phase produced, as committed.

    Attributes:
        run_id: The run.
        phase: The phase that produced it.
        path: Repository-relative path.
        kind: ``requirements``, ``design``, ``code``, ``test``, ``docs``, ``ci``...
        commit_sha: The commit that wrote it.
        created_at: When it was recorded.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    phase: str
    path: str
    kind: str | None = None
    commit_sha: str | None = None
    created_at: datetime


_RUN_COLS = "id, forge, repo, issue_number, state, phase, estimate_usd, started_at, updated_at"
_PHASE_COLS = "run_id, name, role, state, gate, mr_number, started_at, finished_at"
_ARTIFACT_COLS = "run_id, phase, path, kind, commit_sha, created_at"


def _run(row: dict[str, Any]) -> Run:
    row = dict(
        row, started_at=utc_aware(row["started_at"]), updated_at=utc_aware(row["updated_at"])
    )
    return Run(**row)


def _phase(row: dict[str, Any]) -> Phase:
    row = dict(
        row, started_at=utc_aware(row["started_at"]), finished_at=utc_aware(row["finished_at"])
    )
    return Phase(**row)


def _artifact(row: dict[str, Any]) -> Artifact:
    return Artifact(**dict(row, created_at=utc_aware(row["created_at"])))


class Records:
    """Typed access to runs, phases and artifacts.

    Args:
        db: An open :class:`Database` (the writer for writes; read-only works for reads).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- runs

    def create_run(
        self,
        *,
        forge: str,
        repo: str,
        issue_number: int | None = None,
        state: str = "running",
        phase: str | None = None,
        estimate_usd: float | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Record a new run; ``run_id`` defaults to a fresh random id.

        Raises:
            StoreError: a run with that id already exists, or the write failed.
            ValueError: an argument is empty or out of range.
        """
        run_id = _require_text("run_id", run_id) if run_id is not None else uuid.uuid4().hex
        _require_text("forge", forge)
        _require_text("repo", repo)
        _require_text("state", state)
        _optional_positive("issue_number", issue_number)
        at = now_utc()
        with translate_errors(f"recording run {run_id} for {repo}"), self.db.transaction() as cur:
            if cur.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
                raise StoreError(f"recording run {run_id} for {repo}: that run id already exists")
            cur.execute(
                f"INSERT INTO runs ({_RUN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, forge, repo, issue_number, state, phase, estimate_usd, at, at],
            )
        return self.get_run(run_id)

    def find_run(self, run_id: str) -> Run | None:
        """The run with this id, or None."""
        with translate_errors(f"reading run {run_id}"):
            rows = self.db.fetch_dicts(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", [run_id])
        return _run(rows[0]) if rows else None

    def get_run(self, run_id: str) -> Run:
        """The run with this id.

        Raises:
            RecordNotFound: no such run.
        """
        run = self.find_run(run_id)
        if run is None:
            raise RecordNotFound(f"reading run {run_id}: no such run in the records")
        return run

    def update_run(
        self,
        run_id: str,
        *,
        state: str | None = None,
        phase: str | None = None,
        estimate_usd: float | None = None,
    ) -> Run:
        """Change a run's state, current phase or estimate (None leaves a field as is).

        Raises:
            RecordNotFound: no such run.
        """
        sets, params = _assignments(state=state, phase=phase, estimate_usd=estimate_usd)
        sets.append("updated_at = ?")
        params.append(now_utc())
        doing = f"updating run {run_id}"
        with translate_errors(doing), self.db.transaction() as cur:
            _require_run(cur, run_id, doing)
            cur.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", [*params, run_id])
        return self.get_run(run_id)

    def list_runs(
        self,
        *,
        repo: str | None = None,
        state: str | None = None,
        issue_number: int | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Runs matching every given filter, newest first."""
        where, params = _where(repo=repo, state=state, issue_number=issue_number)
        with translate_errors(f"listing runs for {repo or 'all repositories'}"):
            rows = self.db.fetch_dicts(
                f"SELECT {_RUN_COLS} FROM runs {where} ORDER BY started_at DESC, id DESC LIMIT ?",
                [*params, int(limit)],
            )
        return [_run(r) for r in rows]

    # --- phases

    def start_phase(
        self,
        run_id: str,
        name: str,
        *,
        role: str | None = None,
        gate: str | None = None,
        state: str = "running",
    ) -> Phase:
        """Start (or restart, after a rejection) a phase and make it the run's current one.

        Restarting keeps the phase's merge request number and clears ``finished_at``.

        Raises:
            RecordNotFound: no such run.
        """
        _require_text("phase name", name)
        _require_text("state", state)
        at = now_utc()
        doing = f"starting phase {name} of run {run_id}"
        with translate_errors(doing), self.db.transaction() as cur:
            _require_run(cur, run_id, doing)
            cur.execute(
                f"INSERT INTO phases ({_PHASE_COLS}) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL) "
                "ON CONFLICT (run_id, name) DO UPDATE SET "
                " role = coalesce(excluded.role, phases.role),"
                " gate = coalesce(excluded.gate, phases.gate),"
                " state = excluded.state, started_at = excluded.started_at, finished_at = NULL",
                [run_id, name, role, state, gate, at],
            )
            cur.execute(
                "UPDATE runs SET phase = ?, updated_at = ? WHERE id = ?", [name, at, run_id]
            )
        return self.get_phase(run_id, name)

    def update_phase(
        self,
        run_id: str,
        name: str,
        *,
        state: str | None = None,
        gate: str | None = None,
        mr_number: int | None = None,
    ) -> Phase:
        """Change an open phase's state, gate or merge request (None leaves it as is).

        Raises:
            RecordNotFound: no such phase.
        """
        return self._set_phase(run_id, name, state=state, gate=gate, mr_number=mr_number)

    def finish_phase(
        self,
        run_id: str,
        name: str,
        *,
        state: str,
        gate: str | None = None,
        mr_number: int | None = None,
    ) -> Phase:
        """Close a phase with its final state (``approved``, ``rejected``, ``failed``...).

        Raises:
            RecordNotFound: no such phase.
        """
        _require_text("state", state)
        return self._set_phase(run_id, name, state=state, gate=gate, mr_number=mr_number, end=True)

    def _set_phase(
        self,
        run_id: str,
        name: str,
        *,
        state: str | None,
        gate: str | None,
        mr_number: int | None,
        end: bool = False,
    ) -> Phase:
        _optional_positive("mr_number", mr_number)
        at = now_utc()
        sets, params = _assignments(state=state, gate=gate, mr_number=mr_number)
        if end:
            sets.append("finished_at = ?")
            params.append(at)
        doing = f"{'finishing' if end else 'updating'} phase {name} of run {run_id}"
        with translate_errors(doing), self.db.transaction() as cur:
            found = cur.execute(
                "SELECT 1 FROM phases WHERE run_id = ? AND name = ?", [run_id, name]
            ).fetchone()
            if not found:
                raise RecordNotFound(f"{doing}: no such phase in the records")
            if sets:
                cur.execute(
                    f"UPDATE phases SET {', '.join(sets)} WHERE run_id = ? AND name = ?",
                    [*params, run_id, name],
                )
            cur.execute("UPDATE runs SET updated_at = ? WHERE id = ?", [at, run_id])
        return self.get_phase(run_id, name)

    def get_phase(self, run_id: str, name: str) -> Phase:
        """One phase of a run.

        Raises:
            RecordNotFound: no such phase.
        """
        with translate_errors(f"reading phase {name} of run {run_id}"):
            rows = self.db.fetch_dicts(
                f"SELECT {_PHASE_COLS} FROM phases WHERE run_id = ? AND name = ?", [run_id, name]
            )
        if not rows:
            raise RecordNotFound(f"reading phase {name} of run {run_id}: no such phase")
        return _phase(rows[0])

    def list_phases(self, run_id: str) -> list[Phase]:
        """A run's phases in the order they (last) started."""
        with translate_errors(f"listing phases of run {run_id}"):
            rows = self.db.fetch_dicts(
                f"SELECT {_PHASE_COLS} FROM phases WHERE run_id = ? ORDER BY started_at, name",
                [run_id],
            )
        return [_phase(r) for r in rows]

    # --- artifacts

    def add_artifact(
        self,
        run_id: str,
        phase: str,
        path: str,
        *,
        kind: str | None = None,
        commit_sha: str | None = None,
    ) -> Artifact:
        """Record a file a phase committed.

        Raises:
            RecordNotFound: no such run.
        """
        _require_text("phase", phase)
        _require_text("path", path)
        at = now_utc()
        doing = f"recording artifact {path} of run {run_id}"
        with translate_errors(doing), self.db.transaction() as cur:
            _require_run(cur, run_id, doing)
            cur.execute(
                f"INSERT INTO artifacts ({_ARTIFACT_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, phase, path, kind, commit_sha, at],
            )
        return Artifact(
            run_id=run_id,
            phase=phase,
            path=path,
            kind=kind,
            commit_sha=commit_sha,
            created_at=utc_aware(at),
        )

    def list_artifacts(self, run_id: str, *, phase: str | None = None) -> list[Artifact]:
        """A run's artifacts (optionally one phase's), in the order they were recorded."""
        where, params = _where(run_id=run_id, phase=phase)
        with translate_errors(f"listing artifacts of run {run_id}"):
            rows = self.db.fetch_dicts(
                f"SELECT {_ARTIFACT_COLS} FROM artifacts {where} ORDER BY created_at, path", params
            )
        return [_artifact(r) for r in rows]


def _require_run(cur: Any, run_id: str, doing: str) -> None:
    """Raise :class:`RecordNotFound` unless the run exists (inside the caller's transaction)."""
    if not cur.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
        raise RecordNotFound(f"{doing}: no such run in the records")


def _assignments(**values: Any) -> tuple[list[str], list[Any]]:
    """``column = ?`` clauses and their parameters for the values that are not None.

    Raises:
        ValueError: a text value is empty.
    """
    sets: list[str] = []
    params: list[Any] = []
    for column, value in values.items():
        if value is not None:
            if isinstance(value, str):
                _require_text(column, value)
            sets.append(f"{column} = ?")
            params.append(value)
    return sets, params


def _where(**filters: Any) -> tuple[str, list[Any]]:
    """A WHERE clause over the given columns, skipping None values."""
    clauses = [f"{col} = ?" for col, val in filters.items() if val is not None]
    params = [val for val in filters.values() if val is not None]
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


_USAGE_COLS = (
    "run_id, phase, role, repo, issue_number, provider, model, input_tokens, output_tokens,"
    " cached_tokens, cost_usd, latency_ms, ok, error, created_at"
)


class DuckDBLedger:
    """The :class:`agents.usage.UsageLedger` backed by the ``model_usage`` table.

    Args:
        db: The writer :class:`Database` (``spent`` also works read-only).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, usage: UsageRecord) -> None:
        """Store one model call's usage."""
        u = usage
        doing = f"recording model usage of {u.provider}/{u.model}"
        with translate_errors(doing), self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO model_usage ({_USAGE_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    u.run_id,
                    u.phase,
                    u.role,
                    u.repo,
                    u.issue_number,
                    u.provider,
                    u.model,
                    u.input_tokens,
                    u.output_tokens,
                    u.cached_tokens,
                    u.cost_usd,
                    u.latency_ms,
                    u.ok,
                    u.error,
                    utc_naive(u.created_at),
                ],
            )

    def spent(
        self,
        *,
        run_id: str | None = None,
        phase: str | None = None,
        repo: str | None = None,
        issue_number: int | None = None,
        since: datetime | None = None,
    ) -> float:
        """Total cost in USD of the calls matching every given filter (0.0 if none)."""
        where, params = _where(run_id=run_id, phase=phase, repo=repo, issue_number=issue_number)
        if since is not None:
            where = f"{where} AND created_at >= ?" if where else "WHERE created_at >= ?"
            params.append(utc_naive(since))
        with translate_errors("summing model spend"):
            row = self.db.fetchone(f"SELECT sum(cost_usd) FROM model_usage {where}", params)
        return float(row[0]) if row and row[0] is not None else 0.0
