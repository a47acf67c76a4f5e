"""Schema of the model-layer sections of ``.agentforge/config.yaml``.

``models`` (providers, routes per role, cascade, retries), ``budgets`` (money, calls and
tokens), ``privacy`` (what makes work sensitive) and ``prices`` (USD per million
tokens). Every section is valid with no arguments: the shipped defaults in
``agents/defaults/*.yaml`` apply, and a repository overrides them key by key —
providers field by field, routes role by role, prices model by model. Set
``models.use_shipped_defaults: false`` to start from nothing.

Credentials never live here: a provider names the environment variable holding its
key (``api_key_env``); the key itself is read from the process environment.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

PROVIDER_KINDS = ("anthropic", "openai")
"""Wire protocols we speak: Anthropic messages, OpenAI(-compatible) chat completions."""

DEFAULT_ROUTE_KEY = "default"
"""Routes under this key serve every role without a list of its own."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


@cache
def _shipped(name: str) -> dict[str, Any]:
    text = resources.files("agents.defaults").joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise TypeError(f"shipped defaults {name} must be a mapping")
    return data


def shipped_models() -> dict[str, Any]:
    """The shipped ``models`` section (providers and routes) as plain data."""
    return _shipped("models.yaml")


def shipped_prices() -> dict[str, Any]:
    """The shipped price table as plain data."""
    return _shipped("prices.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Strict):
    """One model provider (an API endpoint speaking one wire protocol).

    Attributes:
        kind: ``anthropic`` (messages API) or ``openai`` (chat completions; also Ollama,
            vLLM, llama.cpp server, LM Studio through ``base_url``).
        base_url: API root, e.g. ``http://localhost:11434/v1``; the SDK default if unset.
        api_key_env: Environment variable holding the API key; unset for local servers
            that need none.
        local: The server runs on infrastructure you control; only local providers may
            receive sensitive work.
        timeout_s: Seconds before one request is abandoned (and retried).
    """

    kind: Literal["anthropic", "openai"]
    base_url: str | None = None
    api_key_env: str | None = None
    local: bool = False
    timeout_s: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("base_url must start with http:// or https:// and name a host")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "api_key_env is the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                "never the key itself"
            )
        return value

    @model_validator(mode="after")
    def _coherent(self) -> ProviderConfig:
        if self.local and self.base_url is None:
            raise ValueError("a local provider needs base_url (where the server listens)")
        if not self.local and self.api_key_env is None:
            raise ValueError(
                "a cloud provider needs api_key_env (the variable holding its key); "
                "set local: true for a server you run yourself"
            )
        return self


