"""LocalForge: a complete forge in one directory, for trying AgentForge without a server.

Layout of the forge directory ``DIR``::

    DIR/forge.duckdb                 projects, issues, MRs, comments, labels, reviews,
                                     permissions, statuses, reactions, event outbox
    DIR/repos/<owner>/<name>.git     one bare repository per project (clone/push it)
    DIR/push-spool.tsv               pushes recorded by the repositories' hooks

Every change emits the :class:`bot.events.Event` a real forge would send into an
outbox read with :meth:`LocalForge.events`. Methods act as ``self.user``; the creator
of a project is its admin. Issue and MR numbers share one counter per project, like
GitHub's. Connections are short and serialised (see :mod:`bot.forges.local_store`),
so the CLI and a running server can share ``DIR``. The code is split by subject:
:mod:`~bot.forges.local_base` (projects, permissions, events),
:mod:`~bot.forges.local_items` (issues, comments, labels, reactions),
:mod:`~bot.forges.local_mrs` (merge requests, reviews, statuses),
:mod:`~bot.forges.local_contents` (files at a ref, MR files, issue lists, checks),
:mod:`~bot.forges.local_threads` (line comments, their threads, check logs) and
:mod:`~bot.forges.local_pushes` (turning pushes into events).
"""

from __future__ import annotations

import os
from typing import Any

from bot.forges.local_base import BOT_USER, DEFAULT_DIR, DIR_ENV, USER_ENV, default_user
from bot.forges.local_threads import ThreadsMixin

__all__ = ["BOT_USER", "DEFAULT_DIR", "DIR_ENV", "USER_ENV", "LocalForge", "default_user"]


class LocalForge(ThreadsMixin):
    """The :class:`bot.forge.Forge` protocol over a local directory.

    Args:
        directory: The forge directory (created on first write).
        user: The login this instance acts as (default: ``AGENTFORGE_LOCAL_USER``,
            else the OS user).
        is_bot: Record ``user`` as a bot account (its events carry ``is_bot``).
    """

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> LocalForge:
        """Registry factory: the forge the bot writes to; ``directory``/``user`` override.

        The directory is ``settings.local_dir`` (``AGENTFORGE_LOCAL_DIR``), else
        ``./.agentforge-local``. Without a ``user`` keyword the forge acts as the bot
        (``settings.bot_login``, else ``agentforge``), recorded as a bot account so
        the bot's own writes emit events marked ``is_bot``; with one it acts as that
        user (``is_bot`` as given).
        """
        directory = (
            kwargs.pop("directory", None)
            or getattr(settings, "local_dir", None)
            or os.environ.get(DIR_ENV)
            or DEFAULT_DIR
        )
        user = kwargs.pop("user", None)
        if user is None:
            user = getattr(settings, "bot_login", None) or BOT_USER
            kwargs.setdefault("is_bot", True)
        return cls(directory, user, **kwargs)
