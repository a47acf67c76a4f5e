"""The read-only dashboard: HTML pages over the records, served by the webhook server.

:func:`dashboard_router` is mounted by :func:`bot.intake.server.create_app`; see
``docs/dashboard.md`` for the pages and who may read them.
"""

from __future__ import annotations

from bot.dashboard.router import dashboard_router

__all__ = ["dashboard_router"]
