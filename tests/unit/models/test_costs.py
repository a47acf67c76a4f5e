"""Price arithmetic, the pre-run estimate and the budget-stop text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.budget import BudgetGuard, CallContext, format_budget_stop, month_start
from agents.costs import PhasePlan, cost_usd, estimate_run, format_estimate, price_for
from agents.usage import MemoryLedger, UsageRecord
from bot.errors import BudgetExceeded, ModelRequestRejected
from bot.repoconfig.models import BudgetsConfig, ModelPrice, ModelsConfig, PricesConfig, RouteConfig
from policies.budgets import BudgetStop


def test_cost_uses_each_rate():
    price = ModelPrice(input=3, output=15, cached_input=0.3)
    assert cost_usd(price, input_tokens=1_000_000, output_tokens=0) == pytest.approx(3)
    assert cost_usd(price, input_tokens=0, output_tokens=2_000_000) == pytest.approx(30)
    assert cost_usd(price, input_tokens=0, output_tokens=0, cached_tokens=1_000_000) == (
        pytest.approx(0.3)
    )


def test_price_for_local_is_free_and_unpriced_cloud_is_refused():
    m, p = ModelsConfig(), PricesConfig()
    assert price_for(m, p, RouteConfig(provider="ollama", model="llama3.1")).output == 0
    with pytest.raises(ModelRequestRejected):
        price_for(m, p, RouteConfig(provider="openai", model="gpt-99"))


def test_estimate_run_prices_each_phase_on_its_first_route():
    plans = [
        PhasePlan("design", "architect", context_tokens=20_000, calls=2, output_tokens=1000),
        PhasePlan("build", "developer", context_tokens=4_000, calls=1, output_tokens=500),
    ]
    est = estimate_run(plans, ModelsConfig(), PricesConfig())
    design, build = est.phases
    assert design.model == "claude-sonnet-4-5" and build.model == "claude-haiku-4-5"
    assert design.input_tokens == 20_000 + 21_000
    assert design.usd == pytest.approx((41_000 * 3 + 2_000 * 15) / 1e6)
    assert est.usd == pytest.approx(design.usd + build.usd)
    text = format_estimate(est, spent=0.5, limit=5.0)
    assert "claude-sonnet-4-5" in text and "$0.50" in text and "budgets.per_run_usd" in text


def test_estimate_for_a_role_without_routes_is_zero():
    m = ModelsConfig(use_shipped_defaults=False)
    est = estimate_run([PhasePlan("build", "developer", 1000)], m, PricesConfig())
    assert est.usd == 0 and est.phases[0].model == "(none)"


def test_budget_stop_text_says_spent_limit_scope_and_key():
    text = format_budget_stop(BudgetStop("issue", 20.0, 19.5, 0.75, "usd", "budgets.per_issue_usd"))
    assert "$19.50" in text and "$20.00" in text and "`budgets.per_issue_usd`" in text
    assert ".agentforge/config.yaml" in text


def test_guard_uses_ledger_scopes_and_own_spend_when_keys_are_unknown():
    ledger = MemoryLedger()
    now = datetime(2026, 5, 17, tzinfo=UTC)
    ledger.record(
        UsageRecord(
            repo="a/b",
            issue_number=1,
            run_id="r",
            phase="p",
            provider="x",
            model="y",
            cost_usd=2.0,
            created_at=now,
        )
    )
    guard = BudgetGuard(
        BudgetsConfig(per_run_usd=None, per_phase_usd=None, per_issue_usd=2.5),
        ledger,
        CallContext(run_id="r", phase="p", repo="a/b", issue_number=1),
        clock=lambda: now,
    )
    spend = guard.spend()
    assert (spend.run, spend.phase, spend.issue, spend.repo_month) == (2.0, 2.0, 2.0, 2.0)
    guard.check(estimate_usd=0.4, estimate_tokens=10)
    with pytest.raises(BudgetExceeded) as info:
        guard.check(estimate_usd=0.6, estimate_tokens=10)
    assert info.value.scope == "issue"
    lonely = BudgetGuard(BudgetsConfig(), ledger, CallContext())
    lonely.note(UsageRecord(provider="x", model="y", cost_usd=0.25, input_tokens=7))
    assert lonely.spend().run == 0.25 and lonely.spend().phase_tokens == 7


def test_month_start():
    assert month_start(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == datetime(
        2026, 3, 1, tzinfo=UTC
    )
