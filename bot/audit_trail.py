"""Audit rows for what the executor does not see: state changes, commands, refusals,
model calls.

The executor already records every judged action (its verdict: allow, deny,
needs_approval; the commit a push made). This module adds the rest to the same hash
chain (:class:`bot.store.audit.AuditLog`):

==================  =====================================================================
``run.created``     a run was recorded (issue, starter, trigger)
``run.changed``     a run's state, current phase or a phase's state changed
``command``         a person's command was read from a comment (name, comment id)
``refused``         a command or a run start was refused, and why (also when the reply
                    was throttled)
``model.call``      one model call (provider, model, tokens, cost, ok/error)
==================  =====================================================================

:class:`AuditedRunStore` and :class:`AuditedUsageLedger` wrap the real stores, so the
rows are written where the change happens; :class:`ShellAuditTrail` is the handlers'
:class:`handlers.services.AuditTrail`. An audit write that fails raises (fail closed:
the job is retried rather than doing unrecorded work).
"""

from __future__ import annotations

from typing import Any

from agents.usage import UsageLedger, UsageRecord
from bot.store.audit import AuditLog
from handlers.services import RunRecord, RunStore

BOT_ACTOR = "agentforge"
"""The actor of rows the bot writes on its own account."""


def _subject(forge: str, repo: str, issue: int | None) -> str:
    return f"{forge}:{repo}#{issue}" if issue is not None else f"{forge}:{repo}"


def _shape(data: dict[str, Any] | None) -> dict[str, Any]:
    """What counts as the run's state for the audit: outcome and each phase's state."""
    data = data or {}
    phases = data.get("phases") or []
    return {
        "current": data.get("current"),
        "outcome": data.get("outcome"),
        "phases": {
            str(p.get("name")): str(p.get("state"))
            for p in phases
            if isinstance(p, dict) and p.get("name")
        },
    }


class ShellAuditTrail:
    """:class:`handlers.services.AuditTrail` on the audit log.

    Args:
        audit: The audit log.
        forge: The forge of the job's event (part of every subject).
    """

    def __init__(self, audit: AuditLog, forge: str) -> None:
        self.audit = audit
        self.forge = forge

    def record(
        self, actor: str, action: str, *, repo: str, number: int | None, detail: dict[str, Any]
    ) -> None:
        """See :meth:`handlers.services.AuditTrail.record`."""
        self.audit.append(actor, action, _subject(self.forge, repo, number), detail)


class AuditedRunStore:
    """A :class:`handlers.services.RunStore` that writes ``run.created`` and
    ``run.changed`` rows for every new run and every change of its state.

    Args:
        inner: The real run store.
        audit: The audit log.
    """

    def __init__(self, inner: RunStore, audit: AuditLog) -> None:
        self.inner = inner
        self.audit = audit

    def __getattr__(self, name: str) -> Any:
        # Reads (get, active_for_issue, list_runs...) pass through unchanged.
        return getattr(self.inner, name)

    def create(self, **fields: Any) -> RunRecord:
        """See :meth:`handlers.services.RunStore.create`."""
        record = self.inner.create(**fields)
        data = fields.get("data") or {}
        self.audit.append(
            str(data.get("started_by") or BOT_ACTOR),
            "run.created",
            _subject(record.forge, record.repo, record.issue_number),
            {
                "run_id": record.id,
                "state": record.state,
                "phase": record.phase,
                "trigger": data.get("trigger"),
                "workflow": data.get("workflow"),
            },
        )
        return record

    def compare_and_set(self, run_id: str, expected_version: int, **changes: Any):
        """See :meth:`handlers.services.RunStore.compare_and_set`; a row when the run's
        state, phase or a phase's state changed."""
        before = self.inner.get(run_id)
        after = self.inner.compare_and_set(run_id, expected_version, **changes)
        if after is None or before is None:
            return after
        old, new = _shape(before.data), _shape(after.data)
        if before.state == after.state and before.phase == after.phase and old == new:
            return after
        changed = {
            name: {"from": old["phases"].get(name), "to": state}
            for name, state in new["phases"].items()
            if old["phases"].get(name) != state
        }
        self.audit.append(
            BOT_ACTOR,
            "run.changed",
            _subject(after.forge, after.repo, after.issue_number),
            {
                "run_id": run_id,
                "version": after.version,
                "state": {"from": before.state, "to": after.state},
                "phase": {"from": before.phase, "to": after.phase},
                "phases": changed,
                "outcome": new["outcome"],
            },
        )
        return after


class AuditedUsageLedger:
    """A :class:`agents.usage.UsageLedger` that writes a ``model.call`` row per call.

    Args:
        inner: The real ledger.
        audit: The audit log.
    """

    def __init__(self, inner: UsageLedger, audit: AuditLog) -> None:
        self.inner = inner
        self.audit = audit

    def record(self, usage: UsageRecord) -> None:
        """Store the call's usage, then its audit row."""
        self.inner.record(usage)
        u = usage
        self.audit.append(
            BOT_ACTOR,
            "model.call",
            # The ledger does not know the forge: the subject names the repository.
            f"{u.repo}#{u.issue_number}" if u.repo else None,
            {
                "run_id": u.run_id,
                "phase": u.phase,
                "role": u.role,
                "provider": u.provider,
                "model": u.model,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cost_usd": u.cost_usd,
                "ok": u.ok,
                "error": u.error,
            },
        )

    def spent(self, **filters: Any) -> float:
        """See :meth:`agents.usage.UsageLedger.spent`."""
        return self.inner.spent(**filters)
