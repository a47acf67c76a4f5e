"""The LanceDB index of one repository: chunks of code and docs, plus discussions.

Layout of an index directory::

    <dir>/lance/chunks.lance   rows: repo, path, line span, commit, blob, kind, text, terms
    <dir>/state.json           last indexed commit, per-file blob ids, table version
    <dir>/.lock                held by the one writer

Indexing is incremental: the commit's tree is compared with the per-file blob ids
recorded in ``state.json``; rows of changed and removed paths are deleted, changed
files are re-chunked and added. The full-text index is folded forward (LanceDB
``optimize``) only once enough is pending (:meth:`RepoIndex._fold_due`): searches
cover rows not yet in it, so a one-file update costs a delete and an append. Every
row carries the commit and blob it came from, so the index can always be rebuilt
from git and its state recovered from its own rows.

Crash safety: ``state.json`` records the table version it describes and is replaced
atomically after a run completes. A run killed half-way leaves a table whose version
differs; the next run notices, rebuilds the per-file map from the rows themselves and
finishes the job. A table that cannot be read at all is discarded and rebuilt from
git, with a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

# LanceDB's Rust logger reads LANCEDB_LOG once, at import; its WARN lines (e.g. "No
# existing dataset ... it will be created" on a first index) are noise on a CLI's stderr.
# A user who wants them sets LANCEDB_LOG themselves.
os.environ.setdefault("LANCEDB_LOG", "error")

import lancedb
import pyarrow as pa

from bot.context.chunking import Chunk, chunk_file, classify, decode_text, is_binary
from bot.context.embeddings import Embedder
from bot.context.history import SKIP_MISSING, GitHistory
from bot.context.text import path_terms, search_terms
from bot.errors import GitError, IndexCorrupt, StoreLocked
from policies.paths import matches

log = logging.getLogger(__name__)

TABLE = "chunks"
STATE_VERSION = 1
DEFAULT_MAX_FILE_BYTES = 1_000_000
SKIP_NOT_INCLUDED = "not in index.include"
SKIP_EXCLUDED = "in index.exclude"
_BATCH_FILES = 400
FOLD_UNINDEXED_ROWS = 2000
"""Fold the FTS index forward once this many rows are not in it yet."""
FOLD_FRAGMENTS = 24
"""... or once the table has this many data fragments (each write adds one; scans and
unindexed-row searches slow down as they pile up). LanceDB's own rule of thumb is to
optimize after about 20 modifications."""
_FIELDS = [
    pa.field("repo", pa.string()),
    pa.field("path", pa.string()),
    pa.field("start_line", pa.int32()),
    pa.field("end_line", pa.int32()),
    pa.field("commit", pa.string()),
    pa.field("blob", pa.string()),
    pa.field("kind", pa.string()),
    pa.field("language", pa.string()),
    pa.field("symbols", pa.string()),
    pa.field("text", pa.string()),
    pa.field("terms", pa.string()),
]


@dataclass
class IndexReport:
    """What one :meth:`RepoIndex.update` did."""

    commit: str | None
    files_total: int = 0
    files_indexed: int = 0
    files_removed: int = 0
    chunks_added: int = 0
    chunks_total: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    rebuilt: bool = False
    repaired: bool = False

    def missing(self) -> tuple[list[str], list[str]]:
        """Paths skipped because git lacks their object: ``(code_and_docs, data)``.

        Code, tests and docs are what search is for, so a caller reports each by name,
        and so is a missing directory (``dir/``: what it held is unknown); other files
        (data, assets) are only counted.
        """
        code: list[str] = []
        data: list[str] = []
        for path, reason in self.skipped:
            if reason == SKIP_MISSING:
                is_code = path.endswith("/") or classify(path)[0] != "text"
                (code if is_code else data).append(path)
        return code, data


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def chunk_terms(chunk: Chunk) -> str:
    """The text the full-text index sees for a chunk: path, symbols (twice) and body."""
    symbols = search_terms(" ".join(chunk.symbols))
    return " ".join((path_terms(chunk.path), symbols, symbols, search_terms(chunk.text)))


class RepoIndex:
    """The search index of one repository.

    Args:
        directory: Where this repository's index lives (created if missing).
        repo: The repository's name, stored on every row (``acme/app``).
        max_file_bytes: Larger files are skipped with a log line.
        embedder: Optional dense embedder; when set, rows get a ``vector`` column.
        include: Path globs of files to index (a repository's ``index.include``).
        exclude: Path globs left out even when ``include`` matches (``index.exclude``).
            Files that stop matching are removed from the index at the next update.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        repo: str,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        embedder: Embedder | None = None,
        include: Sequence[str] = ("**",),
        exclude: Sequence[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.repo = repo
        self.max_file_bytes = max_file_bytes
        self.embedder = embedder
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self._db: lancedb.DBConnection | None = None

    # --- storage -------------------------------------------------------------------

    @property
    def _state_path(self) -> Path:
        return self.directory / "state.json"

    def _schema(self) -> pa.Schema:
        fields = list(_FIELDS)
        if self.embedder is not None:
            fields.append(pa.field("vector", pa.list_(pa.float32(), self.embedder.dimensions)))
        return pa.schema(fields)

    def _connect(self) -> lancedb.DBConnection:
        if self._db is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(str(self.directory / "lance"))
        return self._db

    def open_table(self) -> lancedb.table.Table | None:
        """The chunks table, or None before the first build.

        Raises:
            IndexCorrupt: The table exists but cannot be read or has the wrong shape.
        """
        db = self._connect()
        if not (self.directory / "lance" / f"{TABLE}.lance").exists():
            return None
        try:
            table = db.open_table(TABLE)
            names = set(table.schema.names)
            table.count_rows()
        except Exception as exc:  # any failure to read the table means "rebuild"
            raise IndexCorrupt(f"reading index table in {self.directory}: {exc}") from exc
        missing = {f.name for f in self._schema()} - names
        if missing:
            raise IndexCorrupt(
                f"reading index table in {self.directory}: missing columns {sorted(missing)}"
            )
        return table

    def read_state(self) -> dict | None:
        """The recorded state, or None if missing or unreadable."""
        try:
            state = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            return None
        if not isinstance(state.get("files"), dict):
            return None
        return state

    def _write_state(self, state: dict) -> None:
        tmp = self._state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._state_path)

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StoreLocked(
                    f"indexing {self.repo}: another process is writing {self.directory}"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _discard(self) -> None:
        self._db = None
        shutil.rmtree(self.directory / "lance", ignore_errors=True)
        self._state_path.unlink(missing_ok=True)

    # --- indexing ------------------------------------------------------------------

    def update(
        self,
        history: GitHistory,
        rev: str = "HEAD",
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> IndexReport:
        """Bring the index to ``rev``: re-chunk changed files, drop removed ones.

        Args:
            history: The repository to read.
            rev: The commit to index.
            progress: Called as ``progress(done, total)`` over the files to re-chunk.

        Returns:
            What was done.

        Raises:
            StoreLocked: Another process is updating this index.
            GitError: The revision or a blob cannot be read.
        """
        started = time.monotonic()
        with self._writer_lock():
            report = self._update_locked(history, rev, progress)
        report.seconds = time.monotonic() - started
        return report

    def _load(self, report: IndexReport) -> tuple[lancedb.table.Table | None, dict]:
        try:
            table = self.open_table()
        except IndexCorrupt as exc:
            log.warning("index corrupt, rebuilding from git: %s", exc)
            self._discard()
            report.rebuilt = True
            return None, {"files": {}}
        state = self.read_state()
        if table is None:
            return None, {"files": {}}
        if state is None or state.get("table_version") != table.version:
            log.warning("index in %s was interrupted; repairing from its rows", self.directory)
            report.repaired = True
            state = {"files": self._files_from_rows(table)}
        return table, state

    def _files_from_rows(self, table: lancedb.table.Table) -> dict[str, str | None]:
        rows = table.search().where("kind != 'discussion'").select(["path", "blob"])
        data = rows.limit(None).to_arrow()
        files: dict[str, str | None] = {}
        for path, blob in zip(data["path"].to_pylist(), data["blob"].to_pylist(), strict=True):
            # Two blobs for one path can only come from an interrupted replace.
            files[path] = blob if files.get(path, blob) == blob else None
        return files

    def _update_locked(
        self, history: GitHistory, rev: str, progress: Callable[[int, int], None] | None
    ) -> IndexReport:
        if history.is_empty:
            report = IndexReport(commit=None)
            log.info("repository %s is empty; nothing to index", self.repo)
            return report
        commit = history.resolve(rev)
        report = IndexReport(commit=commit)
        table, state = self._load(report)
        known: dict[str, str | None] = dict(state["files"])
        delta = self._delta(history, state, commit, report, self._selection())
        if delta is not None:
            # Only what changed since the indexed commit: no walk of the whole tree.
            changed, removed, skipped = delta
            changed, left_out = self._selected(changed)
            skipped = sorted(set(skipped) | set(left_out))
            # A changed file the selection leaves out goes, like a deleted one.
            removed = sorted(set(removed) | {p for p, _ in left_out if p in known})
            report.files_total = len(set(known) - set(removed) | {e.path for e in changed})
        else:
            entries, skipped = history.list_files(commit)
            entries, left_out = self._selected(entries)
            skipped = [*skipped, *left_out]
            target = {e.path: e for e in entries}
            report.files_total = len(entries)
            changed = [e for e in entries if known.get(e.path) != e.blob_id]
            removed = [p for p in known if p not in target]
        report.skipped.extend(skipped)
        listed_skips = sorted(skipped)
        stale = [e.path for e in changed if e.path in known] + removed
        if table is not None:
            for start in range(0, len(stale), 500):
                batch = ", ".join(_quote(p) for p in stale[start : start + 500])
                table.delete(f"path IN ({batch})")
        report.files_removed = len(removed)
        for path in removed:
            known.pop(path, None)
        for start in range(0, len(changed), _BATCH_FILES):
            batch = changed[start : start + _BATCH_FILES]
            rows = self._rows_for(history, batch, commit, report)
            if rows:
                data = pa.Table.from_pylist(rows, schema=self._schema())
                if table is None:
                    table = self._connect().create_table(TABLE, data=data, mode="overwrite")
                else:
                    table.add(data)
            for entry in batch:
                known[entry.path] = entry.blob_id
            report.files_indexed += len(batch)
            if progress:
                progress(min(start + _BATCH_FILES, len(changed)), len(changed))
        if table is not None:
            if changed or stale or not self._has_fts(table):
                self._refresh_fts(table, full=report.rebuilt or not state["files"])
            report.chunks_total = table.count_rows()
            self._write_state(
                {
                    "version": STATE_VERSION,
                    "repo": self.repo,
                    "commit": commit,
                    # The files are exactly that commit's tree (not a working tree's
                    # snapshot): the next update may diff from it.
                    "files_at": commit if history.lists_commits else None,
                    "skipped": [list(pair) for pair in listed_skips],
                    # Skips depend on the selection: another one lists every file again.
                    "selection": self._selection(),
                    "table_version": table.version,
                    "files": known,
                }
            )
        return report

    def _selection(self) -> list[list[str]]:
        """``include`` and ``exclude`` as the state file records them."""
        return [list(self.include), list(self.exclude)]

    def _selected(self, entries: list) -> tuple[list, list[tuple[str, str]]]:
        """The entries ``include`` and ``exclude`` keep, and the skips of the others."""
        if self.include == ("**",) and not self.exclude:
            return entries, []
        kept, left_out = [], []
        for entry in entries:
            if not matches(entry.path, self.include):
                left_out.append((entry.path, SKIP_NOT_INCLUDED))
            elif matches(entry.path, self.exclude):
                left_out.append((entry.path, SKIP_EXCLUDED))
            else:
                kept.append(entry)
        return kept, left_out

    @staticmethod
    def _delta(
        history: GitHistory,
        state: dict,
        commit: str,
        report: IndexReport,
        selection: list[list[str]],
    ) -> tuple[list, list[str], list[tuple[str, str]]] | None:
        """The changes since the commit ``state`` describes, or None to list every file.

        Only a state that is known to match the table (not repaired, not rebuilt) and
        names a readable commit is diffed; anything else takes the full comparison.
        """
        old = state.get("files_at")
        if (
            not old
            or not history.lists_commits
            or report.repaired
            or report.rebuilt
            or not state["files"]
            or state.get("selection", [["**"], []]) != selection
        ):
            return None
        earlier = state.get("skipped")
        if not isinstance(earlier, list):
            return None  # a state from before skips were kept: list once more
        found = history.changed_files(old, commit)
        if found is None:
            return None
        changed, gone, new_skips = found
        touched = {e.path for e in changed} | set(gone)
        # The skips of the whole tree: the earlier ones not touched, plus the new ones.
        skipped = sorted(
            {(str(p), str(why)) for p, why in earlier if p not in touched} | set(new_skips)
        )
        known = state["files"]
        # A file whose recorded blob is unknown (None) is re-read like a changed one.
        changed = [e for e in changed if known.get(e.path) != e.blob_id]
        return changed, [p for p in gone if p in known], skipped

    def _rows_for(
        self, history: GitHistory, batch: list, commit: str, report: IndexReport
    ) -> list[dict]:
        chunks: list[tuple[Chunk, str]] = []
        for entry in batch:
            if entry.size > self.max_file_bytes:
                log.info("skipping %s: %d bytes is over the limit", entry.path, entry.size)
                report.skipped.append((entry.path, "too large"))
                continue
            try:
                data = history.read_blob(entry.blob_id)
            except GitError as exc:
                # Listed but unreadable (a damaged object): skip it like a missing one.
                log.warning("skipping %s: %s", entry.path, exc)
                report.skipped.append((entry.path, SKIP_MISSING))
                continue
            if is_binary(data):
                report.skipped.append((entry.path, "binary"))
                continue
            chunks.extend((c, entry.blob_id) for c in chunk_file(entry.path, decode_text(data)))
        rows = self._rows(chunks, commit)
        report.chunks_added += len(rows)
        return rows

    def _rows(self, chunks: list[tuple[Chunk, str]], commit: str) -> list[dict]:
        rows = [
            {
                "repo": self.repo,
                "path": c.path,
                "start_line": c.start_line,
                "end_line": c.end_line,
                "commit": commit,
                "blob": blob,
                "kind": c.kind,
                "language": c.language,
                "symbols": " ".join(c.symbols),
                "text": c.text,
                "terms": chunk_terms(c),
            }
            for c, blob in chunks
        ]
        if self.embedder is not None and rows:
            vectors = self.embedder.embed_documents([r["text"] for r in rows])
            for row, vector in zip(rows, vectors, strict=True):
                row["vector"] = vector
        return rows

    @staticmethod
    def _has_fts(table: lancedb.table.Table) -> bool:
        return any(getattr(i, "index_type", "") == "FTS" for i in table.list_indices())

    def _refresh_fts(self, table: lancedb.table.Table, *, full: bool) -> None:
        if full or not self._has_fts(table):
            table.create_fts_index("terms", replace=True, with_position=False)
        elif self._fold_due(table):
            # Folds new rows into the FTS index and compacts; old versions are kept
            # for a while so that readers holding one are not cut off.
            table.optimize(cleanup_older_than=timedelta(minutes=10))

    @staticmethod
    def _fold_due(table: lancedb.table.Table) -> bool:
        """Whether the FTS index should be folded forward now.

        A full-text search also scans the rows the index does not cover yet (and skips
        deleted ones), so a small update is searchable without a fold; folding
        (``optimize``: index the new rows, compact the fragments) costs about the same
        for one changed file as for a thousand, so it waits until enough is pending.
        """
        names = [i.name for i in table.list_indices() if getattr(i, "index_type", "") == "FTS"]
        stats = table.index_stats(names[0]) if names else None
        if stats is None or stats.num_unindexed_rows >= FOLD_UNINDEXED_ROWS:
            return True
        fragments = table.stats().get("fragment_stats", {}).get("num_fragments", 0)
        return fragments >= FOLD_FRAGMENTS

    # --- discussions ---------------------------------------------------------------

    def add_discussion(
        self, number: int, title: str, body: str, comments: list[str], *, kind: str = "issue"
    ) -> int:
        """Index (or re-index) an issue or MR discussion the bot has seen.

        Args:
            number: Issue or MR number; the row's path is ``#<number>`` (``!<n>`` for MRs).
            title: Its title.
            body: Its description.
            comments: Comment texts in order.
            kind: ``issue`` or ``mr``.

        Returns:
            The number of chunks stored.
        """
        path = f"{'!' if kind == 'mr' else '#'}{number}"
        text = "\n\n".join([title, body, *comments])
        chunks = [
            Chunk(path, c.start_line, c.end_line, "discussion", kind, (title[:80],), c.text)
            for c in chunk_file(f"{path}.txt", text)
        ]
        with self._writer_lock():
            table = self.open_table()
            state = self.read_state()
            # Only a state that described the table before this write may follow it.
            in_sync = table is not None and state is not None
            in_sync = in_sync and state.get("table_version") == table.version
            if table is not None:
                table.delete(f"path = {_quote(path)}")
            if not chunks:
                if in_sync and state is not None and table is not None:
                    state["table_version"] = table.version
                    self._write_state(state)
                return 0
            rows = self._rows([(c, f"discussion:{path}") for c in chunks], "")
            data = pa.Table.from_pylist(rows, schema=self._schema())
            if table is None:
                table = self._connect().create_table(TABLE, data=data, mode="overwrite")
            else:
                table.add(data)
            self._refresh_fts(table, full=False)
            if in_sync and state is not None:
                state["table_version"] = table.version
                self._write_state(state)
            return len(rows)
