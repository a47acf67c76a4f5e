"""``agentforge models``: list model routes per role and test each provider.

Routes come from a repository's ``.agentforge/config.yaml`` over the shipped defaults.
``--check`` sends one tiny request to every provider a route uses and prints its
latency or the exact failure; it exits 1 if any provider failed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from bot.errors import ModelError, RepoConfigError
from bot.repoconfig import BUILTIN_ROLES, RepoConfig
from bot.repoconfig.models import DEFAULT_ROUTE_KEY, ModelsConfig, RouteConfig


def _load(path: Path) -> RepoConfig:
    # The same reading as `agentforge config check`: a repository root or a config.yaml.
    from bot.commands.config import validate_target

    result, issues, _ = validate_target(path)
    if issues or result is None:
        raise RepoConfigError(issues)
    return result.config


def _missing_key(models: ModelsConfig, name: str) -> str | None:
    var = models.providers[name].api_key_env
    if var is None or os.environ.get(var, "").strip():
        return None
    return var


def _route_line(models: ModelsConfig, i: int, route: RouteConfig) -> str:
    provider = models.providers[route.provider]
    notes = [f"max_tokens={route.max_tokens}"]
    if route.temperature is not None:
        notes.append(f"temperature={route.temperature}")
    if route.max_task_tokens is not None:
        notes.append(f"tasks<={route.max_task_tokens:,} tokens")
    if provider.local:
        notes.append("local")
    missing = _missing_key(models, route.provider)
    if missing:
        notes.append(f"unusable: {missing} is not set")
    return f"  {i}. {route.provider}/{route.model}  ({', '.join(notes)})"


def _used_providers(models: ModelsConfig) -> dict[str, RouteConfig]:
    used: dict[str, RouteConfig] = {}
    for routes in models.routes.values():
        for route in routes:
            used.setdefault(route.provider, route)
    return used


@click.command("models")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="A repository root (reads .agentforge/) or a config.yaml file.",
)
@click.option("--check", is_flag=True, help="Send one tiny request to each provider in use.")
def models(config_path: Path, check: bool) -> None:
    """List model routes per role; with --check, test each provider."""
    config = _load(config_path)
    m = config.models
    roles = [r for r in BUILTIN_ROLES if r not in m.routes]
    click.echo("Routes per role (first usable route first; later ones are fallbacks):")
    for role in sorted(m.routes):
        click.echo(f"{role}:")
        for i, route in enumerate(m.routes[role], 1):
            click.echo(_route_line(m, i, route))
        if not m.routes[role]:
            click.echo("  (none: model phases of this role cannot start)")
    if roles and DEFAULT_ROUTE_KEY in m.routes:
        click.echo(f"({', '.join(roles)} use the {DEFAULT_ROUTE_KEY} routes)")
    used = _used_providers(m)
    usable = [name for name in used if _missing_key(m, name) is None]
    if not usable:
        click.echo(
            "\nNo model provider is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or "
            "add a route on a local OpenAI-compatible server (models.providers.<name> with "
            "base_url, e.g. http://localhost:11434/v1, and local: true) in "
            ".agentforge/config.yaml. The bot still runs; model phases report that they "
            "cannot start."
        )
    if not check:
        return
    click.echo("\nProvider checks:")
    failed = False
    for name, route in used.items():
        missing = _missing_key(m, name)
        if missing:
            click.echo(f"  {name}: skipped ({missing} is not set)")
            continue
        from agents.models import build_model

        try:
            latency = build_model(name, m.providers[name], route).ping()
        except ModelError as exc:
            failed = True
            click.echo(f"  {name} ({route.model}): FAILED {type(exc).__name__}: {exc}")
            continue
        click.echo(f"  {name} ({route.model}): ok, {latency:.0f} ms")
    if failed:
        raise click.exceptions.Exit(1)
