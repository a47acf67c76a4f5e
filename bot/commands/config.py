"""``agentforge config``: validate and show a repository's ``.agentforge/`` files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("config")
def config() -> None:
    """Validate and show a repository's .agentforge/ configuration."""


def _root(path: str) -> Path:
    root = Path(path)
    if not root.exists():
        raise click.BadParameter(f"{path}: no such directory", param_hint="PATH")
    if not root.is_dir():
        raise click.BadParameter(f"{path}: not a directory", param_hint="PATH")
    return root


@config.command("check")
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print problems as a JSON array.")
def check(path: str, as_json: bool) -> None:
    """Validate PATH/.agentforge/ and print every problem with file, line and field.

    Exits 0 when the configuration is valid, 1 when problems were found.
    """
    from bot.repoconfig import read_config_files, validate_files

    root = _root(path)
    files = read_config_files(root)
    _, issues = validate_files(files)
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in issues], indent=2))
    elif issues:
        for issue in issues:
            click.echo(str(issue), err=False)
        click.echo(f"{len(issues)} problem(s) found", err=True)
    else:
        found = ", ".join(sorted(files)) or "no .agentforge/ files (defaults apply)"
        click.echo(f"ok: {found}")
    if issues:
        sys.exit(1)


@config.command("show")
@click.argument("path", default=".", type=click.Path(file_okay=False))
def show(path: str) -> None:
    """Print the effective configuration of PATH (files merged over defaults) as JSON."""
    from bot.repoconfig import load_repo_config

    cfg = load_repo_config(_root(path))
    data = cfg.model_dump(mode="json")
    for role in data.get("roles", {}).values():
        role["template"] = f"<{len(role['template'])} characters>"
    click.echo(json.dumps(data, indent=2))
