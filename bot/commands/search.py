"""``agentforge search PATH QUERY``: ranked files and line spans from a repository's index."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("search")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("query")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (default: <data_dir>/index/local/<repo-slug>).",
)
@click.option("--pack", "budget", type=click.IntRange(1), help="Print a context pack of N tokens.")
@click.option("--no-history", is_flag=True, help="Skip git-history signals (recency, co-change).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(
    path: Path,
    query: str,
    limit: int,
    index_dir: Path | None,
    budget: int | None,
    no_history: bool,
    as_json: bool,
) -> None:
    """Search the index of the repository at PATH (build it with `agentforge index`)."""
    from bot.context import index_location
    from bot.context.embeddings import make_embedder
    from bot.context.history import GitHistory
    from bot.context.index import RepoIndex
    from bot.context.pack import build_context_pack
    from bot.context.retrieval import Retriever
    from bot.settings import load_settings

    settings = load_settings()
    directory = index_dir or index_location(settings.index_dir, "local", str(path))
    repo_index = RepoIndex(
        directory, repo=path.resolve().name, embedder=make_embedder(settings.index_embeddings)
    )
    state = repo_index.read_state()
    if state is None:
        raise click.UsageError(f"no index for {path} in {directory}; run `agentforge index {path}`")
    stats = None
    if not no_history and settings.index_history_commits:
        stats = GitHistory(path).change_stats(
            state["commit"], max_commits=settings.index_history_commits
        )
    retriever = Retriever(repo_index, stats=stats)
    if budget:
        pack = build_context_pack(retriever, query, budget, max_files=limit)
        if as_json:
            items = [
                {"path": i.path, "start_line": i.start_line, "end_line": i.end_line,
                 "tokens": i.tokens, "text": i.text}
                for i in pack.items
            ]  # fmt: skip
            click.echo(json.dumps({"tokens": pack.tokens, "budget": budget, "items": items}))
        else:
            click.echo(pack.render())
        return
    ranked = retriever.rank_files(query, limit=limit)
    if as_json:
        out = [
            {
                "path": f.path,
                "score": round(f.score, 4),
                "spans": [[h.start_line, h.end_line] for h in f.hits[:5]],
                "reasons": {k: round(v, 4) for k, v in f.reasons.items()},
            }
            for f in ranked
        ]
        click.echo(json.dumps({"commit": state["commit"], "results": out}))
        return
    for n, f in enumerate(ranked, start=1):
        spans = ", ".join(f"{h.start_line}-{h.end_line}" for h in f.hits[:5])
        click.echo(f"{n:>3}. {f.path}  {f.score:.3f}" + (f"  lines {spans}" if spans else ""))
