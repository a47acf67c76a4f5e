"""Reviewer feedback per repository, in DuckDB: the lessons' memory.

:class:`DuckDBFeedback` implements :class:`handlers.services.FeedbackStore`. Every
``/reject`` text and every answered review comment is kept with its repository, run,
phase and role; :meth:`DuckDBFeedback.similar` finds earlier feedback like a new one.

**Similarity** is the Jaccard index of normalised token sets: the text's words go
through :func:`bot.context.text.search_terms` (identifiers split, code stop words
dropped), are lower-cased and stemmed with :func:`bot.context.text.stem`, and words of
two letters or fewer and :data:`STOPWORDS` are dropped. Two texts are similar when
``len(A & B) / len(A | B) >= SIMILARITY_THRESHOLD`` (0.5) and they share at least
:data:`MIN_SHARED` (2) terms, so "please add type hints" and "add type hints to the
new functions" meet, while one shared word never does.
"""

from __future__ import annotations

from bot.context.text import search_terms, stem
from bot.store.db import Database
from handlers.services import FeedbackRecord

SIMILARITY_THRESHOLD = 0.5
"""The least Jaccard index of two feedback texts' term sets that counts as "the same"."""
MIN_SHARED = 2
"""Terms two texts must share at least, whatever their Jaccard index."""
_STOPWORDS_TEXT = """
    please pleas thank thanks also just some here there again more less need needs
    should must use using make sure all any new old very much too its into out than then
    them they what when which who why how don doesn isn aren won wasn lgtm nit nits
    """
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
"""Words too common in review prose to say what the feedback is about."""
_SCAN_LIMIT = 5_000


def terms(text: str) -> frozenset[str]:
    """The normalised token set of ``text`` (see the module docstring)."""
    out = set()
    for word in search_terms(text.lower()).split():
        if len(word) <= 2 or word in STOPWORDS:
            continue
        stemmed = stem(word)
        if stemmed not in STOPWORDS:
            out.add(stemmed)
    return frozenset(out)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard index of two term sets (0 when either is empty or they share too little)."""
    shared = len(a & b)
    if shared < MIN_SHARED:
        return 0.0
    return shared / len(a | b)


class DuckDBFeedback:
    """Feedback records in the bot's DuckDB database.

    Args:
        db: The open database (migrated: the ``feedback`` table is migration 3).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, repo: str, run_id: str, phase: str, role: str, text: str, kind: str) -> None:
        """Keep one piece of feedback (the same run, kind and text is kept once)."""
        words = " ".join(sorted(terms(text)))
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO feedback (repo, run_id, phase, role, kind, text, terms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [repo, run_id, phase, role, kind, text, words],
            )

    def similar(self, repo: str, text: str) -> list[FeedbackRecord]:
        """Earlier feedback in ``repo`` at least :data:`SIMILARITY_THRESHOLD` similar."""
        wanted = terms(text)
        if len(wanted) < MIN_SHARED:
            return []
        rows = self.db.fetchall(
            "SELECT repo, run_id, phase, role, kind, text, terms FROM feedback "
            "WHERE repo = ? ORDER BY id DESC LIMIT ?",
            [repo, _SCAN_LIMIT],
        )
        found: list[FeedbackRecord] = []
        for row in rows:
            score = similarity(wanted, frozenset(row[6].split()))
            if score >= SIMILARITY_THRESHOLD:
                found.append(
                    FeedbackRecord(
                        repo=row[0],
                        run_id=row[1],
                        phase=row[2],
                        role=row[3],
                        kind=row[4],
                        text=row[5],
                        score=score,
                    )
                )
        found.sort(key=lambda r: r.score, reverse=True)
        return found
