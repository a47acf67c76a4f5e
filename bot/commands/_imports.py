"""The ``--import MODULE`` option that ``serve`` and ``run`` share.

Importing a module before the work starts lets a deployment register extra handlers
without a plugin system. Only :mod:`importlib` and :mod:`click` are imported here, so
the commands that use it still start fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

import click

import_option: Callable[[Callable[..., Any]], Callable[..., Any]] = click.option(
    "--import",
    "imports",
    multiple=True,
    metavar="MODULE",
    help="Import a module first, e.g. one that registers extra handlers (repeatable).",
)
"""Adds ``--import`` (repeatable) to a command; the command receives ``imports``."""


def import_modules(modules: Iterable[str]) -> None:
    """Import each module named with ``--import``, in order.

    Raises:
        click.BadParameter: A module cannot be imported (exit status 2, naming it).
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise click.BadParameter(
                f"cannot import {module}: {exc}", param_hint="--import"
            ) from exc


def register_shipped_handlers() -> None:
    """Register the handlers AgentForge ships (:func:`handlers.register_defaults`).

    Raises:
        click.ClickException: they cannot be imported (a broken install; exit status 1
            with the reason, never a silent start without them).
    """
    from handlers import register_defaults

    try:
        register_defaults()
    except ImportError as exc:
        raise click.ClickException(str(exc)) from exc
