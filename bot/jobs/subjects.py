"""Ordering subjects: jobs about an issue and about its MR run one at a time, in order.

:meth:`bot.events.Event.subject` gives an issue's subject to every event on the bot's
branch ``agentforge/issue-<N>``. Some events carry only the MR's number (a GitHub PR
conversation comment, a review without its head ref); for those, :class:`MrAliases`
maps ``(forge, repo, MR)`` to the issue. The run store writes an alias (in DuckDB, in
the transaction that records the run's MR) and adds it here; the server computes a
delivery's subject at intake from this in-memory map, one dict lookup, no database
read. A restarted server loads the map back from ``mr_aliases``.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from bot.events import Event


class MrAliases:
    """The in-memory MR → issue map of one records database.

    Reads are a single dict lookup (safe without the lock: writers replace entries
    whole); writes take a lock.
    """

    _by_db: weakref.WeakKeyDictionary[Any, MrAliases] = weakref.WeakKeyDictionary()
    _by_db_guard = threading.Lock()

    def __init__(self) -> None:
        self._map: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_db(cls, db: Any) -> MrAliases:
        """The one map shared by everything that uses ``db`` (loaded from it once).

        The server's intake and the run store of the same database find each other
        this way, whatever order they are built in.

        Raises:
            StoreError: the aliases cannot be read.
        """
        with cls._by_db_guard:
            found = cls._by_db.get(db)
            if found is None:
                found = cls()
                found.load(db)
                cls._by_db[db] = found
            return found

    def load(self, db: Any) -> int:
        """Read every alias stored in ``db``; returns how many there are.

        Raises:
            StoreError: the table cannot be read.
        """
        from bot.store.records import translate_errors

        with translate_errors("loading MR aliases"):
            rows = db.fetchall("SELECT forge, repo, mr_number, issue_number FROM mr_aliases")
        with self._lock:
            for forge, repo, mr, issue in rows:
                self._map[(forge, repo, int(mr))] = int(issue)
        return len(rows)

    def add(self, forge: str, repo: str, mr_number: int, issue_number: int) -> None:
        """Remember that MR ``mr_number`` of ``forge:repo`` belongs to issue ``issue_number``."""
        with self._lock:
            self._map[(forge, repo, int(mr_number))] = int(issue_number)

    def issue_for(self, forge: str, repo: str, mr_number: int) -> int | None:
        """The issue an MR belongs to, or None."""
        return self._map.get((forge, repo, mr_number))

    def __len__(self) -> int:
        return len(self._map)


def resolve_subject(event: Event, aliases: MrAliases | None = None) -> str | None:
    """The ordering subject of ``event``: its issue's, when its MR is a run's.

    Args:
        event: The parsed event.
        aliases: The MR → issue map (None: only the event's own fields count).
    """
    subject = event.subject()
    if aliases is None or not event.is_mr or event.number is None:
        return subject
    if event.bot_branch_issue() is not None:
        return subject  # already the issue's, by its branch
    issue = aliases.issue_for(event.forge.value, event.repo.full_name, event.number)
    if issue is None:
        return subject
    return f"{event.forge.value}:{event.repo.full_name}:issue:{issue}"


def alias_subject(subject: str | None, aliases: MrAliases) -> str | None:
    """``subject`` with an MR's subject replaced by its run's issue's, when known.

    Used where a delivery's subject was computed without the map (the intake process
    journals ``forge:repo:mr:N``; the jobs process, which keeps the map, resolves it).
    """
    if subject is None:
        return None
    head, sep, number = subject.rpartition(":mr:")
    if not sep or not number.isdigit():
        return subject
    forge, _, repo = head.partition(":")
    issue = aliases.issue_for(forge, repo, int(number))
    if issue is None:
        return subject
    return f"{forge}:{repo}:issue:{issue}"
