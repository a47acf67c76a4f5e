"""The DuckDB run store the workflow engine works on (:class:`handlers.services.RunStore`).

Three rules are held by the database, not by check-then-write code:

- **Compare-and-set.** A run changes only through one conditional ``UPDATE ... WHERE
  id = ? AND version = ?`` that bumps the version; of two writers holding the same
  version exactly one gets a row back, the other gets None and decides again.
- **One active run per issue.** ``active_runs`` has the issue as its primary key; a
  run's row there is inserted in the transaction that creates the run and deleted in
  the one that makes it terminal, so a second ``create`` for the issue fails on the
  key (:class:`bot.errors.Conflict`) and a terminal run frees the issue.
- **Artifacts once.** ``artifacts`` is unique on (run, phase, path, commit), so a
  retried phase does not record its files twice.

Recording a run's MR (``compare_and_set(mr_number=...)``) also writes the MR → issue
alias (``mr_aliases``) in the same transaction and tells :mod:`bot.jobs.subjects`, so jobs
about the MR share the issue's ordering subject from then on.
"""

# SQL text is built only from this module's constant column names; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from typing import Any

import duckdb

from bot.errors import Conflict, RecordNotFound
from bot.jobs.subjects import MrAliases
from bot.store.db import Database
from bot.store.records import now_utc, translate_errors, utc_aware
from handlers.services import TERMINAL_STATES, RunRecord

FINISHED_PHASE_STATES = frozenset(
    {"approved", "rejected", "failed", "succeeded", "cancelled", "skipped", "done"}
)
"""Phase states that close a phase (``finished_at`` is set); any other state is open."""

_COLS = (
    "id, forge, repo, issue_number, state, phase, version, branch, mr_number, data,"
    " started_at, updated_at"
)
_TERMINAL = tuple(sorted(TERMINAL_STATES))


