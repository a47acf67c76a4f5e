"""``agentforge index PATH``: build or update the search index of a local repository."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("index")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--rev", default="HEAD", show_default=True, help="Commit to index.")
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (default: <data_dir>/index/local/<repo-slug>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
def index(
    path: Path, rev: str, index_dir: Path | None, as_json: bool, progress: bool | None
) -> None:
    """Index the git repository at PATH (incrementally) for `agentforge search`."""
    from bot.context import index_location
    from bot.context.embeddings import make_embedder
    from bot.context.history import GitHistory
    from bot.context.index import RepoIndex
    from bot.settings import load_settings

    settings = load_settings()
    history = GitHistory(path)
    directory = index_dir or index_location(settings.index_dir, "local", str(path))
    repo_index = RepoIndex(
        directory,
        repo=path.resolve().name,
        max_file_bytes=settings.index_max_file_bytes,
        embedder=make_embedder(settings.index_embeddings),
    )
    show = progress if progress is not None else (sys.stderr.isatty() and not as_json)
    if show:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("indexing", total=None)
            report = repo_index.update(
                history,
                rev,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    else:
        report = repo_index.update(history, rev)
    result = {
        "index_dir": str(directory),
        "commit": report.commit,
        "files": report.files_total,
        "files_indexed": report.files_indexed,
        "files_removed": report.files_removed,
        "files_skipped": len(report.skipped),
        "chunks": report.chunks_total,
        "chunks_added": report.chunks_added,
        "seconds": round(report.seconds, 3),
        "repaired": report.repaired,
        "rebuilt": report.rebuilt,
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    commit = (report.commit or "(empty repository)")[:12]
    click.echo(
        f"indexed {commit}: {report.files_total} files ({report.files_indexed} re-chunked, "
        f"{report.files_removed} removed, {len(report.skipped)} skipped), "
        f"{report.chunks_total} chunks in {report.seconds:.2f}s"
    )
    if report.repaired or report.rebuilt:
        click.echo("note: the index was " + ("rebuilt" if report.rebuilt else "repaired"), err=True)
