"""``agentforge config``: validate and show a repository's ``.agentforge/`` files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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


def validate_target(path: Path) -> tuple[Any, list[Any], list[str]]:
    """Validate a repository root (its ``.agentforge/``) or one ``config.yaml`` file.

    ``agentforge config check`` and ``agentforge models --config`` both take either. A
    file is read as the repository's ``.agentforge/config.yaml`` (workflow and roles at
    their defaults), and its problems name the file as given.

    Returns:
        The config (None when invalid), every problem in file and line order, and the
        files that were read.

    Raises:
        click.BadParameter: ``path`` does not exist or cannot be read.
    """
    from bot.repoconfig import read_config_files, validate_files
    from bot.repoconfig.issues import ConfigIssue
    from bot.repoconfig.loader import CONFIG_FILE

    if path.is_dir():
        files = read_config_files(path)
        config, issues = validate_files(files)
        return config, issues, sorted(files)
    if not path.exists():
        raise click.BadParameter(f"{path}: no such file or directory", param_hint="PATH")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = "\x00not-utf8"  # reported as a problem of the file, like in a checkout
    except OSError as exc:
        raise click.BadParameter(f"{path}: {exc.strerror}", param_hint="PATH") from None
    config, issues = validate_files({CONFIG_FILE: text})
    named = [
        ConfigIssue(str(path), i.line, i.field, i.message) if i.file == CONFIG_FILE else i
        for i in issues
    ]
    return config, named, [str(path)]


@config.command("check")
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print problems as a JSON array.")
def check(path: Path, as_json: bool) -> None:
    """Validate PATH (a repository root, or a config.yaml file) and print every problem.

    Each problem has file, line and field, in file and line order. Exits 0 when the
    configuration is valid, 1 when problems were found.
    """
    _, issues, files = validate_target(path)
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in issues], indent=2))
    elif issues:
        for issue in issues:
            click.echo(str(issue), err=False)
        click.echo(f"{len(issues)} problem(s) found", err=True)
    else:
        found = ", ".join(files) or "no .agentforge/ files (defaults apply)"
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
