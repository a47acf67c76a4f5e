"""Which files an index holds, with each file's kind and the symbols it defines.

The ranking signals need this for every file of the repository (path mentions, symbol
definitions, whole-file BM25). Reading it from the table scans every chunk row; after
an update only a few files differ, so:

- the file list (path -> blob id) comes from the index's ``state.json`` when that
  describes the table's current version (otherwise from the rows, as before);
- each file's kind and symbols are cached by ``(path, blob id)``, which names its
  content, and only files not seen yet are read from the table.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from bot.context.index import RepoIndex

CACHE_LIMIT = 200_000
"""Files (path, blob) remembered in the process."""
_BATCH = 300

_entries: OrderedDict[tuple[str, str], FileInfo | None] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class FileInfo:
    """One indexed file: its chunk kind and the symbols its chunks define."""

    kind: str
    symbols: frozenset[str]


def file_blobs(index: RepoIndex, table) -> dict[str, str]:
    """Path -> blob id of every non-discussion file the table holds rows for (or may:
    files the index skipped, binary or too large, are listed too and have no rows)."""
    state = index.read_state()
    if state is not None and state.get("table_version") == table.version:
        return {p: b for p, b in state["files"].items() if b is not None}
    data = (
        table.search().where("kind != 'discussion'").select(["path", "blob"]).limit(None).to_arrow()
    )
    return dict(zip(data["path"].to_pylist(), data["blob"].to_pylist(), strict=True))


def file_infos(table, blobs: dict[str, str]) -> dict[str, FileInfo]:
    """Kind and symbols of each file in ``blobs`` that has rows (read once per content)."""
    with _lock:
        missing = sorted({b for p, b in blobs.items() if (p, b) not in _entries})
    found: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for start in range(0, len(missing), _BATCH):
        batch = ", ".join("'" + b + "'" for b in missing[start : start + _BATCH])
        data = (
            table.search()
            .where(f"blob IN ({batch}) AND kind != 'discussion'")
            .select(["path", "blob", "kind", "symbols"])
            .limit(None)
            .to_arrow()
        )
        for path, blob, kind, syms in zip(
            data["path"].to_pylist(),
            data["blob"].to_pylist(),
            data["kind"].to_pylist(),
            data["symbols"].to_pylist(),
            strict=True,
        ):
            entry = found.setdefault((path, blob), (kind, set()))
            entry[1].update(syms.split())
    wanted = set(missing)
    with _lock:
        for (path, blob), (kind, syms) in found.items():
            _remember((path, blob), FileInfo(kind, frozenset(syms)))
        for path, blob in blobs.items():
            if blob in wanted and (path, blob) not in found:
                _remember((path, blob), None)  # skipped by the index: no rows
        out = {}
        for path, blob in blobs.items():
            info = _entries.get((path, blob))
            if info is not None:
                out[path] = info
    return out


def _remember(key: tuple[str, str], info: FileInfo | None) -> None:
    _entries[key] = info
    _entries.move_to_end(key)
    while len(_entries) > CACHE_LIMIT:
        _entries.popitem(last=False)
