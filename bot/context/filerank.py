"""Whole-file, field-weighted BM25 over a repository's code files.

Chunk-level BM25 rewards a file for one dense passage; a fix often spans a file whose
vocabulary matches the issue as a whole. This module scores whole files, with three
fields folded into one bag of terms:

- the body (every chunk's text, identifiers split and joined as in
  :func:`~bot.context.text.search_terms`);
- the path (directory and file-name terms, repeated ``path_boost`` times), because
  issues name the area they are about (``sessions``, ``reporters``);
- the names the file *defines* (classes, functions, methods, once each, repeated
  ``symbol_boost`` times), so a file that defines ``merge_hooks`` outranks the many
  files that merely call it.

With ``stem`` set, terms on both sides are folded onto light stems, so issue prose
("serialization of chained exceptions") meets code words (``serialize``, ``chain``);
measured on the localization sets it did not help (the chunk search already stems),
so it is off by default. The per-file term
counts are derived from the index's own rows and cached by blob id (a module-level,
bounded cache), so after the first query on a repository only files whose content
changed are read again, and incremental indexing needs no new columns.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from dataclasses import dataclass

from bot.context.text import path_terms, search_terms, stem

_CACHE_LIMIT = 200_000
# (path, blob id, field settings) -> counts; the path is part of the key because the
# same content at two paths (empty __init__.py files) has different path terms.
_cache: OrderedDict[tuple[str, str, str], Counter] = OrderedDict()


@dataclass(frozen=True)
class FieldWeights:
    """How the fields of a file are folded into its bag of terms, and BM25's knobs."""

    path_boost: int = 2
    symbol_boost: int = 2
    stem: bool = False
    k1: float = 1.2
    b: float = 0.75


def _remember(key: tuple[str, str, str], counts: Counter) -> None:
    _cache[key] = counts
    _cache.move_to_end(key)
    while len(_cache) > _CACHE_LIMIT:
        _cache.popitem(last=False)


def file_counts(path: str, chunks: list[tuple[str, str]], fields: FieldWeights) -> Counter:
    """The bag of terms for one file.

    Args:
        path: Repository-relative path.
        chunks: ``(text, symbols)`` for each of the file's chunks; ``symbols`` is the
            space-separated names the chunk defines.
        fields: Field boosts.

    Returns:
        Term -> weighted frequency.
    """
    counts: Counter = Counter()
    defined: set[str] = set()
    for text, symbols in chunks:
        counts.update(search_terms(text).split())
        # ``Class.method`` names add nothing over their parts; keep the last part.
        defined.update(s.rsplit(".", 1)[-1] for s in symbols.split())
    for term in path_terms(path).split():
        counts[term] += fields.path_boost
    for term in search_terms(" ".join(sorted(defined))).split():
        counts[term] += fields.symbol_boost
    return stem_counts(counts) if fields.stem else counts


def stem_counts(counts: Counter) -> Counter:
    """Fold terms onto their stems (:func:`~bot.context.text.stem`), adding weights."""
    folded: Counter = Counter()
    for term, n in counts.items():
        folded[stem(term)] += n
    return folded


class FileBM25:
    """BM25 over whole files of one index table.

    Args:
        table: The LanceDB chunks table (columns path, blob, kind, text, symbols).
        kinds: Which chunk kinds are documents (default: code only).
        fields: Field boosts and BM25 parameters.
        blobs: Path -> blob id of the documents, when the caller knows them already
            (None: listed from the table's rows of ``kinds``).
    """

    def __init__(
        self,
        table,
        kinds: tuple[str, ...] = ("code",),
        fields: FieldWeights | None = None,
        *,
        blobs: dict[str, str] | None = None,
    ) -> None:
        self.fields = fields or FieldWeights()
        self.docs: dict[str, Counter] = {}
        self._lengths: dict[str, int] = {}
        self._avg = 1.0
        if table is None:
            return
        kind_list = ", ".join("'" + k + "'" for k in kinds)
        if blobs is None:
            listing = (
                table.search()
                .where(f"kind IN ({kind_list})")
                .select(["path", "blob"])
                .limit(None)
                .to_arrow()
            )
            paths, ids = listing["path"].to_pylist(), listing["blob"].to_pylist()
            blobs = dict(zip(paths, ids, strict=True))
        tag = repr(self.fields)
        missing = sorted({b for p, b in blobs.items() if (p, b, tag) not in _cache})
        fresh: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for start in range(0, len(missing), 300):
            batch = ", ".join("'" + b + "'" for b in missing[start : start + 300])
            rows = (
                table.search()
                .where(f"blob IN ({batch}) AND kind IN ({kind_list})")
                .select(["path", "blob", "text", "symbols", "start_line"])
                .limit(None)
                .to_arrow()
                .to_pylist()
            )
            for row in sorted(rows, key=lambda r: r["start_line"]):
                fresh.setdefault((row["path"], row["blob"]), []).append(
                    (row["text"], row["symbols"])
                )
        for (path, blob), chunks in fresh.items():
            _remember((path, blob, tag), file_counts(path, chunks, self.fields))
        for path, blob in blobs.items():
            counts = _cache.get((path, blob, tag))
            if counts is not None:
                self.docs[path] = counts
        self._lengths = {p: sum(c.values()) for p, c in self.docs.items()}
        self._avg = (sum(self._lengths.values()) / len(self._lengths)) if self._lengths else 1.0

    def score(self, query_terms: Counter) -> dict[str, float]:
        """BM25 score of every file with at least one query term.

        Args:
            query_terms: Term -> weight in the query (weights may be fractional).

        Returns:
            Path -> score (only positive scores).
        """
        if not self.docs or not query_terms:
            return {}
        if self.fields.stem:
            query_terms = stem_counts(query_terms)
        n = len(self.docs)
        df: Counter = Counter()
        for counts in self.docs.values():
            df.update(t for t in query_terms if t in counts)
        idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in query_terms if df[t]}
        k1, b = self.fields.k1, self.fields.b
        scores: dict[str, float] = {}
        for path, counts in self.docs.items():
            norm = k1 * (1 - b + b * self._lengths[path] / (self._avg or 1.0))
            total = 0.0
            for term, weight in idf.items():
                tf = counts.get(term)
                if tf:
                    total += query_terms[term] * weight * tf * (k1 + 1) / (tf + norm)
            if total > 0:
                scores[path] = total
        return scores
