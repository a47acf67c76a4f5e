"""``agentforge search [PATH] QUERY``: ranked files and line spans from a repository's index.

The repository is ``--repo PATH`` (or a leading PATH argument; default: the repository
containing the current directory). Its index is found by the repository's resolved top
directory in the user's data directory, so the command works from anywhere once
``agentforge index`` has run.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def _repo_and_query(args: tuple[str, ...], repo: Path | None) -> tuple[Path, str]:
    """``QUERY`` (with ``--repo``, default ``.``) or the older ``PATH QUERY`` form."""
    if len(args) == 1:
        return (repo or Path(".")), args[0]
    if len(args) == 2:
        if repo is not None:
            raise click.UsageError("give the repository once: --repo PATH or a PATH argument")
        path = Path(args[0])
        if not path.is_dir():
            raise click.BadParameter(f"{args[0]!r} is not a directory", param_hint="PATH")
        return path, args[1]
    raise click.UsageError("expected [PATH] QUERY; quote a query that has spaces")


@click.command("search")
@click.argument("args", nargs=-1, required=True, metavar="[PATH] QUERY")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The repository to search (default: the one containing the current directory).",
)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (default: where `agentforge index` put this repository's index).",
)
@click.option("--pack", "budget", type=click.IntRange(1), help="Print a context pack of N tokens.")
@click.option("--no-history", is_flag=True, help="Skip git-history signals (recency, co-change).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(
    args: tuple[str, ...],
    repo: Path | None,
    limit: int,
    index_dir: Path | None,
    budget: int | None,
    no_history: bool,
    as_json: bool,
) -> None:
    """Search the index of a repository (build it with `agentforge index`).

    The index holds the committed files it was built from (or the working tree, with
    `agentforge index --worktree`). Prints "no matches" when nothing matches.
    """
    from bot.context import index_location
    from bot.context.embeddings import make_embedder
    from bot.context.history import GitHistory
    from bot.context.index import RepoIndex
    from bot.context.pack import build_context_pack
    from bot.context.retrieval import Retriever
    from bot.settings import load_settings

    path, query = _repo_and_query(args, repo)
    settings = load_settings()
    history = GitHistory(path)
    root = history.root
    directory = index_dir or index_location(settings.index_dir, "local", str(root))
    repo_index = RepoIndex(
        directory, repo=root.name, embedder=make_embedder(settings.index_embeddings)
    )
    state = repo_index.read_state()
    if state is None:
        raise click.UsageError(f"no index for {root} in {directory}; run `agentforge index {root}`")
    stats = None
    if not no_history and settings.index_history_commits and not history.is_empty:
        # A working-tree index of a repository without commits has no history to use.
        stats = history.change_stats(state["commit"], max_commits=settings.index_history_commits)
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
        elif pack.items:
            click.echo(pack.render())
        else:
            click.echo(_no_matches(query, root, state))
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
    if not ranked:
        click.echo(_no_matches(query, root, state))
        return
    for n, f in enumerate(ranked, start=1):
        spans = ", ".join(f"{h.start_line}-{h.end_line}" for h in f.hits[:5])
        click.echo(f"{n:>3}. {f.path}  {f.score:.3f}" + (f"  lines {spans}" if spans else ""))


def _no_matches(query: str, root: Path, state: dict) -> str:
    commit = str(state.get("commit") or "")[:12]
    return f"no matches for {query!r} in {root} (index of {commit})"
