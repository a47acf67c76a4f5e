"""File localization benchmark: our retriever against whole-file BM25, in the same run.

For each case (an issue's text and a repository at its base commit), both rankers
order the repository's files; we report recall@1/5/10 where a case counts only when
*all* its gold files are in the top k (and, on stderr, the "any gold file" variant).

    python bench/localize.py --cases CASES.jsonl [--cases MORE.jsonl] --repo-dir DIR

DIR holds one clone per repository, named ``owner__name`` (bare or not: files are
read from git objects at each base commit, nothing is checked out). One index per
repository is kept for the run and updated incrementally from case to case. The last
line printed is one JSON object with the "all gold files" numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.context.chunking import classify, decode_text, is_binary  # noqa: E402
from bot.context.history import GitHistory  # noqa: E402
from bot.context.index import RepoIndex  # noqa: E402
from bot.context.retrieval import Retriever, Weights  # noqa: E402
from bot.context.text import search_terms  # noqa: E402

KS = (1, 5, 10)


def is_candidate(path: str) -> bool:
    """The benchmark's candidate rule, the same for every ranker.

    A candidate is a non-test source-code file (``classify`` gives ``code``: a source
    extension such as ``.py``, outside test files and directories). The gold files are
    the non-test source files a fix changed, so docs, changelogs and tests can never be
    right answers; ranking them only handicaps whichever ranker does not skip them.
    """
    return classify(path)[0] == "code"


class WholeFileBM25:
    """Plain Okapi BM25 over whole files (identifiers split), the baseline.

    Args:
        history: The repository.
        only: Keep only paths for which this returns True (None: every text file,
            the older and weaker variant of the baseline).
    """

    def __init__(
        self,
        history: GitHistory,
        k1: float = 1.2,
        b: float = 0.75,
        only: Callable[[str], bool] | None = None,
    ) -> None:
        self.history = history
        self.k1, self.b = k1, b
        self.only = only
        self._cache: dict[str, Counter] = {}

    def _doc(self, blob_id: str, size: int) -> Counter:
        if blob_id not in self._cache:
            data = b"" if size > 1_000_000 else self.history.read_blob(blob_id)
            text = "" if is_binary(data) else decode_text(data)
            self._cache[blob_id] = Counter(search_terms(text).split())
        return self._cache[blob_id]

    def rank(self, query: str, rev: str, limit: int = 10) -> list[str]:
        """Files at ``rev`` ordered by BM25 score for the query."""
        entries, _ = self.history.list_files(rev)
        if self.only is not None:
            entries = [e for e in entries if self.only(e.path)]
        docs = [(e.path, self._doc(e.blob_id, e.size)) for e in entries]
        lengths = [sum(d.values()) for _, d in docs]
        avg = (sum(lengths) / len(lengths)) if lengths else 1.0
        q = Counter(search_terms(query).split())
        df = Counter()
        for _, d in docs:
            df.update(t for t in q if t in d)
        n = len(docs)
        scores = []
        for (path, d), length in zip(docs, lengths, strict=True):
            s = 0.0
            for term, qtf in q.items():
                tf = d.get(term)
                if tf:
                    idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                    norm = tf + self.k1 * (1 - self.b + self.b * length / (avg or 1.0))
                    s += qtf * idf * tf * (self.k1 + 1) / norm
            if s > 0:
                scores.append((s, path))
        scores.sort(key=lambda x: (-x[0], x[1]))
        return [p for _, p in scores[:limit]]


def recall(ranked: list[str], gold: list[str], k: int, *, every: bool) -> float:
    """1.0 if all (every=True) or any gold file is in the top k, else 0.0."""
    top = set(ranked[:k])
    hit = all(g in top for g in gold) if every else any(g in top for g in gold)
    return 1.0 if hit else 0.0


RANKERS = ("ours", "bm25", "bm25_all")


def run(
    cases: list[dict], repo_dir: Path, index_root: Path, use_history: bool, weights: Weights
) -> dict:
    """Run every ranker on every case; return the summary.

    ``ours`` and ``bm25`` rank only candidate files (:func:`is_candidate`);
    ``bm25_all`` is the earlier baseline over every text file, kept for comparison.
    """
    totals = {name: {f"{m}@{k}": 0.0 for m in ("all", "any") for k in KS} for name in RANKERS}
    per_set: dict[str, dict[str, dict[str, float]]] = {}
    set_sizes: Counter = Counter(case.get("_set", "") for case in cases)
    rank_seconds: list[float] = []
    by_repo: dict[str, list[dict]] = {}
    for case in cases:
        by_repo.setdefault(case["repo"], []).append(case)
    for repo, repo_cases in sorted(by_repo.items()):
        history = GitHistory(repo_dir / repo.replace("/", "__"))
        repo_cases.sort(key=lambda c: history.commit_time(c["base_commit"]))
        index = RepoIndex(index_root / repo.replace("/", "__"), repo=repo)
        baseline = WholeFileBM25(history, only=is_candidate)
        baseline_all = WholeFileBM25(history)
        for case in repo_cases:
            started = time.monotonic()
            index.update(history, case["base_commit"])
            stats = history.change_stats(case["base_commit"]) if use_history else None
            ranking_started = time.monotonic()
            retriever = Retriever(index, stats=stats, weights=weights)
            ranked = retriever.rank_files(case["problem_statement"], 50)
            rank_seconds.append(time.monotonic() - ranking_started)
            lists = {
                "ours": [f.path for f in ranked if is_candidate(f.path)][:10],
                "bm25": baseline.rank(case["problem_statement"], case["base_commit"], 10),
                "bm25_all": baseline_all.rank(case["problem_statement"], case["base_commit"], 10),
            }
            gold = case["gold_files"]
            group = per_set.setdefault(
                case.get("_set", ""), {name: {f"recall@{k}": 0.0 for k in KS} for name in RANKERS}
            )
            for name, files in lists.items():
                for k in KS:
                    totals[name][f"all@{k}"] += recall(files, gold, k, every=True)
                    totals[name][f"any@{k}"] += recall(files, gold, k, every=False)
                    group[name][f"recall@{k}"] += recall(files, gold, k, every=True)
            print(
                json.dumps(
                    {
                        "case": case["instance_id"],
                        "gold": gold,
                        **{name: files for name, files in lists.items() if name != "bm25_all"},
                        "seconds": round(time.monotonic() - started, 2),
                    }
                ),
                file=sys.stderr,
            )
    n = max(1, len(cases))
    summary = {
        name: {key: round(value / n, 4) for key, value in metrics.items()}
        for name, metrics in totals.items()
    }
    summary["by_set"] = {
        name: {
            "cases": set_sizes[name],
            **{
                ranker: {key: round(v / set_sizes[name], 4) for key, v in metrics.items()}
                for ranker, metrics in group.items()
            },
        }
        for name, group in sorted(per_set.items())
    }
    ordered = sorted(rank_seconds)
    summary["ours_rank_ms"] = {
        "p50": round(1000 * ordered[len(ordered) // 2], 1) if ordered else 0.0,
        "p95": round(1000 * ordered[int(len(ordered) * 0.95)], 1) if ordered else 0.0,
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", action="append", required=True, type=Path)
    parser.add_argument("--repo-dir", required=True, type=Path)
    parser.add_argument("--index-dir", type=Path, help="keep indexes here (default: temp)")
    parser.add_argument("--no-history", action="store_true", help="skip git-history priors")
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases")
    parser.add_argument(
        "--weight", action="append", default=[], help="override a signal weight: name=value"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cases = [
        {**json.loads(line), "_set": path.name.removesuffix(".jsonl")}
        for path in args.cases
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if args.limit:
        cases = cases[: args.limit]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="localize-") as tmp:
        weights = dataclasses.replace(
            Weights(), **{k: float(v) for k, v in (w.split("=", 1) for w in args.weight)}
        )
        summary = run(
            cases, args.repo_dir, args.index_dir or Path(tmp), not args.no_history, weights
        )
    seconds = round(time.monotonic() - started, 1)
    any_line = {
        name: {k: v for k, v in summary[name].items() if k.startswith("any")} for name in RANKERS
    }
    print(json.dumps({"any_gold_in_top_k": any_line, "by_set": summary["by_set"]}))
    result = {
        "cases": len(cases),
        **{name: {f"recall@{k}": summary[name][f"all@{k}"] for k in KS} for name in RANKERS},
        "ours_rank_ms": summary["ours_rank_ms"],
        "seconds": seconds,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
