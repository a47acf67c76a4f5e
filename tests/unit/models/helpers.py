"""Helpers shared by the model-layer tests."""

from __future__ import annotations

from bot.repoconfig.models import BudgetsConfig, ModelsConfig, PricesConfig


def models_config(
    routes: dict, *, anthropic_url: str | None = None, openai_url: str | None = None, **extra
) -> ModelsConfig:
    """Models config with only the given routes, on fakes' base URLs."""
    providers: dict = {}
    if anthropic_url:
        providers["anthropic"] = {
            "kind": "anthropic",
            "base_url": anthropic_url,
            "api_key_env": "ANTHROPIC_API_KEY",
        }
    if openai_url:
        providers["openai"] = {
            "kind": "openai",
            "base_url": openai_url,
            "api_key_env": "OPENAI_API_KEY",
        }
        providers["local"] = {"kind": "openai", "base_url": openai_url, "local": True}
    return ModelsConfig(use_shipped_defaults=False, providers=providers, routes=routes, **extra)


ENV = {"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test"}
PRICES = PricesConfig()
UNLIMITED = BudgetsConfig(
    per_run_usd=None,
    per_phase_usd=None,
    per_issue_usd=None,
    per_repo_month_usd=None,
    max_calls_per_phase=None,
    max_tokens_per_call=None,
    max_tokens_per_phase=None,
)
