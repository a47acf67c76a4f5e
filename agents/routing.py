"""The model a role agent is given: routes, retries, fallbacks, cascade, privacy, budgets.

:class:`RoutedModel` is a smolagents :class:`~smolagents.models.Model`. For every
``generate`` call it:

1. takes the role's routes (``models.routes.<role>`` or ``models.routes.default``),
   keeps only local ones for sensitive work (:mod:`policies.privacy`), drops routes
   whose ``max_task_tokens`` is below the prompt's size, and drops providers whose key
   is not in the environment;
2. before **every** attempt, checks the worst case (prompt estimate + ``max_tokens`` at
   the route's price) against every budget (:class:`agents.budget.BudgetGuard`);
3. retries 429 / 5xx / timeouts / connection errors with backoff honouring
   ``retry-after`` (up to ``models.retry.max_retry_after_s``), then falls back to the
   next route; a malformed answer is retried once; an over-long prompt is retried once
   with the ``shrink`` hook's smaller prompt; 401/400 are reported at once;
4. escalates to the next route when the ``validator`` rejects the answer or rates its
   confidence below ``models.cascade.min_confidence``;
5. records every attempt, failed ones too, in the usage ledger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from smolagents.models import ChatMessage, Model

from agents.budget import BudgetGuard, CallContext, budget_error
from agents.costs import cost_usd, price_for, worst_case_usd
from agents.models import build_model, estimate_prompt_tokens, missing_credentials
from agents.models.base import Completion, ProviderModel
from agents.usage import UsageLedger, UsageRecord
from bot.errors import (
    ContextTooLong,
    MalformedModelResponse,
    ModelError,
    ModelTransientError,
    ModelUnavailable,
    NoProviderConfigured,
)
from bot.repoconfig.models import (
    BudgetsConfig,
    ModelsConfig,
    PricesConfig,
    ProviderConfig,
    RouteConfig,
)
from policies.budgets import BudgetStop, fit_max_tokens
from policies.privacy import NOT_SENSITIVE, Sensitivity, allowed_routes

Validator = Callable[[ChatMessage], "bool | float"]
"""Judges an answer: False / a confidence below the threshold escalates."""

Shrink = Callable[[list, ContextTooLong], "list | None"]
"""Returns a smaller prompt after a context-too-long error, or None to give up."""

ModelFactory = Callable[[str, ProviderConfig, RouteConfig, Mapping[str, str]], ProviderModel]


def no_provider_message(role: str, missing: list[str]) -> str:
    """What to set when no route of ``role`` can be used."""
    keys = sorted(set(missing)) or ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
    return (
        f"no model provider is usable for role {role}: set {' or '.join(keys)} in the "
        f"bot's environment, or add a route on a local OpenAI-compatible server (e.g. "
        f"provider ollama, base_url http://localhost:11434/v1) under models.routes.{role} "
        f"in .agentforge/config.yaml"
    )


class RoutedModel(Model):
    """A role's model: walks its routes and enforces privacy, budgets and limits.

    Args:
        role: The role making the calls.
        models: ``models`` config (providers, routes, cascade, retry).
        prices: Price table.
        budgets: Limits.
        ledger: Where every attempt is recorded and spend is read from.
        context: Run, phase, repository and issue of the calls.
        sensitivity: From :func:`policies.privacy.classify`.
        validator: Judges answers for the cascade (None: first answer wins).
        shrink: Makes a smaller prompt after a context-too-long error.
        env: Where provider keys are read (``os.environ`` by default).
        sleep: How to wait between retries (tests pass a recorder).
        model_factory: Builds provider models (tests may substitute).
    """

    def __init__(
        self,
        *,
        role: str,
        models: ModelsConfig,
        prices: PricesConfig,
        budgets: BudgetsConfig,
        ledger: UsageLedger,
        context: CallContext | None = None,
        sensitivity: Sensitivity = NOT_SENSITIVE,
        validator: Validator | None = None,
        shrink: Shrink | None = None,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        model_factory: ModelFactory = build_model,
    ) -> None:
        super().__init__(model_id=f"routed:{role}")
        self.role = role
        self.models = models
        self.prices = prices
        self.ledger = ledger
        self.context = context or CallContext(role=role)
        self.sensitivity = sensitivity
        self.validator = validator
        self.shrink = shrink
        self.env = os.environ if env is None else env
        self.sleep = sleep
        self.model_factory = model_factory
        self.guard = BudgetGuard(budgets, ledger, self.context)
        self.budgets = budgets
        self._models: dict[tuple, ProviderModel] = {}
        self.last_route: RouteConfig | None = None

    # --- route selection -------------------------------------------------------------

    def usable_routes(self, prompt_tokens: int) -> list[RouteConfig]:
        """The routes this call may try, in order.

        Raises:
            PrivacyViolation: Sensitive work and no local route.
            NoProviderConfigured: No route, none for this size, or no credentials.
        """
        routes = self.models.routes_for(self.role)
        if not routes:
            raise NoProviderConfigured(no_provider_message(self.role, []))
        routes = allowed_routes(self.sensitivity, routes, self.models.providers, role=self.role)
        sized = [
            r for r in routes if r.max_task_tokens is None or prompt_tokens <= r.max_task_tokens
        ]
        if not sized:
            raise NoProviderConfigured(
                f"no route of role {self.role} serves a task of about {prompt_tokens:,} tokens "
                f"(every route has a smaller max_task_tokens); add a route without "
                f"max_task_tokens under models.routes.{self.role}"
            )
        usable, missing = [], []
        for route in sized:
            var = missing_credentials(self.models.providers[route.provider], self.env)
            if var is None:
                usable.append(route)
            else:
                missing.append(var)
        if not usable:
            raise NoProviderConfigured(no_provider_message(self.role, missing))
        return usable

    def _model(self, route: RouteConfig) -> ProviderModel:
        key = (route.provider, route.model, route.max_tokens, route.temperature)
        if key not in self._models:
            provider = self.models.providers[route.provider]
            self._models[key] = self.model_factory(route.provider, provider, route, self.env)
        return self._models[key]

    # --- smolagents entry point --------------------------------------------------------

    def generate(
        self,
        messages: list[ChatMessage | dict],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        """Answer ``messages`` on the first route that can, escalating when judged weak.

        Raises:
            PrivacyViolation, BudgetExceeded, NoProviderConfigured, ModelRequestRejected,
            ContextTooLong, MalformedModelResponse: As described in the module docstring.
            ModelUnavailable: Every route failed with retryable errors.
        """
        prompt_tokens = estimate_prompt_tokens(messages, tools_to_call_from)
        routes = self.usable_routes(prompt_tokens)
        failures: list[str] = []
        weak: ChatMessage | None = None
        for i, route in enumerate(routes):
            try:
                completion = self._on_route(route, messages, stop_sequences, tools_to_call_from)
            except ModelTransientError as exc:
                failures.append(str(exc))
                continue
            self.last_route = route
            if i + 1 < len(routes) and not self._good_enough(completion.message):
                weak = completion.message
                continue
            return completion.message
        if weak is not None:
            # The stronger routes failed; a weak answer beats none.
            return weak
        raise ModelUnavailable(
            f"every model route of role {self.role} failed after retries: " + "; ".join(failures),
            provider=routes[-1].provider,
            model=routes[-1].model,
        )

    def _good_enough(self, message: ChatMessage) -> bool:
        cascade = self.models.cascade
        if self.validator is None or not cascade.enabled:
            return True
        verdict = self.validator(message)
        if isinstance(verdict, bool):
            return verdict
        return float(verdict) >= cascade.min_confidence

    # --- one route ---------------------------------------------------------------------

    def _on_route(
        self,
        route: RouteConfig,
        messages: list[ChatMessage | dict],
        stop_sequences: list[str] | None,
        tools: list[Any] | None,
    ) -> Completion:
        model = self._model(route)
        price = price_for(self.models, self.prices, route)
        retry = self.models.retry
        transient = malformed = 0
        shrunk = False
        while True:
            prompt_tokens = estimate_prompt_tokens(messages, tools)
            max_tokens = fit_max_tokens(self.budgets, prompt_tokens, route.max_tokens)
            if max_tokens is None:
                limit = self.budgets.max_tokens_per_call or 0
                raise budget_error(
                    BudgetStop(
                        "call_tokens",
                        limit,
                        0,
                        prompt_tokens,
                        "tokens",
                        "budgets.max_tokens_per_call",
                    )
                )
            self.guard.check(
                estimate_usd=worst_case_usd(
                    price, prompt_tokens=prompt_tokens, max_tokens=max_tokens
                ),
                estimate_tokens=prompt_tokens + max_tokens,
            )
            start = time.perf_counter()
            try:
                completion = model.complete(
                    messages,
                    stop_sequences=stop_sequences,
                    tools_to_call_from=tools,
                    max_tokens=max_tokens,
                )
            except ModelTransientError as exc:
                self._record_failure(route, price, exc, start)
                transient += 1
                wait = self._wait(exc, transient)
                if transient >= retry.max_attempts or wait is None:
                    raise
                self.sleep(wait)
                continue
            except MalformedModelResponse as exc:
                self._record_failure(route, price, exc, start)
                malformed += 1
                if malformed > 1:
                    raise
                continue
            except ContextTooLong as exc:
                self._record_failure(route, price, exc, start)
                smaller = None if shrunk or self.shrink is None else self.shrink(messages, exc)
                if smaller is None:
                    raise
                messages, shrunk = smaller, True
                continue
            except ModelError as exc:
                self._record_failure(route, price, exc, start)
                raise
            self._record(route, price, completion)
            return completion

    def _wait(self, exc: ModelTransientError, attempt: int) -> float | None:
        retry = self.models.retry
        if exc.retry_after is not None:
            # A demand longer than we are willing to wait moves on to the next route.
            return exc.retry_after if exc.retry_after <= retry.max_retry_after_s else None
        return min(retry.initial_backoff_s * (2 ** (attempt - 1)), retry.max_backoff_s)

    # --- usage -------------------------------------------------------------------------

    def _base(self, route: RouteConfig) -> dict[str, Any]:
        c = self.context
        return {
            "run_id": c.run_id,
            "phase": c.phase,
            "role": c.role or self.role,
            "repo": c.repo,
            "issue_number": c.issue_number,
            "provider": route.provider,
            "model": route.model,
        }

    def _record(self, route: RouteConfig, price: Any, completion: Completion) -> None:
        record = UsageRecord(
            **self._base(route),
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cached_tokens=completion.cached_tokens,
            cost_usd=cost_usd(
                price,
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cached_tokens=completion.cached_tokens,
            ),
            latency_ms=completion.latency_ms,
        )
        self.ledger.record(record)
        self.guard.note(record)

    def _record_failure(
        self, route: RouteConfig, price: Any, exc: ModelError, start: float
    ) -> None:
        # A malformed answer was still billed; other failures carry no usage.
        billed = getattr(exc, "usage", None) or (0, 0, 0)
        record = UsageRecord(
            **self._base(route),
            input_tokens=billed[0],
            output_tokens=billed[1],
            cached_tokens=billed[2],
            cost_usd=cost_usd(
                price, input_tokens=billed[0], output_tokens=billed[1], cached_tokens=billed[2]
            ),
            latency_ms=(time.perf_counter() - start) * 1000.0,
            ok=False,
            error=f"{type(exc).__name__}: {str(exc)[:300]}",
        )
        self.ledger.record(record)
        self.guard.note(record)
