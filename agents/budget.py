"""Budget enforcement for model calls: read the spend, ask the policy, stop before a breach.

:class:`BudgetGuard` reads what was spent in each scope from a
:class:`~agents.usage.UsageLedger` (run, phase, issue, repository this month), counts the
phase's calls and tokens itself, and raises :class:`~bot.errors.BudgetExceeded` when a
call's worst-case estimate would break any limit. :func:`format_budget_stop` is the
comment the run stops with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.usage import UsageLedger, UsageRecord
from bot.errors import BudgetExceeded
from bot.repoconfig.models import BudgetsConfig
from policies.budgets import CONFIG_FILE, BudgetStop, Spend, check_call, format_amount

_SCOPE_NAMES = {
    "run": "this run",
    "phase": "this phase",
    "issue": "this issue",
    "repo_month": "this repository this month",
    "phase_calls": "model calls in this phase",
    "phase_tokens": "tokens in this phase",
    "call_tokens": "tokens of one call",
}


@dataclass(frozen=True)
class CallContext:
    """Who is calling: the scopes usage is recorded under and budgets are checked in.

    Attributes:
        run_id: Workflow run id.
        phase: Phase name.
        role: Role name.
        repo: Repository full name.
        issue_number: The issue the run serves.
    """

    run_id: str | None = None
    phase: str | None = None
    role: str | None = None
    repo: str | None = None
    issue_number: int | None = None


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class BudgetGuard:
    """Checks every call against every budget before it is made.

    Args:
        budgets: The limits.
        ledger: Where spend is read from (and, through the router, written to).
        context: The scopes of this phase's calls.
        clock: Current time (for the monthly scope).
    """

    def __init__(
        self,
        budgets: BudgetsConfig,
        ledger: UsageLedger,
        context: CallContext,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.budgets = budgets
        self.ledger = ledger
        self.context = context
        self.clock = clock
        self.calls = 0
        self.tokens = 0
        self.session_usd = 0.0

    def spend(self) -> Spend:
        """What was spent so far in each scope.

        A scope whose key is unknown (no run id, no issue...) is measured by what this
        guard's own calls spent, so it is never treated as empty.
        """
        c = self.context
        own = self.session_usd
        run = self.ledger.spent(run_id=c.run_id) if c.run_id else own
        phase = self.ledger.spent(run_id=c.run_id, phase=c.phase) if c.run_id and c.phase else own
        issue = (
            self.ledger.spent(repo=c.repo, issue_number=c.issue_number)
            if c.repo and c.issue_number is not None
            else own
        )
        month = self.ledger.spent(repo=c.repo, since=month_start(self.clock())) if c.repo else own
        return Spend(
            run=run,
            phase=phase,
            issue=issue,
            repo_month=month,
            phase_calls=self.calls,
            phase_tokens=self.tokens,
        )

    def check(self, *, estimate_usd: float, estimate_tokens: int) -> None:
        """Allow the call or raise.

        Raises:
            BudgetExceeded: The call's worst case would break a limit.
        """
        stop = check_call(
            self.budgets, self.spend(), estimate_usd=estimate_usd, estimate_tokens=estimate_tokens
        )
        if stop is not None:
            raise budget_error(stop)

    def note(self, record: UsageRecord) -> None:
        """Count a finished attempt (successful or not) toward the phase's limits."""
        self.calls += 1
        self.tokens += record.input_tokens + record.cached_tokens + record.output_tokens
        self.session_usd += record.cost_usd


def budget_error(stop: BudgetStop) -> BudgetExceeded:
    """The typed error for a stop; its message is :func:`format_budget_stop`'s text."""
    err = BudgetExceeded(
        format_budget_stop(stop), scope=stop.scope, limit=stop.limit, spent=stop.spent
    )
    err.stop = stop
    return err


def format_budget_stop(stop: BudgetStop) -> str:
    """The markdown a run stops with: what was spent, the limit, how to raise it."""
    scope = _SCOPE_NAMES.get(stop.scope, stop.scope)
    return (
        f"**Budget reached — the run stopped before the next model call.** "
        f"Spent {format_amount(stop.spent, stop.unit)} of the "
        f"{format_amount(stop.limit, stop.unit)} limit for {scope}; the next call needed up "
        f"to {format_amount(stop.needed, stop.unit)}. To continue, raise `{stop.config_key}` "
        f"in `{CONFIG_FILE}` on the default branch (or set it to `null` for no limit), "
        f"then ask the bot to retry."
    )