class RouteConfig(_Strict):
    """One model route: which model of which provider, with what limits.

    Attributes:
        provider: Name of a provider under ``models.providers``.
        model: Model id as the provider knows it.
        max_tokens: Largest completion requested per call.
        temperature: Sampling temperature (0-2; Anthropic accepts 0-1).
        max_task_tokens: If set, the route serves only tasks whose prompt is at most
            this many tokens (a cheaper model for small tasks).
    """

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    max_tokens: int = Field(default=4096, gt=0, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_task_tokens: int | None = Field(default=None, gt=0)


class CascadeConfig(_Strict):
    """Escalation from a cheaper route to the next one when the output is not good enough.

    Attributes:
        enabled: Escalate at all.
        min_confidence: Outputs whose confidence is below this escalate (0-1).
    """

    enabled: bool = True
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class RetryConfig(_Strict):
    """Retries of one route before the next route is tried.

    Attributes:
        max_attempts: Attempts per route for 429 / 5xx / timeouts / connection errors.
        initial_backoff_s: First wait; doubles after each failure.
        max_backoff_s: Longest computed wait.
        max_retry_after_s: A provider's ``retry-after`` is honoured up to this bound;
            a longer demand moves on to the next route at once.
    """

    max_attempts: int = Field(default=3, ge=1, le=10)
    initial_backoff_s: float = Field(default=1.0, ge=0.0, le=60.0)
    max_backoff_s: float = Field(default=30.0, ge=0.0, le=600.0)
    max_retry_after_s: float = Field(default=60.0, ge=0.0, le=3600.0)


def _merge_defaults(data: Any, shipped: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        return data
    if data.get("use_shipped_defaults", True) is False:
        return data
    merged = dict(data)
    user_providers = data.get("providers") or {}
    if isinstance(user_providers, dict):
        providers: dict[str, Any] = {k: dict(v) for k, v in shipped["providers"].items()}
        for name, value in user_providers.items():
            base = providers.get(name, {})
            if isinstance(value, dict):
                # A repository usually changes one field (base_url); keep the rest.
                providers[name] = {**base, **value}
            else:
                providers[name] = value
        merged["providers"] = providers
    user_routes = data.get("routes") or {}
    if isinstance(user_routes, dict):
        merged["routes"] = {**shipped["routes"], **user_routes}
    return merged


class ModelsConfig(_Strict):
    """The ``models`` section: providers, routes per role, cascade and retries.

    Attributes:
        use_shipped_defaults: Merge the shipped providers and routes under these.
        providers: Provider name → definition.
        routes: Role name (or ``default``) → ordered routes; the first usable route is
            tried first, later ones are fallbacks and cascade escalations.
        cascade: Escalation rule.
        retry: Retry rule per route.
    """

    use_shipped_defaults: bool = True
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routes: dict[str, list[RouteConfig]] = Field(default_factory=dict)
    cascade: CascadeConfig = Field(default_factory=CascadeConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @model_validator(mode="wrap")
    @classmethod
    def _defaults_and_references(cls, data: Any, handler: Any) -> ModelsConfig:
        config = handler(_merge_defaults(data, shipped_models()))
        errors: list[InitErrorDetails] = []
        for name in config.providers:
            if not _NAME.match(name):
                errors.append(
                    _err(
                        "bad_name",
                        "provider names are lowercase: a-z 0-9 . _ -",
                        ("providers", name),
                        name,
                    )
                )
        for role, routes in config.routes.items():
            for i, route in enumerate(routes):
                loc = ("routes", role, i, "provider")
                provider = config.providers.get(route.provider)
                if provider is None:
                    known = ", ".join(sorted(config.providers)) or "none"
                    errors.append(
                        _err(
                            "unknown_provider",
                            f"route uses provider '{route.provider}', which is not defined under "
                            f"models.providers (defined: {known})",
                            loc,
                            route.provider,
                        )
                    )
                elif (
                    provider.kind == "anthropic"
                    and route.temperature is not None
                    and route.temperature > 1.0
                ):
                    errors.append(
                        _err(
                            "temperature_range",
                            "Anthropic accepts a temperature between 0 and 1",
                            ("routes", role, i, "temperature"),
                            route.temperature,
                        )
                    )
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return config

    def routes_for(self, role: str) -> list[RouteConfig]:
        """The ordered routes of ``role``, or the ``default`` routes if it has none."""
        if role in self.routes:
            return list(self.routes[role])
        return list(self.routes.get(DEFAULT_ROUTE_KEY, []))


def _err(kind: str, message: str, loc: tuple, value: Any) -> InitErrorDetails:
    # Pydantic formats the message template; braces in user values must not be read as
    # placeholders.
    safe = message.replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(type=PydanticCustomError(kind, safe), loc=loc, input=value)


class BudgetsConfig(_Strict):
    """The ``budgets`` section. ``null`` means "no limit" and must be written explicitly.

    Attributes:
        per_run_usd: Spend of one workflow run.
        per_phase_usd: Spend of one phase of a run.
        per_issue_usd: Spend on one issue across all its runs.
        per_repo_month_usd: Spend of the repository in the current calendar month (UTC).
        max_calls_per_phase: Model calls one role may make while working one phase.
        max_tokens_per_call: Prompt plus completion tokens of one call.
        max_tokens_per_phase: Prompt plus completion tokens of one phase.
    """

    per_run_usd: float | None = Field(default=5.0, ge=0)
    per_phase_usd: float | None = Field(default=2.0, ge=0)
    per_issue_usd: float | None = Field(default=20.0, ge=0)
    per_repo_month_usd: float | None = Field(default=200.0, ge=0)
    max_calls_per_phase: int | None = Field(default=200, ge=1)
    max_tokens_per_call: int | None = Field(default=250_000, ge=1)
    max_tokens_per_phase: int | None = Field(default=5_000_000, ge=1)


class PrivacyConfig(_Strict):
    """The ``privacy`` section: what makes work sensitive (local models only).

    Attributes:
        sensitive_labels: Issue/MR labels (case-insensitive) that mark work sensitive.
        sensitive_repos: Repository full names or globs (``acme/secret-*``).
        sensitive_paths: Path globs; work touching a matching path is sensitive. ``*``
            matches across ``/``; a pattern ending in ``/`` matches everything below.
        all_sensitive: Treat every task of this repository as sensitive.
    """

    sensitive_labels: list[str] = Field(default_factory=lambda: ["sensitive"])
    sensitive_repos: list[str] = Field(default_factory=list)
    sensitive_paths: list[str] = Field(default_factory=list)
    all_sensitive: bool = False

    @field_validator("sensitive_labels", "sensitive_repos", "sensitive_paths")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip():
                raise ValueError("entries must not be empty")
        return values


class ModelPrice(_Strict):
    """USD per million tokens for one model.

    Attributes:
        input: Prompt tokens not served from cache.
        output: Completion tokens.
        cached_input: Prompt tokens read from the provider's cache (``input`` if unset).
    """

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)

    @property
    def cached_rate(self) -> float:
        """The cached-prompt rate, falling back to the input rate."""
        return self.input if self.cached_input is None else self.cached_input


class PricesConfig(RootModel[dict[str, ModelPrice]]):
    """The ``prices`` section: model id → :class:`ModelPrice`, over the shipped table."""

    root: dict[str, ModelPrice] = Field(
        default_factory=lambda: {k: ModelPrice(**v) for k, v in shipped_prices().items()}
    )

    @model_validator(mode="before")
    @classmethod
    def _merge(cls, data: Any) -> Any:
        if data is None or data == {}:
            return dict(shipped_prices())
        if isinstance(data, dict):
            return {**shipped_prices(), **data}
        return data

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model``: exact id, else the longest id it extends with ``-``."""
        if model in self.root:
            return self.root[model]
        best: str | None = None
        for key in self.root:
            if model.startswith(key + "-") and (best is None or len(key) > len(best)):
                best = key
        return self.root[best] if best is not None else None


def unpriced_routes(models: ModelsConfig, prices: PricesConfig) -> list[tuple[str, int, str]]:
    """Routes on cloud providers whose model has no price (budgets could not hold).

    Returns:
        ``(role, index, model)`` for each such route.
    """
    out = []
    for role, routes in models.routes.items():
        for i, route in enumerate(routes):
            provider = models.providers.get(route.provider)
            if provider is not None and not provider.local and prices.lookup(route.model) is None:
                out.append((role, i, route.model))
    return out