def _record(row: tuple) -> RunRecord:
    (run_id, forge, repo, issue, state, phase, version, branch, mr, data, started, updated) = row
    return RunRecord(
        id=run_id,
        forge=forge,
        repo=repo,
        issue_number=issue,
        state=state,
        phase=phase,
        version=version or 1,
        branch=branch,
        mr_number=mr,
        data=json.loads(data) if data else {},
        started_at=utc_aware(started),
        updated_at=utc_aware(updated),
    )


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _number(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _json(data: dict[str, Any]) -> str:
    if not isinstance(data, dict):
        raise ValueError(f"run data must be a JSON object, got {type(data).__name__}")
    try:
        return json.dumps(data, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run data is not JSON-serialisable: {exc}") from exc


class DuckDBRunStore:
    """:class:`handlers.services.RunStore` over the records database.

    Args:
        db: The writer :class:`Database` (reads also work read-only).
        aliases: The in-memory MR → issue map to keep current (by default the one
            shared by everything using ``db``, see :meth:`MrAliases.for_db`).
    """

    def __init__(self, db: Database, *, aliases: MrAliases | None = None) -> None:
        self.db = db
        self.aliases = aliases if aliases is not None else MrAliases.for_db(db)

    # --- reads

    def _one(self, doing: str, where: str, params: list[Any]) -> RunRecord | None:
        with translate_errors(doing):
            row = self.db.fetchone(
                f"SELECT {_COLS} FROM runs WHERE {where}"
                " ORDER BY started_at DESC, version DESC, id DESC LIMIT 1",
                params,
            )
        return _record(row) if row else None

    def get(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        return self._one(f"reading run {run_id}", "id = ?", [run_id])

    def active_for_issue(self, forge: str, repo: str, issue_number: int) -> RunRecord | None:
        """The one non-terminal run of an issue, or None."""
        return self._one(
            f"reading the active run of {forge}:{repo}#{issue_number}",
            "id = (SELECT run_id FROM active_runs WHERE forge = ? AND repo = ?"
            " AND issue_number = ?)",
            [forge, repo, issue_number],
        )

    def latest_for_issue(self, forge: str, repo: str, issue_number: int) -> RunRecord | None:
        """The newest run of an issue in any state, or None."""
        return self._one(
            f"reading the latest run of {forge}:{repo}#{issue_number}",
            "forge = ? AND repo = ? AND issue_number = ?",
            [forge, repo, issue_number],
        )

    def for_mr(self, forge: str, repo: str, mr_number: int) -> RunRecord | None:
        """The newest run whose MR is ``mr_number``, or None."""
        return self._one(
            f"reading the run of {forge}:{repo}!{mr_number}",
            "forge = ? AND repo = ? AND mr_number = ?",
            [forge, repo, mr_number],
        )

    # --- writes

    def list_runs(
        self, *, forge: str, repo: str | None = None, states: list[str] | None = None
    ) -> list[RunRecord]:
        """Runs of ``forge`` (optionally of one repository, in some states), newest first."""
        where, params = ["forge = ?"], [forge]
        if repo is not None:
            where.append("repo = ?")
            params.append(repo)
        if states is not None:
            if not states:
                return []
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(states)
        with translate_errors(f"listing runs of {forge}:{repo or '*'}"):
            rows = self.db.fetchall(
                f"SELECT {_COLS} FROM runs WHERE {' AND '.join(where)}"
                " ORDER BY started_at DESC, id DESC",
                params,
            )
        return [_record(row) for row in rows]

    def create(
        self,
        *,
        run_id: str,
        forge: str,
        repo: str,
        issue_number: int,
        state: str,
        phase: str | None,
        branch: str | None,
        data: dict[str, Any],
    ) -> RunRecord:
        """Record a new run at version 1.

        Raises:
            Conflict: the issue already has an active run, or the id exists.
            ValueError: an argument is empty or out of range.
        """
        _text("run_id", run_id)
        _text("forge", forge)
        _text("repo", repo)
        _text("state", state)
        _number("issue_number", issue_number)
        blob = _json(data)
        at = now_utc()
        doing = f"recording run {run_id} for {forge}:{repo}#{issue_number}"
        with translate_errors(doing):
            try:
                with self.db.transaction() as cur:
                    if state not in TERMINAL_STATES:
                        cur.execute(
                            "INSERT INTO active_runs (forge, repo, issue_number, run_id)"
                            " VALUES (?, ?, ?, ?)",
                            [forge, repo, issue_number, run_id],
                        )
                    cur.execute(
                        f"INSERT INTO runs ({_COLS})"
                        " VALUES (?, ?, ?, ?, ?, ?, 1, ?, NULL, ?, ?, ?)",
                        [run_id, forge, repo, issue_number, state, phase, branch, blob, at, at],
                    )
            except duckdb.ConstraintException as exc:
                raise Conflict(
                    f"{doing}: the issue already has an active run, or run {run_id} exists",
                    forge=forge,
                    operation=doing,
                ) from exc
        record = self.get(run_id)
        if record is None:  # pragma: no cover - the insert above committed
            raise RecordNotFound(f"{doing}: the run vanished after it was written")
        return record

    def compare_and_set(
        self,
        run_id: str,
        expected_version: int,
        *,
        state: str | None = None,
        phase: str | None = None,
        mr_number: int | None = None,
        branch: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> RunRecord | None:
        """Change the run if its version is still ``expected_version`` (None fields stay).

        Returns:
            The updated run (version + 1), or None when another writer got there
            first, the run is terminal, or there is no such run.

        Raises:
            ValueError: a value is empty or out of range.
        """
        sets: list[str] = ["version = version + 1", "updated_at = ?"]
        params: list[Any] = [now_utc()]
        for column, value in (("state", state), ("phase", phase), ("branch", branch)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(_text(column, value))
        if mr_number is not None:
            sets.append("mr_number = ?")
            params.append(_number("mr_number", mr_number))
        if data is not None:
            sets.append("data = ?")
            params.append(_json(data))
        doing = f"updating run {run_id} at version {expected_version}"
        with translate_errors(doing), self.db.transaction() as cur:
            # The one conditional write: whoever matches the version wins, atomically.
            row = cur.execute(
                f"UPDATE runs SET {', '.join(sets)} WHERE id = ? AND version = ?"
                f" AND state NOT IN ({', '.join('?' * len(_TERMINAL))}) RETURNING {_COLS}",
                [*params, run_id, expected_version, *_TERMINAL],
            ).fetchone()
            if row is None:
                return None
            record = _record(row)
            if record.terminal:
                cur.execute("DELETE FROM active_runs WHERE run_id = ?", [run_id])
            if mr_number is not None:
                cur.execute(
                    "INSERT INTO mr_aliases (forge, repo, mr_number, issue_number, run_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (forge, repo, mr_number)"
                    " DO UPDATE SET issue_number = excluded.issue_number,"
                    " run_id = excluded.run_id",
                    [
                        record.forge,
                        record.repo,
                        mr_number,
                        record.issue_number,
                        run_id,
                        now_utc(),
                    ],
                )
        if mr_number is not None:
            # After the commit: the intake path must never see an alias that rolled back.
            self.aliases.add(record.forge, record.repo, mr_number, record.issue_number)
        return record

    def record_phase(
        self,
        run_id: str,
        name: str,
        *,
        role: str | None,
        state: str,
        gate: str | None,
        mr_number: int | None = None,
    ) -> None:
        """Create or update the phase row ``(run_id, name)``.

        A phase entering an open state after a finished one (a rejection's new round)
        restarts its clock; a finished state sets ``finished_at``.

        Raises:
            RecordNotFound: no such run.
            ValueError: an argument is empty or out of range.
        """
        _text("phase name", name)
        _text("state", state)
        if mr_number is not None:
            _number("mr_number", mr_number)
        at = now_utc()
        finished = at if state in FINISHED_PHASE_STATES else None
        doing = f"recording phase {name} of run {run_id}"
        with translate_errors(doing), self.db.transaction() as cur:
            if not cur.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
                raise RecordNotFound(f"{doing}: no such run in the records")
            cur.execute(
                "INSERT INTO phases (run_id, name, role, state, gate, mr_number, started_at,"
                " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, name) DO UPDATE SET"
                " role = coalesce(excluded.role, phases.role),"
                " gate = coalesce(excluded.gate, phases.gate),"
                " mr_number = coalesce(excluded.mr_number, phases.mr_number),"
                " started_at = CASE WHEN excluded.finished_at IS NULL"
                "   AND phases.finished_at IS NOT NULL THEN excluded.started_at"
                "   ELSE phases.started_at END,"
                " state = excluded.state, finished_at = excluded.finished_at",
                [run_id, name, role, state, gate, mr_number, at, finished],
            )

    def add_artifact(
        self, run_id: str, phase: str, path: str, *, kind: str | None, commit_sha: str | None
    ) -> None:
        """Record an artifact once: the same (run, phase, path, commit) is not duplicated.

        Raises:
            RecordNotFound: no such run.
            ValueError: an argument is empty.
        """
        _text("phase", phase)
        _text("path", path)
        doing = f"recording artifact {path} of run {run_id}"
        with translate_errors(doing), self.db.transaction() as cur:
            if not cur.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
                raise RecordNotFound(f"{doing}: no such run in the records")
            # The unique index catches a repeat with a commit; NULL commits are distinct
            # to an index, so the NOT EXISTS covers those (inside the serialised write).
            cur.execute(
                "INSERT INTO artifacts (run_id, phase, path, kind, commit_sha, created_at)"
                " SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM artifacts"
                " WHERE run_id = ? AND phase = ? AND path = ?"
                " AND commit_sha IS NOT DISTINCT FROM ?) ON CONFLICT DO NOTHING",
                [run_id, phase, path, kind, commit_sha, now_utc(), run_id, phase, path, commit_sha],
            )
