"""Context packs: the best chunks for a task that fit a token budget.

A pack is what an agent is shown about the repository: ranked files, and from each
the chunks that matched, de-duplicated (overlapping spans of one file are merged,
identical text in two places is kept once), with paths and line numbers, never more
than the budget.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from bot.context.retrieval import Hit, Retriever
from bot.context.text import estimate_tokens, extract_mentions


@dataclass(frozen=True)
class PackItem:
    """One chunk in a pack."""

    path: str
    start_line: int
    end_line: int
    text: str
    score: float
    tokens: int


@dataclass
class ContextPack:
    """Chunks chosen for a query, in the order they should be shown.

    Attributes:
        query: The query the pack answers.
        budget: The token budget it was built for.
        items: Chosen chunks, best file first, each file's chunks in line order.
        tokens: Estimated tokens used by the items.
    """

    query: str
    budget: int
    items: list[PackItem] = field(default_factory=list)
    tokens: int = 0

    @property
    def paths(self) -> list[str]:
        """Files in the pack, in order, without repeats."""
        return list(dict.fromkeys(i.path for i in self.items))

    def render(self) -> str:
        """The pack as Markdown: one fenced block per chunk, headed ``path:start-end``."""
        parts = []
        for item in self.items:
            fence = "````" if "```" in item.text else "```"
            parts.append(
                f"{item.path}:{item.start_line}-{item.end_line}\n{fence}\n{item.text}\n{fence}"
            )
        return "\n\n".join(parts)


def _overlaps(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start <= e and s <= end for s, e in taken)


def build_context_pack(
    retriever: Retriever,
    query: str,
    budget_tokens: int = 8000,
    *,
    max_files: int = 10,
    anchors: tuple[str, ...] = (),
) -> ContextPack:
    """Choose the best chunks for ``query`` within ``budget_tokens``.

    Args:
        retriever: Retriever over the repository's index.
        query: The task or issue text.
        budget_tokens: Upper bound on the pack's estimated tokens.
        max_files: At most this many files contribute chunks.
        anchors: Files already selected; they rank co-changing files higher.

    Returns:
        The pack; empty when nothing matched or the budget is too small for any chunk.

    Raises:
        ValueError: ``budget_tokens`` is not positive.
    """
    if budget_tokens <= 0:
        raise ValueError("budget_tokens must be positive")
    pack = ContextPack(query=query, budget=budget_tokens)
    files = retriever.rank_files(query, limit=max_files, anchors=anchors)
    if not files:
        return pack
    named = set(extract_mentions(query).identifiers)
    top = files[0].score or 1.0
    candidates: list[tuple[float, int, Hit]] = []
    for rank, scored in enumerate(files):
        hits = scored.hits
        if not hits:
            # Ranked for a reference (path, symbol) rather than text: show the chunks
            # defining a named symbol, else the file's first chunk.
            chunks = retriever.chunks_of(scored.path)
            hits = [c for c in chunks if named & set(c.symbols.split())] or chunks[:1]
        best = max((h.score for h in hits), default=0.0) or 1.0
        for hit in hits:
            weight = (scored.score / top) * (0.5 + 0.5 * hit.score / best)
            candidates.append((weight, rank, hit))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2].path, c[2].start_line))
    taken: dict[str, list[tuple[int, int]]] = {}
    seen_text: set[str] = set()
    chosen: list[tuple[int, PackItem]] = []
    for weight, rank, hit in candidates:
        digest = hashlib.sha1(hit.text.encode("utf-8"), usedforsecurity=False).hexdigest()
        if digest in seen_text or _overlaps(taken.get(hit.path, []), hit.start_line, hit.end_line):
            continue
        tokens = estimate_tokens(hit.text) + estimate_tokens(hit.path) + 4
        if pack.tokens + tokens > budget_tokens:
            continue
        seen_text.add(digest)
        taken.setdefault(hit.path, []).append((hit.start_line, hit.end_line))
        item = PackItem(hit.path, hit.start_line, hit.end_line, hit.text, weight, tokens)
        chosen.append((rank, item))
        pack.tokens += tokens
    chosen.sort(key=lambda c: (c[0], c[1].start_line))
    pack.items = [item for _, item in chosen]
    return pack
