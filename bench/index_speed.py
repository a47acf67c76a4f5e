"""Indexing and query speed of the context index, against `git grep` in the same run.

    python bench/index_speed.py --repo DIR [--queries 50] [--rev HEAD]

Measures, on one repository (use one with at least 2,000 files):

- full index: files/s from an empty index directory;
- incremental re-index after a one-file commit: seconds and files/s (the commit is
  made with git plumbing on no branch; the clone's work tree and refs are untouched);
- query latency p50/p95 of file ranking (``Retriever.rank_files``) and of raw chunk
  search, for queries made of identifiers sampled from the repository;
- baseline: ``git grep`` over the same commit, for the same queries (any of the
  words, case-insensitive), and its files/s for one pass over the tree.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.context.history import GitHistory  # noqa: E402
from bot.context.index import RepoIndex  # noqa: E402
from bot.context.retrieval import Retriever  # noqa: E402


def git(repo: Path, *args: str, env: dict | None = None, stdin: bytes | None = None) -> str:
    """Run git in ``repo`` and return its stdout."""
    out = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **(env or {})}, input=stdin,
        capture_output=True, check=True,
    )  # fmt: skip
    return out.stdout.decode().strip()


def one_file_commit(repo: Path, rev: str, path: str) -> str:
    """A commit on top of ``rev`` that appends a function to ``path``, on no branch."""
    content = (
        git(repo, "show", f"{rev}:{path}").encode()
        + b"\n\ndef bench_added_function():\n    return 42\n"
    )
    blob = git(repo, "hash-object", "-w", "--stdin", stdin=content)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", rev, env=env)
        git(repo, "update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env)
    ident = {
        "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    }  # fmt: skip
    return git(repo, "commit-tree", tree, "-p", rev, "-m", "bench: one-file change", env=ident)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def sample_queries(index: RepoIndex, n: int, seed: int = 7) -> list[str]:
    """Queries of two or three identifiers taken from random chunks' symbol names."""
    table = index.open_table()
    symbols = table.to_arrow().column("symbols").to_pylist()
    rng = random.Random(seed)
    words = sorted({w for s in symbols for w in s.split() if w.isidentifier() and len(w) > 3})
    return [" ".join(rng.sample(words, rng.choice((2, 3)))) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path)
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)
    history = GitHistory(args.repo)
    rev = history.resolve(args.rev)
    files, _ = history.list_files(rev)
    result: dict = {"repo": str(args.repo), "commit": rev, "files": len(files)}
    with tempfile.TemporaryDirectory(prefix="index-speed-") as tmp:
        index = RepoIndex(Path(tmp) / "idx", repo=args.repo.name)
        full = index.update(history, rev)
        result["full"] = {
            "seconds": round(full.seconds, 2),
            "files_per_s": round(full.files_total / full.seconds, 1),
            "chunks": full.chunks_total,
        }
        target = max(
            (f for f in files if f.path.endswith(".py") and f.size < 20_000),
            key=lambda f: f.size,
        )
        new_commit = one_file_commit(args.repo, rev, target.path)
        inc = index.update(history, new_commit)
        result["incremental"] = {
            "seconds": round(inc.seconds, 3),
            "files_reindexed": inc.files_indexed,
            "files_per_s": round(inc.files_total / inc.seconds, 1),
        }
        queries = sample_queries(index, args.queries)
        retriever = Retriever(index, stats=None)
        retriever.rank_files(queries[0])  # warm-up: loads the symbol catalogue once
        rank_ms, chunk_ms, grep_ms = [], [], []
        for query in queries:
            started = time.perf_counter()
            retriever.rank_files(query, limit=10)
            rank_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            retriever.search_chunks(query, limit=10)
            chunk_ms.append((time.perf_counter() - started) * 1000)
            pattern = "|".join(query.split())
            started = time.perf_counter()
            subprocess.run(
                ["git", "grep", "-l", "-i", "-E", pattern, new_commit],
                cwd=args.repo, capture_output=True, check=False,
            )  # fmt: skip
            grep_ms.append((time.perf_counter() - started) * 1000)
    for name, values in (
        ("rank_files", rank_ms),
        ("search_chunks", chunk_ms),
        ("git_grep", grep_ms),
    ):
        result[f"{name}_ms"] = {
            "p50": round(statistics.median(values), 1),
            "p95": round(percentile(values, 95), 1),
        }
    grep_pass = result["git_grep_ms"]["p50"] / 1000
    result["git_grep_files_per_s"] = round(len(files) / grep_pass, 1) if grep_pass else None
    result["queries"] = len(queries)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
