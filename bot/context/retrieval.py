"""Retrieval over a :class:`~bot.context.index.RepoIndex`: chunks and files for a query.

Chunks come from LanceDB's native BM25 full-text index (and, when an embedder is
configured, a vector search fused with it by reciprocal rank). Files are ranked by
combining, with fixed weights that are not tuned to any one repository:

- text relevance: the file's best chunk plus a decayed sum of its next ones;
- explicit references in the query: file paths, traceback frames and dotted module
  names that resolve to a file;
- symbol definitions: a class or function named in the query is *defined* there;
- priors from git history (when available): recent change and co-change with the
  files already ranked highest;
- a penalty for tests and docs unless the query is about them.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from bot.context.catalog import file_blobs, file_infos
from bot.context.filerank import FileBM25
from bot.context.history import ChangeStats
from bot.context.index import RepoIndex
from bot.context.text import extract_mentions, query_terms, search_terms

_EXPLICIT = ("path_mention", "trace_mention", "trace_deepest", "module_mention")
_COLUMNS = ["path", "start_line", "end_line", "kind", "symbols", "text", "_score"]
_MAX_QUERY_TERMS = 400
_ABOUT_TESTS = re.compile(r"\b(add|write|missing|flaky|failing)\s+(unit\s+)?tests?\b", re.I)
_VENDORED = re.compile(
    r"(^|/)(vendor|vendored|_vendor|third_party|thirdparty|externals?|packages)/"
)
# Code that ships beside the product rather than in it: docs tooling, examples, scripts.
_AUXILIARY = re.compile(
    r"(^|/)(docs?|examples?|demos?|scripts?|tools|benchmarks?|bench|contrib/scripts)/"
)
_ABOUT_DOCS = re.compile(r"\b(documentation|readme|changelog)\b", re.I)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    path: str
    start_line: int
    end_line: int
    kind: str
    symbols: str
    text: str
    score: float


@dataclass
class FileScore:
    """One ranked file, with the chunks that made it relevant and why."""

    path: str
    score: float
    hits: list[Hit] = field(default_factory=list)
    reasons: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Weights:
    """How much each signal counts (text relevance is normalised to 0..1)."""

    text: float = 1.0
    second_chunks: float = 0.35
    path_mention: float = 1.2
    trace_mention: float = 0.5
    trace_deepest: float = 0.3
    module_mention: float = 0.7
    symbol_definition: float = 0.6
    file_text: float = 0.6
    query_code_boost: float = 1.0
    path_words: float = 0.25
    co_change: float = 0.2
    recency: float = 0.1
    churn: float = 0.8
    churn_query_terms: float = 20.0
    non_code_factor: float = 0.35
    vendored_factor: float = 0.3
    auxiliary_factor: float = 0.7


class Retriever:
    """Answers queries against one repository's index.

    Args:
        index: The repository's index (already built).
        stats: Optional change statistics from git history, for the priors.
        weights: Signal weights.
    """

    def __init__(
        self, index: RepoIndex, *, stats: ChangeStats | None = None, weights: Weights | None = None
    ) -> None:
        self.index = index
        self.stats = stats
        self.weights = weights or Weights()
        self._table = index.open_table()
        self._symbols: dict[str, set[str]] | None = None
        self._paths: dict[str, str] | None = None
        self._suffixes: dict[str, list[str]] | None = None
        self._file_bm25: FileBM25 | None = None
        self._blobs: dict[str, str] = {}

    # --- chunks --------------------------------------------------------------------

    def search_chunks(self, query: str, limit: int = 50) -> list[Hit]:
        """The best chunks for a free-text query, best first."""
        if self._table is None:
            return []
        terms = search_terms(query).split()[:_MAX_QUERY_TERMS]
        hits: list[Hit] = []
        if terms:
            rows = (
                self._table.search(" ".join(terms), query_type="fts")
                .select(_COLUMNS)
                .limit(limit)
                .to_arrow()
                .to_pylist()
            )
            hits = [self._hit(r, r["_score"]) for r in rows]
        if self.index.embedder is not None and query.strip():
            hits = self._fuse(hits, self._vector_hits(query, limit), limit)
        return hits

    @staticmethod
    def _hit(row: dict, score: float) -> Hit:
        return Hit(
            row["path"], row["start_line"], row["end_line"], row["kind"],
            row["symbols"], row["text"], float(score),
        )  # fmt: skip

    def _vector_hits(self, query: str, limit: int) -> list[Hit]:
        if self.index.embedder is None or self._table is None:
            return []
        vector = self.index.embedder.embed_query(query)
        cols = [c for c in _COLUMNS if c != "_score"] + ["_distance"]
        rows = (
            self._table.search(vector, vector_column_name="vector")
            .select(cols)
            .limit(limit)
            .to_arrow()
            .to_pylist()
        )
        return [self._hit(r, 1.0 / (1.0 + r["_distance"])) for r in rows]

    @staticmethod
    def _fuse(first: list[Hit], second: list[Hit], limit: int, k: int = 60) -> list[Hit]:
        """Reciprocal-rank fusion; the fused score is scaled to BM25's range."""
        scores: dict[tuple[str, int], float] = defaultdict(float)
        by_key: dict[tuple[str, int], Hit] = {}
        for ranked in (first, second):
            for rank, hit in enumerate(ranked):
                key = (hit.path, hit.start_line)
                scores[key] += 1.0 / (k + rank + 1)
                by_key.setdefault(key, hit)
        top = max(scores.values(), default=1.0)
        ordered = sorted(scores, key=lambda key: -scores[key])[:limit]
        h = by_key
        return [
            Hit(h[key].path, h[key].start_line, h[key].end_line, h[key].kind, h[key].symbols,
                h[key].text, scores[key] / top)
            for key in ordered
        ]  # fmt: skip

    def chunks_of(self, path: str) -> list[Hit]:
        """Every chunk of one file, in line order (score 0)."""
        if self._table is None:
            return []
        rows = (
            self._table.search()
            .where("path = '" + path.replace("'", "''") + "'")
            .select([c for c in _COLUMNS if c != "_score"])
            .limit(None)
            .to_arrow()
            .to_pylist()
        )
        return sorted((self._hit(r, 0.0) for r in rows), key=lambda h: h.start_line)

    # --- files ---------------------------------------------------------------------

    def _catalog(self) -> tuple[dict[str, set[str]], dict[str, str]]:
        """Symbol -> files defining it, and path -> kind (:mod:`bot.context.catalog`)."""
        if self._symbols is None or self._paths is None:
            symbols: dict[str, set[str]] = defaultdict(set)
            paths: dict[str, str] = {}
            if self._table is not None:
                self._blobs = file_blobs(self.index, self._table)
                for path, info in file_infos(self._table, self._blobs).items():
                    paths[path] = info.kind
                    for sym in info.symbols:
                        symbols[sym].add(path)
            self._symbols, self._paths = dict(symbols), paths
        return self._symbols, self._paths

    def rank_files(
        self, query: str, limit: int = 20, *, chunk_pool: int = 500, anchors: tuple[str, ...] = ()
    ) -> list[FileScore]:
        """Rank the repository's files for a query (an issue, a task description).

        Args:
            query: Free text; untrusted, used only as search input.
            limit: How many files to return.
            chunk_pool: How many chunks to retrieve before aggregating to files.
            anchors: Files already selected (e.g. being edited); files that change
                together with them are boosted.

        Returns:
            Files, best first, each with its hits and the per-signal contributions.
        """
        w = self.weights
        symbols, paths = self._catalog()
        files: dict[str, FileScore] = {}

        def bump(path: str, signal: str, value: float) -> None:
            entry = files.setdefault(path, FileScore(path, 0.0))
            entry.reasons[signal] = entry.reasons.get(signal, 0.0) + value

        hits = self.search_chunks(query, chunk_pool)
        top = hits[0].score if hits else 1.0
        per_file: dict[str, list[Hit]] = defaultdict(list)
        for hit in hits:
            if hit.kind != "discussion":
                per_file[hit.path].append(hit)
        for path, file_hits in per_file.items():
            norm = [h.score / top for h in file_hits]
            rest = sum(s * 0.5**i for i, s in enumerate(norm[1:4]))
            bump(path, "text", w.text * norm[0] + w.second_chunks * rest)
            files[path].hits = file_hits
        if w.file_text:
            self._file_signal(query, bump)
        self._mention_signals(query, paths, symbols, bump)
        self._history_signals(files, bump, anchors)
        self._churn_signal(query, paths, bump)
        about_tests = bool(_ABOUT_TESTS.search(query))
        about_docs = bool(_ABOUT_DOCS.search(query))
        for path, entry in files.items():
            # Explicit references are taken at face value; only the fuzzy signals
            # (text, history) are discounted for tests, docs and vendored code.
            explicit = sum(entry.reasons.get(s, 0.0) for s in _EXPLICIT)
            fuzzy = sum(entry.reasons.values()) - explicit
            kind = paths.get(path, "code")
            if (kind == "test" and not about_tests) or (kind in ("doc", "text") and not about_docs):
                fuzzy *= w.non_code_factor
            if _VENDORED.search(path):
                fuzzy *= w.vendored_factor
            elif _AUXILIARY.search(path):
                fuzzy *= w.auxiliary_factor
            entry.score = fuzzy + explicit
        ranked = sorted(files.values(), key=lambda f: (-f.score, f.path))
        return ranked[:limit]

    def _file_signal(self, query: str, bump) -> None:
        """Whole-file BM25 over code files (normalised to the best file), a second view."""
        if self._file_bm25 is None:
            _, kinds = self._catalog()
            code = {p: b for p, b in self._blobs.items() if kinds.get(p) == "code"}
            self._file_bm25 = FileBM25(self._table, blobs=code)
        scores = self._file_bm25.score(query_terms(query, self.weights.query_code_boost))
        if not scores:
            return
        top = max(scores.values())
        for path, score in scores.items():
            if score >= 0.05 * top:
                bump(path, "file_text", self.weights.file_text * score / top)

    def _mention_signals(self, query, paths, symbols, bump) -> None:
        w = self.weights
        mentions = extract_mentions(query)
        if self._suffixes is None:
            suffixes: dict[str, list[str]] = defaultdict(list)
            for path in paths:
                parts = path.split("/")
                for i in range(len(parts)):
                    suffixes["/".join(parts[i:])].append(path)
            self._suffixes = dict(suffixes)
        suffix_index = self._suffixes

        def resolve(fragment: str) -> list[str]:
            parts = fragment.strip("./").split("/")
            # A long absolute path (site-packages/...) matches on its longest known suffix.
            for i in range(len(parts)):
                found = suffix_index.get("/".join(parts[i:]))
                if found:
                    return found if len(found) <= 3 else []
            return []

        for fragment in mentions.paths:
            for path in resolve(fragment):
                bump(path, "path_mention", w.path_mention)
        deepest: list[str] = []
        for fragment in mentions.trace_paths:
            found = resolve(fragment)
            for path in found:
                bump(path, "trace_mention", w.trace_mention)
            if found and not any(_VENDORED.search(p) for p in found):
                deepest = found
        # The innermost frame in the repository's own code is where the error surfaced,
        # and more often than the outer frames it is where the fix goes.
        for path in deepest:
            bump(path, "trace_deepest", w.trace_deepest / len(deepest))
        for dotted in mentions.modules:
            parts = dotted.split(".")
            for n in range(len(parts), 0, -1):
                stem = "/".join(parts[:n])
                found = suffix_index.get(stem + ".py") or suffix_index.get(stem + "/__init__.py")
                if found and len(found) <= 2 and n >= 2:
                    for path in found:
                        bump(path, "module_mention", w.module_mention)
                    break
        for name in mentions.identifiers:
            defined_in = symbols.get(name)
            if defined_in and len(defined_in) <= 5:
                share = w.symbol_definition / len(defined_in)
                weight = share * min(1.0, 0.5 + 0.25 * mentions.counts.get(name, 1))
                for path in defined_in:
                    bump(path, "symbol_definition", weight)
        words = set(search_terms(query).split())
        for path in paths:
            stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower().strip("_")
            if len(stem) >= 4 and stem in words and stem not in {"init", "main", "utils"}:
                bump(path, "path_words", w.path_words)

    def _churn_signal(self, query: str, paths: dict[str, str], bump) -> None:
        """A prior for code files that change often: fixes land where work happens.

        A prior should count most when the evidence is weak: its weight shrinks with
        the number of distinct search terms in the query, so it decides between files
        for "Fix #1106" and barely moves a long issue with a traceback.
        """
        if self.stats is None or not self.weights.churn:
            return
        distinct = len(set(search_terms(query).split()))
        weight = self.weights.churn / (1.0 + distinct / max(self.weights.churn_query_terms, 1e-9))
        counts = {p: n for p, n in self.stats.counts.items() if paths.get(p) == "code"}
        top = max(counts.values(), default=0)
        if top < 2:
            return
        for path, n in counts.items():
            bump(path, "churn", weight * math.log1p(n) / math.log1p(top))

    def _history_signals(self, files: dict[str, FileScore], bump, anchors=()) -> None:
        if self.stats is None or not files:
            return
        w = self.weights
        for path in list(files):
            recency = self.stats.recency(path)
            if recency:
                bump(path, "recency", w.recency * recency)
        leaders = sorted(files.values(), key=lambda f: -sum(f.reasons.values()))[:3]
        co = self.stats.co_changed_with([*anchors, *(f.path for f in leaders)])
        for path, share in co.items():
            if path in files:
                bump(path, "co_change", w.co_change * math.sqrt(share))
