"""Handlers decide what the bot does for each kind of event or command.

They read forge-neutral :class:`bot.events.Event` objects and return proposed
:mod:`bot.actions`; they never write to a forge themselves. :func:`register_defaults`
registers the handlers AgentForge ships (the workflow engine), which ``agentforge
serve`` and ``agentforge run`` do at start without ``--import``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.registry import HandlerRegistry


def register_defaults(registry: HandlerRegistry | None = None) -> None:
    """Register the shipped handlers (``handlers.workflow``) in ``registry``.

    Args:
        registry: The table to fill (the process's :data:`handlers.registry.REGISTRY`
            by default). Registering twice is a no-op.

    Raises:
        ImportError: the shipped workflow handlers cannot be imported (an install
            without them is broken, so this is not skipped quietly).
    """
    from handlers.registry import REGISTRY

    try:
        # import_module reads sys.modules first, so the module a process holds is used
        # (``import a.b as c`` takes the package attribute instead).
        workflow = importlib.import_module("handlers.workflow")
    except ImportError as exc:
        raise ImportError(
            f"the shipped workflow handlers (handlers.workflow) cannot be imported: {exc}",
            name="handlers.workflow",
        ) from exc
    workflow.register(registry if registry is not None else REGISTRY)
