"""Budget policy: may a model call of this estimated size be made, given what was spent?

A pure function over numbers: the caller (``agents.budget``) reads the spend from the
usage ledger and counts calls and tokens; this module only compares them with the
limits in ``.agentforge/config.yaml`` (``budgets:``). A limit of ``null`` means none.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.repoconfig.models import BudgetsConfig

CONFIG_FILE = ".agentforge/config.yaml"


@dataclass(frozen=True)
class Spend:
    """What has already been spent in each scope.

    Attributes:
        run: USD of the current run.
        phase: USD of the current phase.
        issue: USD on the issue across its runs.
        repo_month: USD of the repository this calendar month (UTC).
        phase_calls: Model calls made in the current phase.
        phase_tokens: Prompt plus completion tokens of the current phase.
    """

    run: float = 0.0
    phase: float = 0.0
    issue: float = 0.0
    repo_month: float = 0.0
    phase_calls: int = 0
    phase_tokens: int = 0


@dataclass(frozen=True)
class BudgetStop:
    """A call that would break a limit.

    Attributes:
        scope: ``run``, ``phase``, ``issue``, ``repo_month``, ``phase_calls``,
            ``phase_tokens`` or ``call_tokens``.
        limit: The configured limit.
        spent: What was already spent in that scope.
        needed: What the refused call would have added (its pre-call estimate).
        unit: ``usd``, ``calls`` or ``tokens``.
        config_key: The key to raise, e.g. ``budgets.per_run_usd``.
    """

    scope: str
    limit: float
    spent: float
    needed: float
    unit: str
    config_key: str


# (scope, config field, unit), checked in this order; the first broken one is reported.
_MONEY = (
    ("run", "per_run_usd"),
    ("phase", "per_phase_usd"),
    ("issue", "per_issue_usd"),
    ("repo_month", "per_repo_month_usd"),
)


def check_call(
    budgets: BudgetsConfig, spend: Spend, *, estimate_usd: float, estimate_tokens: int
) -> BudgetStop | None:
    """The first limit a call of this estimate would exceed, or None if it fits all.

    Args:
        budgets: The configured limits.
        spend: What was spent so far.
        estimate_usd: Worst-case cost of the call (prompt estimate + max_tokens).
        estimate_tokens: Worst-case tokens of the call.
    """
    for scope, key in _MONEY:
        limit = getattr(budgets, key)
        spent = getattr(spend, scope)
        if limit is not None and spent + estimate_usd > limit:
            return BudgetStop(scope, limit, spent, estimate_usd, "usd", f"budgets.{key}")
    if (
        budgets.max_calls_per_phase is not None
        and spend.phase_calls + 1 > budgets.max_calls_per_phase
    ):
        return BudgetStop(
            "phase_calls",
            budgets.max_calls_per_phase,
            spend.phase_calls,
            1,
            "calls",
            "budgets.max_calls_per_phase",
        )
    if (
        budgets.max_tokens_per_phase is not None
        and spend.phase_tokens + estimate_tokens > budgets.max_tokens_per_phase
    ):
        return BudgetStop(
            "phase_tokens",
            budgets.max_tokens_per_phase,
            spend.phase_tokens,
            estimate_tokens,
            "tokens",
            "budgets.max_tokens_per_phase",
        )
    return None


def fit_max_tokens(budgets: BudgetsConfig, prompt_tokens: int, max_tokens: int) -> int | None:
    """The completion limit that keeps one call within ``budgets.max_tokens_per_call``.

    Returns:
        ``max_tokens`` or less; None when the prompt alone leaves no room.
    """
    limit = budgets.max_tokens_per_call
    if limit is None:
        return max_tokens
    room = limit - prompt_tokens
    if room <= 0:
        return None
    return min(max_tokens, room)


def format_amount(value: float, unit: str) -> str:
    """``$1.23`` for money, ``1,234 tokens`` / ``12 calls`` otherwise."""
    if unit == "usd":
        return f"${value:,.4f}" if 0 < value < 0.01 else f"${value:,.2f}"
    return f"{int(value):,} {unit}"
