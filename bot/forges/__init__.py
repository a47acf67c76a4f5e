"""The forge registry: one line per forge, imported only when that forge is used.

Each entry maps a forge name to ``"module:factory"``, where ``factory(settings,
**kwargs)`` returns an object implementing :class:`bot.forge.Forge`. Adding a forge
means one adapter module plus one line here.
"""

from __future__ import annotations

import importlib
from typing import Any

from bot.errors import SettingsError
from bot.forge import Forge
from bot.settings import Settings

FORGES: dict[str, str] = {
    "github": "bot.forges.github:GitHubForge.from_settings",
    "gitlab": "bot.forges.gitlab:GitLabForge.from_settings",
    "local": "bot.forges.local:LocalForge.from_settings",
}


def make_forge(name: str, settings: Settings, **kwargs: Any) -> Forge:
    """Build the adapter for forge ``name``.

    Args:
        name: ``github``, ``gitlab`` or ``local``.
        settings: Process settings, passed explicitly to the adapter.
        **kwargs: Adapter-specific options (e.g. ``directory`` and ``user`` for local).

    Raises:
        SettingsError: no forge of that name is registered.
    """
    target = FORGES.get(name)
    if target is None:
        raise SettingsError(f"unknown forge {name!r}; expected one of {', '.join(sorted(FORGES))}")
    module_name, _, path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in path.split("."):
        obj = getattr(obj, attr)
    return obj(settings, **kwargs)
