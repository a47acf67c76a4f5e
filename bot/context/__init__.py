"""The context store: what the agents are shown about a repository.

- :mod:`bot.context.history` - git history through pygit2 (files at a commit, commits
  touching a path, diffs, blame, co-change and recency statistics);
- :mod:`bot.context.chunking` - files split along syntax boundaries;
- :mod:`bot.context.index` - the incremental, crash-safe LanceDB index of one repository;
- :mod:`bot.context.retrieval` - BM25 (plus optional dense vectors) and code signals,
  ranking chunks and files;
- :mod:`bot.context.pack` - context packs within a token budget.

Only this package imports pygit2 and lancedb for the context store, and only when a
submodule is imported; importing :mod:`bot.context` itself is cheap.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def index_location(root: Path, forge: str, repo: str) -> Path:
    """Where a repository's index lives: ``<root>/<forge>/<repo-slug>``.

    Args:
        root: The index root (``Settings.index_dir``).
        forge: ``github``, ``gitlab`` or ``local``.
        repo: The repository's full name (``acme/app``) or, for ``local``, its path.

    Returns:
        A directory path; names are reduced to safe characters so that no repository
        name can point outside ``root``.
    """
    if forge == "local":
        resolved = str(Path(repo).resolve())
        name = Path(resolved).name or "repo"
        slug = f"{name}-{hashlib.sha1(resolved.encode(), usedforsecurity=False).hexdigest()[:8]}"
    else:
        slug = repo.replace("/", "__")
    safe_forge = re.sub(r"[^A-Za-z0-9_.-]", "_", forge).strip(".") or "forge"
    safe_slug = re.sub(r"[^A-Za-z0-9_.-]", "_", slug).strip(".") or "repo"
    return root / safe_forge / safe_slug
