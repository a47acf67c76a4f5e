"""``agentforge role run ROLE --repo PATH (--task TEXT | --issue-file F)``: one role, locally.

Runs one role on a local checkout with the model the checkout's
``.agentforge/config.yaml`` routes it to (the same resolution as the server: the
repository's role file over the shipped one, ``models.routes.<role>`` over
``models.routes.default``), shows the plan and every tool call live, and ends with the
staged change set as a diff and the usage. Nothing is written unless ``--apply`` is
given; then the changes go to the working tree through the same path guards the role
wrote through. Exit status: 0 completed or needs a human, 1 failed, 2 bad input.

``--issue-file`` is either JSON (``{"title": ..., "body": ..., "number": 12,
"labels": [...]}``; ``title`` required) or Markdown whose first line is ``# <title>``
and whose rest is the body.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


@click.group("role")
def role() -> None:
    """Run role agents locally."""


def issue_from_file(path: Path) -> Any:
    """An :class:`~agents.roles.contract.IssueBrief` from a JSON or Markdown file.

    Raises:
        click.BadParameter: Naming the file and the field that is wrong.
    """
    from agents.roles.contract import IssueBrief

    def bad(message: str) -> click.BadParameter:
        return click.BadParameter(f"{path}: {message}", param_hint="--issue-file")

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise bad(f"cannot read it as UTF-8 text ({exc})") from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise bad(f"not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise bad("expected a JSON object with title and body")
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise bad("field 'title' is required and must be a non-empty string")
        body = data.get("body", "")
        if not isinstance(body, str):
            raise bad("field 'body' must be a string")
        number = data.get("number", 0)
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise bad("field 'number' must be a non-negative integer")
        labels = data.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise bad("field 'labels' must be a list of strings")
        return IssueBrief(number=number, title=title.strip(), body=body, labels=labels)
    first, _, rest = text.lstrip("\ufeff").partition("\n")
    if not first.startswith("# ") or not first[2:].strip():
        raise bad("field 'title': the first line must be a Markdown heading '# <title>'")
    return IssueBrief(number=0, title=first[2:].strip(), body=rest.strip())


def _print_plan(console: Any, prepared: Any, task: Any, limits: Any) -> None:
    spec = prepared.spec
    routes = prepared.model.models.routes_for(prepared.model.role)
    console.print(f"[bold]role[/bold] {spec.name}  ({prepared.source})")
    for i, route in enumerate(routes, start=1):
        console.print(f"  model {i}: {route.provider}/{route.model}")
    console.print(f"  tools: {', '.join(spec.tools) or '(none)'}, final_answer")
    console.print(f"  may write: {', '.join(spec.writes) or '(nothing)'}")
    console.print(f"  protected: {', '.join(prepared.tools_env.changes.protected) or '(none)'}")
    console.print(
        f"  limits: {limits.max_steps} steps, {limits.wall_clock_s:.0f} s; "
        f"context pack: {len(prepared.context)} characters"
    )
    console.print(f"  task: {task.issue.title if task.issue else task.task}", markup=False)


def apply_changes(root: Path, changes: Any, staged: list) -> list[str]:
    """Write ``staged`` into the working tree at ``root``, each path checked again.

    Raises:
        WriteRefused: A path is outside the role's writes or protected.
        UnsafePath: A path would leave the tree (symbolic links included).
    """
    from bot.errors import UnsafePath

    base = root.resolve()
    written = []
    for change in staged:
        rel = changes.check_write(change.path)
        target = base.joinpath(*rel.split("/"))
        parent = target.parent.resolve() if target.parent.exists() else target.parent
        if base != parent and base not in parent.parents:
            raise UnsafePath(f"{rel} would be written outside {base}")
        if target.is_symlink():
            raise UnsafePath(f"{rel} is a symbolic link; not written")
        if change.content is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(change.content, encoding="utf-8")
        written.append(rel)
    return written


@role.command("run")
@click.argument("role_name", metavar="ROLE")
@click.option(
    "--repo",
    "repo",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The local git checkout to work on.",
)
@click.option("--task", "task_text", help="What to do, in words.")
@click.option(
    "--issue-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An issue as JSON (title, body, number, labels) or Markdown ('# title' + body).",
)
@click.option("--apply", "apply_", is_flag=True, help="Write the changes to the working tree.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--max-steps", type=click.IntRange(1, 500), default=30, show_default=True)
def run(
    role_name: str,
    repo: Path,
    task_text: str | None,
    issue_file: Path | None,
    apply_: bool,
    as_json: bool,
    max_steps: int,
) -> None:
    """Run ROLE on the checkout at --repo and show what it would change."""
    if (task_text is None) == (issue_file is None):
        raise click.UsageError("give exactly one of --task or --issue-file")
    import tempfile

    from rich.console import Console

    from agents.roles.contract import RoleTask
    from agents.roles.runner import RoleLimits, run_role
    from agents.usage import MemoryLedger
    from bot.errors import RepoConfigError, UnsafePath, WriteRefused
    from bot.repoconfig import load_repo_config
    from bot.roles import build_retriever, no_model_problem, prepare_role

    console = Console(stderr=as_json, highlight=False)
    try:
        config = load_repo_config(repo)
    except RepoConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    issue = issue_from_file(issue_file) if issue_file is not None else None
    task = RoleTask(role=role_name, repo=repo.resolve().name, issue=issue, task=task_text or "")
    limits = RoleLimits(max_steps=max_steps)
    with tempfile.TemporaryDirectory(prefix="agentforge-role-index-") as scratch:
        try:
            retriever = build_retriever(task, repo, Path(scratch), selection=config.config.index)
            prepared = prepare_role(
                task,
                config=config,
                checkout=repo,
                ledger=MemoryLedger(),
                retriever=retriever,
                limits=limits,
            )
        except RepoConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        problem = no_model_problem(prepared.model)
        if problem is not None:
            raise click.ClickException(problem)
        _print_plan(console, prepared, task, limits)

        def show(event: Any) -> None:
            tag = {"tool": "[cyan]tool[/cyan]", "step": "[green]step[/green]"}.get(
                event.kind, "[dim]note[/dim]"
            )
            console.print(f"{tag} {event.step:>2} ", end="")
            console.print(event.text, markup=False)

        try:
            result = run_role(
                task,
                prepared.spec,
                model=prepared.model,
                tools_env=prepared.tools_env,
                limits=limits,
                progress=show,
                context=prepared.context,
                meter=prepared.meter,
                source=prepared.source,
            )
        except RepoConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        diff = prepared.tools_env.changes.unified_diff() if result.changes else ""
        written: list[str] = []
        if apply_ and result.status != "failed" and result.changes:
            try:
                written = apply_changes(repo, prepared.tools_env.changes, result.changes)
            except (WriteRefused, UnsafePath) as exc:
                raise click.ClickException(f"not applied: {exc}") from exc
    _report(console, result, diff, written, as_json)
    if result.status == "failed":
        sys.exit(1)


def _report(console: Any, result: Any, diff: str, written: list[str], as_json: bool) -> None:
    if as_json:
        data = result.model_dump(mode="json")
        data["diff"] = diff
        data["applied"] = written
        click.echo(json.dumps(data, indent=2))
        return
    if diff:
        from rich.syntax import Syntax

        console.print(Syntax(diff, "diff", word_wrap=True))
    u = result.usage
    console.print(
        f"[bold]{result.status}[/bold]  confidence {result.confidence:.2f}  "
        f"{u.calls} call(s), {u.input_tokens + u.cached_tokens} in / {u.output_tokens} out "
        f"tokens, ${u.cost_usd:.4f}, {u.seconds:.1f} s"
    )
    if result.summary:
        console.print(result.summary, markup=False)
    for question in result.questions:
        console.print(f"question: {question}", markup=False)
    for finding in result.findings:
        console.print(f"finding: {finding}", markup=False)
    if result.error:
        console.print("[red]error:[/red] ", end="")
        console.print(result.error, markup=False)
    if written:
        console.print(f"applied to the working tree: {', '.join(written)}")
    elif result.changes:
        console.print("not applied (use --apply to write these changes)")
