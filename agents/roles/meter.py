"""A usage ledger wrapper that also adds up what one role run spent.

The shell builds the run's :class:`~agents.routing.RoutedModel` on a :class:`UsageMeter`
around the real ledger: every attempt is still recorded (and budgets still read the
real spend), and the run's :class:`~agents.roles.contract.RoleUsage` is the sum of its
own records, failed attempts included.
"""

from __future__ import annotations

import threading
from datetime import datetime

from agents.roles.contract import RoleUsage
from agents.usage import UsageLedger, UsageRecord


class UsageMeter:
    """A :class:`UsageLedger` forwarding to ``inner`` and counting this run's calls.

    Args:
        inner: The real ledger.
    """

    def __init__(self, inner: UsageLedger) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._calls = self._input = self._output = self._cached = 0
        self._cost = 0.0

    def record(self, usage: UsageRecord) -> None:
        """Record in the real ledger and add to this run's totals."""
        self.inner.record(usage)
        with self._lock:
            self._calls += 1
            self._input += usage.input_tokens
            self._output += usage.output_tokens
            self._cached += usage.cached_tokens
            self._cost += usage.cost_usd

    def spent(
        self,
        *,
        run_id: str | None = None,
        phase: str | None = None,
        repo: str | None = None,
        issue_number: int | None = None,
        since: datetime | None = None,
    ) -> float:
        """What the real ledger says was spent (budgets see every run's spend)."""
        return self.inner.spent(
            run_id=run_id, phase=phase, repo=repo, issue_number=issue_number, since=since
        )

    def usage(self, seconds: float = 0.0) -> RoleUsage:
        """This run's totals so far."""
        with self._lock:
            return RoleUsage(
                calls=self._calls,
                input_tokens=self._input,
                output_tokens=self._output,
                cached_tokens=self._cached,
                cost_usd=round(self._cost, 6),
                seconds=round(seconds, 3),
            )
