"""Model usage records and the ledger they are written to.

The model layer reports every call as a :class:`UsageRecord`; a :class:`UsageLedger`
stores it and answers "how much was spent in this scope?" for budget checks. The
DuckDB-backed ledger lives in ``bot/store/records.py``; tests may use
:class:`MemoryLedger`. Keeping the protocol here lets ``agents`` record usage without
importing any store.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class UsageRecord(BaseModel):
    """One model call: who asked, which model answered, what it cost.

    Attributes:
        run_id: The workflow run, if any.
        phase: Workflow phase (``design``, ``build``...).
        role: Role that made the call (``developer``...).
        repo: Repository full name.
        issue_number: The issue the run serves.
        provider: ``anthropic``, ``openai``, ``ollama``, ``vllm``...
        model: Model id as sent to the provider.
        input_tokens: Prompt tokens billed at the input rate (excluding cached).
        output_tokens: Completion tokens.
        cached_tokens: Prompt tokens served from the provider's cache.
        cost_usd: Cost from the price table.
        latency_ms: Wall time of the call.
        ok: False when the call failed (failed calls are recorded too).
        error: Error class and short reason when ``ok`` is False.
        created_at: When the call finished.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str | None = None
    phase: str | None = None
    role: str | None = None
    repo: str | None = None
    issue_number: int | None = None
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    ok: bool = True
    error: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class UsageLedger(Protocol):
    """Where usage is recorded and budgets read their spend from."""

    def record(self, usage: UsageRecord) -> None:
        """Store one call's usage."""
        ...

    def spent(
        self,
        *,
        run_id: str | None = None,
        phase: str | None = None,
        repo: str | None = None,
        issue_number: int | None = None,
        since: datetime | None = None,
    ) -> float:
        """Total cost in USD of the calls matching every given filter."""
        ...


class MemoryLedger:
    """An in-memory :class:`UsageLedger` (tests, dry runs)."""

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []
        self._lock = threading.Lock()

    def record(self, usage: UsageRecord) -> None:
        """Store one call's usage."""
        with self._lock:
            self.records.append(usage)

    def spent(
        self,
        *,
        run_id: str | None = None,
        phase: str | None = None,
        repo: str | None = None,
        issue_number: int | None = None,
        since: datetime | None = None,
    ) -> float:
        """Total cost of matching calls."""
        with self._lock:
            rows = list(self.records)
        total = 0.0
        for r in rows:
            if run_id is not None and r.run_id != run_id:
                continue
            if phase is not None and r.phase != phase:
                continue
            if repo is not None and r.repo != repo:
                continue
            if issue_number is not None and r.issue_number != issue_number:
                continue
            if since is not None and r.created_at < since:
                continue
            total += r.cost_usd
        return total
