"""What roles search, built on the context store (:mod:`bot.context`).

- :class:`IndexSearch` implements the roles' ``Search`` protocol
  (:mod:`agents.roles.tools`) over one repository's LanceDB index: code and docs for
  ``search_code``, issue and MR discussions for ``search_discussions``.
- :class:`DiscussionIndex` implements :class:`handlers.services.ContextSource`: every
  comment the bot sees is added to the repository's index, so later roles find it.
- :func:`update_index` brings a repository's index to the checked-out commit and
  indexes the run's discussion; :func:`context_pack` renders a pack for a task.

Discussion comments are kept per issue/MR in a small JSON file beside the index (the
index stores a whole discussion under one path, ``#12`` or ``!7``), de-duplicated by
content, and the discussion is re-indexed from it on every change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from bot.context import index_location
from bot.context.history import GitHistory
from bot.context.index import RepoIndex
from bot.context.pack import build_context_pack
from bot.context.retrieval import Hit, Retriever
from bot.errors import StoreLocked
from bot.repoconfig.schema import IndexConfig

log = logging.getLogger(__name__)

DISCUSSION_KIND = "discussion"
_OVERFETCH = 6


def _to_hit(hit: Hit) -> object:
    from agents.roles.tools import SearchHit

    return SearchHit(
        path=hit.path,
        start_line=hit.start_line,
        end_line=hit.end_line,
        text=hit.text,
        score=hit.score,
    )


class IndexSearch:
    """``search(query, k)`` over an index: code (default) or discussions.

    Args:
        retriever: Retriever over the repository's index.
        discussions: Search discussion rows instead of code and docs.
    """

    def __init__(self, retriever: Retriever, *, discussions: bool = False) -> None:
        self.retriever = retriever
        self.discussions = discussions

    def search(self, query: str, k: int = 8) -> list:
        """The ``k`` best chunks for ``query``, best first."""
        hits = self.retriever.search_chunks(query, limit=max(k, 1) * _OVERFETCH)
        wanted = [h for h in hits if (h.kind == DISCUSSION_KIND) == self.discussions]
        return [_to_hit(h) for h in wanted[:k]]


def _key(author: str, body: str) -> str:
    return hashlib.sha256(f"{author}\x00{body}".encode()).hexdigest()[:16]


class DiscussionIndex:
    """The :class:`handlers.services.ContextSource` of one forge: comments into the index.

    Args:
        index_dir: The index root (``Settings.index_dir``).
        forge: The forge's name (``github``, ``gitlab``, ``local``).
    """

    def __init__(self, index_dir: Path, forge: str) -> None:
        self.index_dir = Path(index_dir)
        self.forge = forge

    def location(self, repo: str) -> Path:
        """The repository's index directory."""
        return index_location(self.index_dir, self.forge, repo)

    def add_discussion(
        self,
        repo: str,
        *,
        number: int,
        is_mr: bool,
        comment_id: str | None,
        author: str,
        body: str,
    ) -> None:
        """Index one comment so ``search_discussions`` finds it (idempotent).

        Raises:
            StoreLocked: Another process is writing the index right now.
        """
        record(
            self.location(repo),
            repo,
            number=number,
            kind="mr" if is_mr else "issue",
            comments=[(author, body)],
        )


def _sidecar(directory: Path, kind: str, number: int) -> Path:
    return directory / "discussions" / f"{kind}-{number}.json"


def record(
    directory: Path,
    repo: str,
    *,
    number: int,
    kind: str,
    comments: list[tuple[str, str]],
    title: str | None = None,
    body: str | None = None,
) -> int:
    """Merge ``comments`` (author, text) into a discussion and re-index it if it changed.

    Returns:
        Chunks stored (0 when nothing was new).

    Raises:
        StoreLocked: Another process is writing the index.
    """
    path = _sidecar(directory, kind, number)
    state = {"title": "", "body": "", "comments": {}}
    if path.is_file():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("discussion record %s is unreadable; starting it again", path)
    changed = False
    for field_name, value in (("title", title), ("body", body)):
        if value is not None and state.get(field_name) != value:
            state[field_name] = value
            changed = True
    for author, text in comments:
        key = _key(author, text)
        if key not in state["comments"]:
            state["comments"][key] = f"{author}: {text}"
            changed = True
    if not changed:
        return 0
    stored = RepoIndex(directory, repo=repo).add_discussion(
        number, state["title"], state["body"], list(state["comments"].values()), kind=kind
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written after the index, atomically: a crash re-indexes rather than forgets.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(state, out)
    os.replace(tmp, path)
    return stored


def update_index(
    directory: Path,
    repo: str,
    checkout: Path,
    rev: str = "HEAD",
    *,
    selection: IndexConfig | None = None,
) -> RepoIndex:
    """The repository's index brought to ``rev`` of ``checkout`` (as far as possible).

    ``selection`` is the repository's ``index`` config (which files, how large); a
    locked index (another process is indexing) is used as it stands.
    """
    index = RepoIndex(directory, repo=repo, **index_options(selection))
    try:
        index.update(GitHistory(checkout), rev)
    except StoreLocked:
        log.warning("index %s is being written by another process; using it as it is", directory)
    return index


def index_options(selection: IndexConfig | None, operator_max: int | None = None) -> dict:
    """``RepoIndex`` keyword arguments for a repository's ``index`` config.

    The operator's ``AGENTFORGE_INDEX_MAX_FILE_BYTES`` caps what a repository may ask for.
    """
    options: dict = {}
    if selection is not None:
        options = {
            "include": selection.include,
            "exclude": selection.exclude,
            "max_file_bytes": selection.max_file_bytes,
        }
    if operator_max is not None:
        options["max_file_bytes"] = min(options.get("max_file_bytes", operator_max), operator_max)
    return options


def context_pack(retriever: Retriever, query: str, budget_tokens: int) -> str:
    """A rendered context pack for ``query`` (empty when nothing matched)."""
    if not query.strip():
        return ""
    return build_context_pack(retriever, query, budget_tokens).render()
