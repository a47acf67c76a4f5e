"""Budget policy: a table of spends and estimates, and the limit each breaks."""

from __future__ import annotations

import pytest

from bot.repoconfig.models import BudgetsConfig
from policies.budgets import Spend, check_call, fit_max_tokens, format_amount

B = BudgetsConfig(
    per_run_usd=5,
    per_phase_usd=2,
    per_issue_usd=20,
    per_repo_month_usd=100,
    max_calls_per_phase=10,
    max_tokens_per_call=1000,
    max_tokens_per_phase=5000,
)


@pytest.mark.parametrize(
    ("spend", "usd", "tokens", "scope"),
    [
        (Spend(), 0.1, 100, None),
        (Spend(run=4.9, phase=1.0), 0.1, 100, None),  # exactly at the limit is allowed
        (Spend(run=4.95), 0.1, 100, "run"),
        (Spend(phase=1.95), 0.1, 100, "phase"),
        (Spend(issue=19.95), 0.1, 100, "issue"),
        (Spend(repo_month=99.95), 0.1, 100, "repo_month"),
        (Spend(phase_calls=10), 0.0, 1, "phase_calls"),
        (Spend(phase_tokens=4950), 0.0, 100, "phase_tokens"),
        (Spend(run=6, phase=3), 0.0, 0, "run"),  # the first broken scope is reported
    ],
)
def test_check_call(spend, usd, tokens, scope):
    stop = check_call(B, spend, estimate_usd=usd, estimate_tokens=tokens)
    assert (stop.scope if stop else None) == scope
    if stop:
        assert stop.config_key.startswith("budgets.")


def test_no_limits():
    none = BudgetsConfig(
        per_run_usd=None,
        per_phase_usd=None,
        per_issue_usd=None,
        per_repo_month_usd=None,
        max_calls_per_phase=None,
        max_tokens_per_phase=None,
        max_tokens_per_call=None,
    )
    assert (
        check_call(none, Spend(run=1e9, phase_calls=10**9), estimate_usd=1e9, estimate_tokens=10**9)
        is None
    )
    assert fit_max_tokens(none, 10**9, 50) == 50


def test_fit_max_tokens():
    assert fit_max_tokens(B, 100, 500) == 500
    assert fit_max_tokens(B, 800, 500) == 200
    assert fit_max_tokens(B, 1000, 500) is None


def test_format_amount():
    assert format_amount(1.5, "usd") == "$1.50"
    assert format_amount(0.0042, "usd") == "$0.0042"
    assert format_amount(1234, "tokens") == "1,234 tokens"
