"""Turning pushes to the local forge's bare repositories into events.

Two sources, read in this order inside one forge transaction:

1. the spool file the ``post-receive`` hooks append to (plain ``git push``): exact
   before/after shas and the pusher's login;
2. a comparison of each repository's refs with the snapshot in the database, which
   catches what runs no hook (libgit2 pushes, merges the forge makes itself). The
   forge's acting user is recorded as the actor of those.

A push to an open MR's head branch also emits that MR's ``synchronize`` event.
"""

from __future__ import annotations

from typing import Any, Protocol

import duckdb
import pygit2

from bot.events import EventKind
from bot.forge import User
from bot.forges import local_git
from bot.forges.local_base import _now
from bot.forges.local_store import get_meta, set_meta


class PushSink(Protocol):
    """What recording a push needs from the forge (the MR mixin provides all of it).

    A protocol rather than an import of the mixin keeps the mixins' imports acyclic.
    """

    spool_path: Any

    def _ensure_user(self, con: duckdb.DuckDBPyConnection, login: str) -> Any: ...
    def _bare(self, repo: str) -> pygit2.Repository: ...
    def _emit(
        self, con: duckdb.DuckDBPyConnection, project: dict, kind: Any, action: str, **kw: Any
    ) -> Any: ...
    def _mr(
        self, con: duckdb.DuckDBPyConnection, project: dict, number: int, doing: str
    ) -> Any: ...
    def _item_event(
        self, con: duckdb.DuckDBPyConnection, project: dict, item: Any, **kw: Any
    ) -> dict: ...


SPOOL_OFFSET_KEY = "spool_offset"


def sync_pushes(forge: PushSink, con: duckdb.DuckDBPyConnection) -> int:
    """Record every push not seen yet; returns how many ref updates were recorded."""
    count = _ingest_spool(forge, con)
    for (pid,) in con.execute("SELECT id FROM projects ORDER BY id").fetchall():
        count += _scan_project(forge, con, pid)
    return count


def _project(con: duckdb.DuckDBPyConnection, *, pid: int | None = None, name: str | None = None):
    row = con.execute(
        "SELECT id, full_name, created_by FROM projects WHERE id = ? OR full_name = ?", [pid, name]
    ).fetchone()
    return None if row is None else {"id": row[0], "full_name": row[1], "created_by": row[2]}


def _snapshot(con: duckdb.DuckDBPyConnection, pid: int) -> dict[str, str]:
    rows = con.execute("SELECT ref, sha FROM refs WHERE project_id = ?", [pid]).fetchall()
    return dict(rows)


def _ingest_spool(forge: PushSink, con: duckdb.DuckDBPyConnection) -> int:
    path = forge.spool_path
    if not path.exists():
        return 0
    offset = int(get_meta(con, SPOOL_OFFSET_KEY, "0"))
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return 0  # only a line still being written
    count = 0
    for raw in data[: end + 1].decode("utf-8", "replace").splitlines():
        parts = raw.split("\t")
        if len(parts) != 5:
            continue  # a line this forge did not write; the spool is append-only
        old, new, ref, login, name = parts
        project = _project(con, name=name)
        if project is None or not ref.startswith(("refs/heads/", "refs/tags/")):
            continue
        if _snapshot(con, project["id"]).get(ref, local_git.ZERO_SHA) == new:
            continue  # already recorded by a ref scan
        actor = forge._ensure_user(con, login or "unknown")
        _record(forge, con, project, ref, old, new, actor=actor)
        count += 1
    set_meta(con, SPOOL_OFFSET_KEY, offset + end + 1)
    return count


def _scan_project(forge: PushSink, con: duckdb.DuckDBPyConnection, pid: int) -> int:
    project = _project(con, pid=pid)
    try:
        refs = local_git.read_refs(forge._bare(project["full_name"]))
    except pygit2.GitError:
        return 0  # repository removed by hand: nothing to compare
    known = _snapshot(con, pid)
    count = 0
    for ref in sorted(set(refs) | set(known)):
        old, new = known.get(ref, local_git.ZERO_SHA), refs.get(ref, local_git.ZERO_SHA)
        if old != new:
            _record(forge, con, project, ref, old, new, actor=None)
            count += 1
    return count


def _record(
    forge: PushSink,
    con: duckdb.DuckDBPyConnection,
    project: dict,
    ref: str,
    old: str,
    new: str,
    *,
    actor: User | None,
) -> None:
    con.execute("DELETE FROM refs WHERE project_id = ? AND ref = ?", [project["id"], ref])
    if new != local_git.ZERO_SHA:
        con.execute("INSERT INTO refs VALUES (?, ?, ?)", [project["id"], ref, new])
    if old == local_git.ZERO_SHA:
        action = "created"
    elif new == local_git.ZERO_SHA:
        action = "deleted"
    else:
        action = "updated"
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    now = _now()
    forge._emit(
        con,
        project,
        EventKind.PUSH,
        action,
        actor=actor,
        ref=ref,
        head_ref=short,
        head_sha=new,
        base_sha=old,
        object_id=new,
        updated_at=now,
    )
    if not ref.startswith("refs/heads/") or new == local_git.ZERO_SHA:
        return
    rows = con.execute(
        "SELECT number FROM items WHERE project_id = ? AND is_mr AND state = 'open' "
        "AND head_ref = ? ORDER BY number",
        [project["id"], short],
    ).fetchall()
    for (number,) in rows:
        mr = forge._mr(con, project, number, f"synchronising {project['full_name']}!{number}")
        con.execute(
            "UPDATE items SET updated_at = ? WHERE project_id = ? AND number = ?",
            [now, project["id"], number],
        )
        fields = forge._item_event(con, project, mr, head_sha=new, updated_at=now)
        forge._emit(con, project, EventKind.MR, "synchronize", actor=actor, **fields)
