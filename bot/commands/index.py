"""``agentforge index [PATH]``: build or update the search index of a local repository.

The index of a repository lives in the user's data directory (or under
``AGENTFORGE_DATA_DIR``), keyed by the repository's resolved top directory, so
indexing never writes into the repository and ``agentforge search`` finds the index
from any directory. By default the committed files of ``--rev`` are indexed;
``--worktree`` indexes the files on disk instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.repoconfig.schema import IndexConfig

_MAX_LISTED = 20


@click.command("index")
@click.argument(
    "path",
    default=".",
    required=False,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--rev", default="HEAD", show_default=True, help="Commit to index.")
@click.option(
    "--worktree",
    is_flag=True,
    help="Index the working tree (uncommitted edits and untracked, not ignored files) "
    "instead of the committed files of --rev.",
)
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (default: the user data directory's index/local/<repo>-<hash>, "
    "or $AGENTFORGE_DATA_DIR/index/local/<repo>-<hash>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
def index(
    path: Path,
    rev: str,
    worktree: bool,
    index_dir: Path | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Index the git repository at PATH (default: the current one) for `agentforge search`.

    Only committed files are indexed (those of --rev, default HEAD): uncommitted edits
    and untracked files are not, unless --worktree is given. Files whose git objects
    are missing (a partial clone) are skipped and named.
    """
    from bot.context import index_location
    from bot.context.embeddings import make_embedder
    from bot.context.history import GitHistory
    from bot.context.index import RepoIndex
    from bot.roles_context import index_options
    from bot.settings import load_settings

    settings = load_settings()
    if worktree:
        if rev != "HEAD":
            raise click.UsageError("--worktree indexes the files on disk; it takes no --rev")
        from bot.context.worktree import WorktreeSnapshot

        history: GitHistory = WorktreeSnapshot(path)
    else:
        history = GitHistory(path)
    root = history.root
    directory = index_dir or index_location(settings.index_dir, "local", str(root))
    repo_index = RepoIndex(
        directory,
        repo=root.name,
        embedder=make_embedder(settings.index_embeddings),
        **index_options(_selection(root), settings.index_max_file_bytes),
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
    missing_code, missing_data = report.missing()
    result = {
        "repo": str(root),
        "index_dir": str(directory),
        "commit": report.commit,
        "source": "worktree" if worktree else "commit",
        "files": report.files_total,
        "files_indexed": report.files_indexed,
        "files_removed": report.files_removed,
        "files_skipped": len(report.skipped),
        "missing_code": missing_code,
        "missing_data": missing_data,
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
    what = "working tree on " if worktree else "committed files of "
    click.echo(
        f"indexed {what}{commit}: {report.files_total} files ({report.files_indexed} "
        f"re-chunked, {report.files_removed} removed, {len(report.skipped)} skipped), "
        f"{report.chunks_total} chunks in {report.seconds:.2f}s"
    )
    if not worktree:
        from bot.context.worktree import count_uncommitted
        from bot.errors import GitError

        try:
            pending = count_uncommitted(history)
        except GitError as exc:  # the index is built; only the hint is lost
            click.echo(f"note: could not read the working tree's status: {exc}", err=True)
            pending = 0
        if pending:
            click.echo(
                f"note: only committed files are indexed; {pending} uncommitted change(s) "
                "in the working tree are not (use --worktree to index the files on disk)",
                err=True,
            )
    _report_missing(missing_code, missing_data)
    if report.repaired or report.rebuilt:
        click.echo("note: the index was " + ("rebuilt" if report.rebuilt else "repaired"), err=True)


def _report_missing(code: list[str], data: list[str]) -> None:
    """Say which files git could not read; code by name, data as a count."""
    if code:
        listed = ", ".join(code[:_MAX_LISTED]) + (" ..." if len(code) > _MAX_LISTED else "")
        click.echo(
            f"warning: {len(code)} code/doc file(s) or directories not indexed, their git "
            f"objects are missing (a partial clone? `git fetch` the objects, or clone "
            f"without --filter): {listed}",
            err=True,
        )
    if data:
        click.echo(
            f"note: {len(data)} data file(s) not indexed, their git objects are missing "
            "(partial clone or a mirror without large files)",
            err=True,
        )


def _selection(root: Path) -> IndexConfig:
    """The repository's ``index`` config (defaults when it has no ``.agentforge/``).

    Raises:
        click.ClickException: The config is broken; the message names file and field.
    """
    from bot.errors import RepoConfigError
    from bot.repoconfig import load_repo_config

    try:
        return load_repo_config(root).config.index
    except RepoConfigError as exc:
        raise click.ClickException(str(exc)) from exc
