"""Model providers as smolagents models, and the factory that builds them from config.

Provider SDKs are imported only when a model of that kind is built, so importing this
package stays cheap. Keys come from the process environment (the variable a provider's
``api_key_env`` names), never from repository config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from agents.models.base import Completion, ProviderModel, estimate_prompt_tokens, estimate_tokens
from bot.errors import NoProviderConfigured
from bot.repoconfig.models import ProviderConfig, RouteConfig

__all__ = [
    "Completion",
    "ProviderModel",
    "build_model",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "missing_credentials",
]


def missing_credentials(
    provider: ProviderConfig, env: Mapping[str, str] | None = None
) -> str | None:
    """Why ``provider`` cannot be used, or None if its credentials are present.

    Returns:
        The name of the unset environment variable, or None.
    """
    environ = os.environ if env is None else env
    if provider.api_key_env is None:
        return None
    if environ.get(provider.api_key_env, "").strip():
        return None
    return provider.api_key_env


def build_model(
    name: str,
    provider: ProviderConfig,
    route: RouteConfig,
    env: Mapping[str, str] | None = None,
) -> ProviderModel:
    """A provider model for ``route``.

    Args:
        name: The provider's name in config.
        provider: Its definition.
        route: Model id and limits.
        env: Where keys are read (``os.environ`` by default).

    Raises:
        NoProviderConfigured: The provider's key variable is unset.
    """
    environ = os.environ if env is None else env
    missing = missing_credentials(provider, environ)
    if missing is not None:
        raise NoProviderConfigured(
            f"provider {name} needs its API key in the environment variable {missing}",
            provider=name,
            model=route.model,
        )
    key = environ.get(provider.api_key_env, "").strip() if provider.api_key_env else None
    common = {
        "provider": name,
        "model_id": route.model,
        "base_url": provider.base_url,
        "max_tokens": route.max_tokens,
        "temperature": route.temperature,
        "timeout_s": provider.timeout_s,
    }
    if provider.kind == "anthropic":
        from agents.models.anthropic_model import AnthropicModel

        return AnthropicModel(api_key=key or "", **common)
    from agents.models.openai_model import OpenAICompatModel

    return OpenAICompatModel(api_key=key, **common)
