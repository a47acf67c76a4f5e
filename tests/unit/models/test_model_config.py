"""The models/budgets/privacy/prices config sections: defaults, merging, precise errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.repoconfig.models import (
    BudgetsConfig,
    ModelsConfig,
    PricesConfig,
    PrivacyConfig,
    unpriced_routes,
)


def locs(exc: ValidationError) -> set[tuple]:
    return {(e["loc"], e["type"]) for e in exc.errors()}


def test_every_section_is_valid_without_arguments():
    m = ModelsConfig()
    assert {"anthropic", "openai", "ollama"} <= set(m.providers)
    assert m.routes_for("architect") == m.routes["default"]
    assert m.routes_for("developer")[0].max_task_tokens is not None
    assert BudgetsConfig().per_run_usd > 0
    assert PrivacyConfig().sensitive_labels == ["sensitive"]
    assert PricesConfig().lookup("claude-sonnet-4-5").output == 15.0
    assert unpriced_routes(m, PricesConfig()) == []


def test_repository_overrides_merge_over_shipped_defaults():
    m = ModelsConfig(
        providers={"ollama": {"base_url": "http://gpu:11434/v1"}},
        routes={"developer": [{"provider": "ollama", "model": "qwen2.5-coder"}]},
    )
    assert m.providers["ollama"].local and m.providers["ollama"].base_url == "http://gpu:11434/v1"
    assert [r.model for r in m.routes_for("developer")] == ["qwen2.5-coder"]
    assert m.routes_for("writer") == ModelsConfig().routes["writer"]


def test_shipped_defaults_can_be_switched_off():
    m = ModelsConfig(use_shipped_defaults=False)
    assert m.providers == {} and m.routes_for("developer") == []


@pytest.mark.parametrize(
    ("data", "loc", "kind"),
    [
        (
            {"routes": {"qa": [{"provider": "antropic", "model": "x"}]}},
            ("routes", "qa", 0, "provider"),
            "unknown_provider",
        ),
        (
            {"routes": {"qa": [{"provider": "anthropic", "model": "x", "temperature": 1.5}]}},
            ("routes", "qa", 0, "temperature"),
            "temperature_range",
        ),
        (
            {"routes": {"qa": [{"provider": "openai", "model": "x", "temperature": 2.5}]}},
            ("routes", "qa", 0, "temperature"),
            "less_than_equal",
        ),
        (
            {"routes": {"qa": [{"provider": "openai", "model": "x", "max_tokens": 0}]}},
            ("routes", "qa", 0, "max_tokens"),
            "greater_than",
        ),
        (
            {"routes": {"qa": [{"provider": "openai", "model": "x", "max_tokenz": 5}]}},
            ("routes", "qa", 0, "max_tokenz"),
            "extra_forbidden",
        ),
        (
            {"providers": {"mine": {"kind": "gemini", "api_key_env": "K"}}},
            ("providers", "mine", "kind"),
            "literal_error",
        ),
        (
            {"providers": {"mine": {"kind": "openai", "local": True}}},
            ("providers", "mine"),
            "value_error",
        ),
        (
            {"providers": {"mine": {"kind": "openai", "base_url": "http://x/v1"}}},
            ("providers", "mine"),
            "value_error",
        ),
        (
            {"providers": {"mine": {"kind": "openai", "api_key_env": "sk-abc-123"}}},
            ("providers", "mine", "api_key_env"),
            "value_error",
        ),
        (
            {"providers": {"mine": {"kind": "openai", "base_url": "localhost:1", "local": True}}},
            ("providers", "mine", "base_url"),
            "value_error",
        ),
        ({"cascade": {"min_confidence": 1.2}}, ("cascade", "min_confidence"), "less_than_equal"),
        ({"retry": {"max_attempts": 0}}, ("retry", "max_attempts"), "greater_than_equal"),
        ({"rutes": {}}, ("rutes",), "extra_forbidden"),
    ],
)
def test_models_errors_name_the_field(data, loc, kind):
    with pytest.raises(ValidationError) as info:
        ModelsConfig(**data)
    assert (loc, kind) in locs(info.value)


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"per_run_usd": -1}, ("per_run_usd",)),
        ({"max_calls_per_phase": 0}, ("max_calls_per_phase",)),
        ({"per_month": 5}, ("per_month",)),
    ],
)
def test_budget_errors(data, loc):
    with pytest.raises(ValidationError) as info:
        BudgetsConfig(**data)
    assert loc in {e["loc"] for e in info.value.errors()}


def test_budgets_null_means_no_limit():
    assert BudgetsConfig(per_run_usd=None).per_run_usd is None


def test_privacy_rejects_blank_entries_and_typos():
    with pytest.raises(ValidationError):
        PrivacyConfig(sensitive_labels=[" "])
    with pytest.raises(ValidationError):
        PrivacyConfig(sensitive_label=["x"])


def test_prices_override_extend_and_match_dated_ids():
    p = PricesConfig({"gpt-4.1": {"input": 9, "output": 9}, "my-model": {"input": 1, "output": 2}})
    assert p.lookup("gpt-4.1").input == 9
    assert p.lookup("gpt-4.1").cached_rate == 9  # falls back to the input rate
    assert p.lookup("gpt-4.1-mini").input == 0.4  # the longer exact key wins
    assert p.lookup("claude-sonnet-4-5-20250929").input == 3.0
    assert p.lookup("claude-sonnet") is None
    with pytest.raises(ValidationError):
        PricesConfig({"x": {"input": -1, "output": 1}})


def test_unpriced_cloud_routes_are_reported_local_ones_are_free():
    m = ModelsConfig(
        routes={
            "qa": [
                {"provider": "openai", "model": "gpt-99"},
                {"provider": "ollama", "model": "llama3.1"},
            ]
        }
    )
    assert unpriced_routes(m, PricesConfig()) == [("qa", 0, "gpt-99")]
