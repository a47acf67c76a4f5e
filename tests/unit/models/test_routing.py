"""RoutedModel against the wire fakes: fallback, retries, cascade, privacy, budgets, usage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.budget import CallContext
from agents.costs import cost_usd
from agents.routing import RoutedModel
from agents.usage import MemoryLedger, UsageRecord
from bot.errors import (
    BudgetExceeded,
    ContextTooLong,
    MalformedModelResponse,
    ModelRequestRejected,
    ModelUnavailable,
    NoProviderConfigured,
    PrivacyViolation,
)
from bot.repoconfig.models import BudgetsConfig, RetryConfig
from policies.privacy import Sensitivity
from tests.unit.models.helpers import ENV, PRICES, UNLIMITED, models_config

SONNET = {"provider": "anthropic", "model": "claude-sonnet-4-5", "max_tokens": 100}
HAIKU = {"provider": "anthropic", "model": "claude-haiku-4-5", "max_tokens": 100}
GPT = {"provider": "openai", "model": "gpt-4.1", "max_tokens": 100}
LOCAL = {"provider": "local", "model": "llama3.1", "max_tokens": 100}
HI = [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
CTX = CallContext(run_id="r1", phase="build", role="developer", repo="acme/app", issue_number=3)


def routed(models, *, ledger=None, budgets=UNLIMITED, sleeps=None, env=ENV, **kw) -> RoutedModel:
    return RoutedModel(
        role="developer",
        models=models,
        prices=PRICES,
        budgets=budgets,
        ledger=ledger if ledger is not None else MemoryLedger(),
        context=CTX,
        env=env,
        sleep=sleeps if sleeps is not None else (lambda s: None),
        **kw,
    )


def test_fallback_from_failing_primary_records_usage_of_both(anthropic_fake, openai_fake, sleeps):
    for _ in range(3):
        anthropic_fake.error(500)
    openai_fake.reply("from gpt", prompt_tokens=1000, completion_tokens=50, cached_tokens=200)
    ledger = MemoryLedger()
    cfg = models_config(
        {"developer": [SONNET, GPT]},
        anthropic_url=anthropic_fake.base_url,
        openai_url=openai_fake.base_url,
    )
    answer = routed(cfg, ledger=ledger, sleeps=sleeps).generate(HI)
    assert answer.content == "from gpt"
    assert [(r.provider, r.ok) for r in ledger.records] == [
        ("anthropic", False),
        ("anthropic", False),
        ("anthropic", False),
        ("openai", True),
    ]
    assert sleeps.waits == [1.0, 2.0]  # exponential backoff between the three attempts
    ok = ledger.records[-1]
    assert (ok.input_tokens, ok.cached_tokens, ok.output_tokens) == (800, 200, 50)
    assert ok.cost_usd == pytest.approx((800 * 2.0 + 200 * 0.5 + 50 * 8.0) / 1e6)
    assert ok.run_id == "r1" and ok.phase == "build" and ok.issue_number == 3
    assert ledger.spent(run_id="r1") == pytest.approx(sum(r.cost_usd for r in ledger.records))
    assert all(r.latency_ms is not None for r in ledger.records)


def test_retry_after_is_honoured(anthropic_fake, sleeps):
    anthropic_fake.error(429, retry_after=7)
    anthropic_fake.reply("late")
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    assert routed(cfg, sleeps=sleeps).generate(HI).content == "late"
    assert sleeps.waits == [7.0]


def test_retry_after_beyond_the_cap_moves_to_the_next_route(anthropic_fake, openai_fake, sleeps):
    anthropic_fake.error(429, retry_after=3600)
    openai_fake.reply("fallback")
    cfg = models_config(
        {"developer": [SONNET, GPT]},
        anthropic_url=anthropic_fake.base_url,
        openai_url=openai_fake.base_url,
    )
    assert routed(cfg, sleeps=sleeps).generate(HI).content == "fallback"
    assert sleeps.waits == []


def test_timeout_is_retried(openai_fake, sleeps):
    openai_fake.stall(1.0)
    openai_fake.reply("after timeout")
    cfg = models_config({"developer": [GPT]}, openai_url=openai_fake.base_url)
    cfg = cfg.model_copy(
        update={
            "providers": {
                **cfg.providers,
                "openai": cfg.providers["openai"].model_copy(update={"timeout_s": 0.2}),
            }
        }
    )
    ledger = MemoryLedger()
    assert routed(cfg, ledger=ledger, sleeps=sleeps).generate(HI).content == "after timeout"
    assert [r.ok for r in ledger.records] == [False, True]
    assert ledger.records[0].error.startswith("ModelTransientError")


def test_all_routes_failing_raises_model_unavailable(anthropic_fake, openai_fake):
    anthropic_fake.error(503)
    openai_fake.error(502)
    cfg = models_config(
        {"developer": [SONNET, GPT]},
        anthropic_url=anthropic_fake.base_url,
        openai_url=openai_fake.base_url,
        retry=RetryConfig(max_attempts=1),
    )
    ledger = MemoryLedger()
    with pytest.raises(ModelUnavailable):
        routed(cfg, ledger=ledger).generate(HI)
    assert len(ledger.records) == 2


def test_unauthorised_is_reported_at_once_without_fallback(anthropic_fake, openai_fake):
    anthropic_fake.error(401)
    cfg = models_config(
        {"developer": [SONNET, GPT]},
        anthropic_url=anthropic_fake.base_url,
        openai_url=openai_fake.base_url,
    )
    with pytest.raises(ModelRequestRejected) as info:
        routed(cfg).generate(HI)
    assert (info.value.provider, info.value.model) == ("anthropic", "claude-sonnet-4-5")
    assert openai_fake.requests == []


def test_malformed_answer_is_retried_once(openai_fake):
    openai_fake.reply(None, tool_calls=[("final_answer", "{not json")])
    openai_fake.reply(None, tool_calls=[("final_answer", {"answer": 1})])
    cfg = models_config({"developer": [GPT]}, openai_url=openai_fake.base_url)
    answer = routed(cfg).generate(HI)
    assert answer.tool_calls[0].function.arguments == {"answer": 1}


def test_malformed_twice_is_a_typed_error_and_billed(openai_fake):
    openai_fake.reply("", prompt_tokens=40, completion_tokens=0)
    openai_fake.reply("", prompt_tokens=40, completion_tokens=0)
    cfg = models_config({"developer": [GPT]}, openai_url=openai_fake.base_url)
    ledger = MemoryLedger()
    with pytest.raises(MalformedModelResponse):
        routed(cfg, ledger=ledger).generate(HI)
    assert [r.input_tokens for r in ledger.records] == [40, 40]
    assert all(not r.ok for r in ledger.records)


def test_context_too_long_retries_once_with_a_smaller_prompt(anthropic_fake):
    anthropic_fake.error(400, message="prompt is too long: 250000 tokens > 200000 maximum")
    anthropic_fake.reply("fits now")
    seen = []

    def shrink(messages, exc):
        seen.append(type(exc))
        return [{"role": "user", "content": [{"type": "text", "text": "short"}]}]

    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    assert routed(cfg, shrink=shrink).generate(HI).content == "fits now"
    assert seen == [ContextTooLong]
    assert anthropic_fake.requests[1]["messages"][0]["content"][0]["text"] == "short"


def test_context_too_long_without_shrink_gives_up(anthropic_fake):
    anthropic_fake.error(413)
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    with pytest.raises(ContextTooLong):
        routed(cfg).generate(HI)


def test_cascade_escalates_when_the_validator_rejects(anthropic_fake):
    anthropic_fake.reply("weak", input_tokens=10, output_tokens=5)
    anthropic_fake.reply("strong", input_tokens=10, output_tokens=5)
    cfg = models_config({"developer": [HAIKU, SONNET]}, anthropic_url=anthropic_fake.base_url)
    ledger = MemoryLedger()
    model = routed(cfg, ledger=ledger, validator=lambda m: 0.9 if m.content == "strong" else 0.1)
    assert model.generate(HI).content == "strong"
    assert [r.model for r in ledger.records] == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    assert [a["model"] for a in anthropic_fake.requests] == [r.model for r in ledger.records]


def test_cascade_keeps_a_good_cheap_answer(anthropic_fake):
    anthropic_fake.reply("good enough")
    cfg = models_config({"developer": [HAIKU, SONNET]}, anthropic_url=anthropic_fake.base_url)
    assert routed(cfg, validator=lambda m: True).generate(HI).content == "good enough"


def test_size_based_route_choice(anthropic_fake):
    small = {**HAIKU, "max_task_tokens": 50}
    anthropic_fake.reply("small")
    anthropic_fake.reply("big")
    cfg = models_config({"developer": [small, SONNET]}, anthropic_url=anthropic_fake.base_url)
    model = routed(cfg)
    assert model.generate(HI).content == "small"
    big = [{"role": "user", "content": [{"type": "text", "text": "x" * 3000}]}]
    assert model.generate(big).content == "big"
    assert [r["model"] for r in anthropic_fake.requests] == [
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
    ]


def test_sensitive_work_with_only_cloud_routes_is_refused(anthropic_fake, openai_fake):
    cfg = models_config(
        {"developer": [SONNET, GPT]},
        anthropic_url=anthropic_fake.base_url,
        openai_url=openai_fake.base_url,
    )
    ledger = MemoryLedger()
    model = routed(cfg, ledger=ledger, sensitivity=Sensitivity(True, ("label 'sensitive'",)))
    with pytest.raises(PrivacyViolation):
        model.generate(HI)
    assert anthropic_fake.requests == [] and openai_fake.requests == [] and ledger.records == []


def test_sensitive_work_goes_only_to_the_local_route(openai_fake):
    openai_fake.keyless_ok = True
    openai_fake.reply("local answer")
    cfg = models_config({"developer": [GPT, LOCAL]}, openai_url=openai_fake.base_url)
    ledger = MemoryLedger()
    model = routed(cfg, ledger=ledger, sensitivity=Sensitivity(True, ("path secrets/x",)))
    assert model.generate(HI).content == "local answer"
    assert [r["model"] for r in openai_fake.requests] == ["llama3.1"]
    assert ledger.records[0].provider == "local" and ledger.records[0].cost_usd == 0.0


def test_budget_stop_before_the_call(anthropic_fake):
    ledger = MemoryLedger()
    ledger.record(
        UsageRecord(
            run_id="r1",
            phase="design",
            repo="acme/app",
            issue_number=3,
            provider="anthropic",
            model="claude-sonnet-4-5",
            cost_usd=0.999,
        )
    )
    budgets = UNLIMITED.model_copy(update={"per_run_usd": 1.0})
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    with pytest.raises(BudgetExceeded) as info:
        routed(cfg, ledger=ledger, budgets=budgets).generate(HI)
    assert (info.value.scope, info.value.limit, info.value.spent) == ("run", 1.0, 0.999)
    assert info.value.stop.config_key == "budgets.per_run_usd"
    assert anthropic_fake.requests == [] and len(ledger.records) == 1


def test_budget_stops_a_run_once_spend_reaches_the_phase_limit(anthropic_fake):
    # Each call costs (1000*3 + 100*15)/1e6 = $0.0045; worst case with max_tokens=100 is
    # prompt*3e-6 + 0.0015. A $0.006 phase limit admits the first call only.
    anthropic_fake.reply("one", input_tokens=1000, output_tokens=100)
    budgets = UNLIMITED.model_copy(update={"per_phase_usd": 0.006})
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    ledger = MemoryLedger()
    model = routed(cfg, ledger=ledger, budgets=budgets)
    model.generate(HI)
    with pytest.raises(BudgetExceeded) as info:
        model.generate(HI)
    assert info.value.scope == "phase"
    assert info.value.spent == pytest.approx(0.0045)
    assert ledger.spent(run_id="r1", phase="build") <= 0.006


def test_monthly_repo_budget_counts_only_this_month(anthropic_fake):
    ledger = MemoryLedger()
    old = datetime(2000, 1, 1, tzinfo=UTC)
    ledger.record(
        UsageRecord(repo="acme/app", provider="x", model="y", cost_usd=50.0, created_at=old)
    )
    anthropic_fake.reply("fine")
    budgets = UNLIMITED.model_copy(update={"per_repo_month_usd": 10.0})
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    assert routed(cfg, ledger=ledger, budgets=budgets).generate(HI).content == "fine"


def test_call_limit_per_phase(anthropic_fake):
    anthropic_fake.reply("1")
    budgets = UNLIMITED.model_copy(update={"max_calls_per_phase": 1})
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    model = routed(cfg, budgets=budgets)
    model.generate(HI)
    with pytest.raises(BudgetExceeded) as info:
        model.generate(HI)
    assert info.value.scope == "phase_calls"


def test_tokens_per_call_caps_max_tokens_and_refuses_huge_prompts(anthropic_fake):
    anthropic_fake.reply("capped")
    budgets = UNLIMITED.model_copy(update={"max_tokens_per_call": 60})
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    model = routed(cfg, budgets=budgets)
    model.generate(HI)
    sent = anthropic_fake.requests[0]["max_tokens"]
    assert 0 < sent < 100
    with pytest.raises(BudgetExceeded) as info:
        model.generate([{"role": "user", "content": [{"type": "text", "text": "y" * 600}]}])
    assert info.value.scope == "call_tokens"


def test_no_credentials_names_the_variables(anthropic_fake, openai_fake):
    cfg = models_config(
        {"developer": [SONNET, GPT]},
        anthropic_url=anthropic_fake.base_url,
        openai_url=openai_fake.base_url,
    )
    with pytest.raises(NoProviderConfigured) as info:
        routed(cfg, env={}).generate(HI)
    assert "ANTHROPIC_API_KEY" in str(info.value) and "OPENAI_API_KEY" in str(info.value)


def test_role_without_routes_cannot_start():
    cfg = models_config({})
    with pytest.raises(NoProviderConfigured):
        routed(cfg).generate(HI)


def test_unpriced_cloud_model_is_refused_before_the_call(anthropic_fake):
    cfg = models_config(
        {"developer": [{"provider": "anthropic", "model": "claude-unknown"}]},
        anthropic_url=anthropic_fake.base_url,
    )
    with pytest.raises(ModelRequestRejected):
        routed(cfg).generate(HI)
    assert anthropic_fake.requests == []


def test_recorded_cost_matches_tokens_times_price_table(anthropic_fake):
    anthropic_fake.reply("a", input_tokens=1234, output_tokens=567, cache_read_input_tokens=890)
    cfg = models_config({"developer": [SONNET]}, anthropic_url=anthropic_fake.base_url)
    ledger = MemoryLedger()
    routed(cfg, ledger=ledger, budgets=BudgetsConfig()).generate(HI)
    (rec,) = ledger.records
    price = PRICES.lookup("claude-sonnet-4-5")
    expected = (1234 * price.input + 890 * price.cached_rate + 567 * price.output) / 1e6
    assert rec.cost_usd == pytest.approx(expected)
    assert rec.cost_usd == pytest.approx(
        cost_usd(price, input_tokens=1234, output_tokens=567, cached_tokens=890)
    )
    assert ledger.spent(repo="acme/app", issue_number=3) == pytest.approx(expected)
