"""Permission names accepted in ``.agentforge/`` files (one module, so every section of
the schema can use them without importing :mod:`bot.repoconfig.schema`)."""

from __future__ import annotations

from enum import StrEnum


class PermissionName(StrEnum):
    """Permission names accepted in config, matching :class:`bot.forge.Permission`."""

    READ = "read"
    TRIAGE = "triage"
    WRITE = "write"
    MAINTAIN = "maintain"
    ADMIN = "admin"
