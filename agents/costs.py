"""Cost accounting: the price table turns token usage into dollars, and runs into estimates.

Prices are USD per million tokens (``prices:`` in ``.agentforge/config.yaml`` over the
shipped table). A model on a local provider costs nothing unless it is priced. A cloud
model without a price is refused before the call, because no budget could hold it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import ModelRequestRejected
from bot.repoconfig.models import ModelPrice, ModelsConfig, PricesConfig, RouteConfig

PER = 1_000_000
FREE = ModelPrice(input=0.0, output=0.0, cached_input=0.0)


def cost_usd(
    price: ModelPrice, *, input_tokens: int, output_tokens: int, cached_tokens: int = 0
) -> float:
    """Dollars for one call's usage.

    Args:
        price: The model's price.
        input_tokens: Prompt tokens billed at the input rate (cache reads excluded).
        output_tokens: Completion tokens.
        cached_tokens: Prompt tokens read from the cache.
    """
    return (
        input_tokens * price.input
        + cached_tokens * price.cached_rate
        + output_tokens * price.output
    ) / PER


def price_for(models: ModelsConfig, prices: PricesConfig, route: RouteConfig) -> ModelPrice:
    """The price of ``route``'s model.

    Raises:
        ModelRequestRejected: A cloud model has no price, so no budget could hold it.
    """
    price = prices.lookup(route.model)
    if price is not None:
        return price
    provider = models.providers.get(route.provider)
    if provider is not None and provider.local:
        return FREE
    raise ModelRequestRejected(
        f"model {route.model} on provider {route.provider} has no price, so its cost "
        f"could not be held to a budget; add prices.{route.model} (input, output, "
        f"cached_input in USD per million tokens) to .agentforge/config.yaml",
        provider=route.provider,
        model=route.model,
    )


def worst_case_usd(price: ModelPrice, *, prompt_tokens: int, max_tokens: int) -> float:
    """Most a call can cost: the whole prompt uncached plus a full-length completion."""
    return cost_usd(price, input_tokens=prompt_tokens, output_tokens=max_tokens)


@dataclass(frozen=True)
class PhasePlan:
    """What a phase is expected to do, for the pre-run estimate.

    Attributes:
        phase: Phase name.
        role: Role that works it.
        context_tokens: Size of the context pack sent with each call.
        calls: Expected model calls (agent steps).
        output_tokens: Expected completion tokens per call.
    """

    phase: str
    role: str
    context_tokens: int
    calls: int = 10
    output_tokens: int = 1500


@dataclass(frozen=True)
class PhaseEstimate:
    """The estimate of one phase on its first usable route."""

    phase: str
    role: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    usd: float


@dataclass(frozen=True)
class RunEstimate:
    """The estimate of a whole run."""

    phases: tuple[PhaseEstimate, ...]

    @property
    def usd(self) -> float:
        """Total dollars."""
        return sum(p.usd for p in self.phases)


def estimate_run(plans: list[PhasePlan], models: ModelsConfig, prices: PricesConfig) -> RunEstimate:
    """Estimate a run from its phases, their context sizes and the price table.

    Each phase is priced on the first of its role's routes that serves its context size
    (the route the router would try first). A phase whose role has no route is
    estimated at zero with model ``(none)``.

    Raises:
        ModelRequestRejected: A route's cloud model has no price.
    """
    out = []
    for plan in plans:
        routes = [
            r
            for r in models.routes_for(plan.role)
            if r.max_task_tokens is None or plan.context_tokens <= r.max_task_tokens
        ]
        if not routes:
            out.append(PhaseEstimate(plan.phase, plan.role, "(none)", 0, 0, 0, 0.0))
            continue
        route = routes[0]
        price = price_for(models, prices, route)
        output = min(plan.output_tokens, route.max_tokens)
        # Agent steps grow the prompt: step n sends the context plus n earlier answers.
        input_tokens = sum(plan.context_tokens + n * output for n in range(plan.calls))
        output_tokens = plan.calls * output
        usd = cost_usd(price, input_tokens=input_tokens, output_tokens=output_tokens)
        out.append(
            PhaseEstimate(
                plan.phase, plan.role, route.model, plan.calls, input_tokens, output_tokens, usd
            )
        )
    return RunEstimate(tuple(out))


def _usd(value: float) -> str:
    return f"${value:,.4f}" if 0 < value < 0.01 else f"${value:,.2f}"


def format_estimate(
    estimate: RunEstimate, *, spent: float | None = None, limit: float | None = None
) -> str:
    """The markdown a run's status comment shows: estimate per phase, spend so far.

    Args:
        estimate: The pre-run estimate.
        spent: Dollars spent so far in the run (updated live), if started.
        limit: The run budget (``budgets.per_run_usd``), if any.
    """
    lines = [
        "**Estimated model cost**",
        "",
        "| phase | role | model | calls | tokens in / out | cost |",
        "|---|---|---|---:|---:|---:|",
    ]
    for p in estimate.phases:
        lines.append(
            f"| {p.phase} | {p.role} | {p.model} | {p.calls} | "
            f"{p.input_tokens:,} / {p.output_tokens:,} | {_usd(p.usd)} |"
        )
    lines.append(f"| **total** | | | | | **{_usd(estimate.usd)}** |")
    lines.append("")
    summary = []
    if spent is not None:
        summary.append(f"Spent so far: **{_usd(spent)}**")
    if limit is not None:
        summary.append(f"run budget {_usd(limit)} (`budgets.per_run_usd`)")
    if summary:
        lines.append(" of ".join(summary) if len(summary) == 2 else summary[0])
    return "\n".join(lines).rstrip() + "\n"
