"""``agentforge local``: drive the local forge from a shell (issues, comments, MRs, reviews).

The forge directory comes from ``--dir``, else ``AGENTFORGE_LOCAL_DIR``, else
``./.agentforge-local``; the project from ``--project``, else the only project there;
the acting user from ``--as``, else ``AGENTFORGE_LOCAL_USER``, else the OS user.
Heavy libraries (DuckDB, pygit2) are imported only when a subcommand runs.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot.errors import Conflict, Forbidden, InvalidRequest, NotFound, UnsafePath


class ForgeInputError(click.ClickException):
    """The forge refused what was asked (missing issue, conflict, bad value): exit 2."""

    exit_code = 2


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the forge's refusals into one clear line and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (NotFound, InvalidRequest, Conflict, Forbidden, UnsafePath) as exc:
            raise ForgeInputError(str(exc)) from exc

    return wrapper


class _Ctx:
    def __init__(self, directory: str | None, project: str | None, user: str | None) -> None:
        self.directory = Path(
            directory or os.environ.get("AGENTFORGE_LOCAL_DIR") or ".agentforge-local"
        )
        self._project = project
        self.user = user

    def forge(self):
        from bot.forges.local import LocalForge

        return LocalForge(self.directory, self.user)

    def project(self, forge) -> str:
        if self._project:
            return self._project
        if not (self.directory / "forge.duckdb").exists():
            raise click.UsageError(
                f"no local forge in {self.directory}; run `agentforge local init DIR --from PATH`"
            )
        projects = forge.list_projects()
        if len(projects) == 1:
            return projects[0]
        if not projects:
            raise click.UsageError(f"no projects in {self.directory}; run `agentforge local init`")
        raise click.UsageError(
            f"{self.directory} holds several projects ({', '.join(projects)}); pass --project"
        )


pass_ctx = click.make_pass_decorator(_Ctx)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json")


@click.group()
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Forge directory.")
@click.option("--project", help="Project full name (owner/name); default: the only one.")
@click.option("--as", "user", metavar="LOGIN", help="Act as this user.")
@click.pass_context
def local(ctx: click.Context, directory: str | None, project: str | None, user: str | None):
    """Use the local forge: a forge in a directory, with issues, MRs and git repos."""
    ctx.obj = _Ctx(directory, project, user)


@local.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A git repository (all branches are copied) or a plain directory.",
)
@click.option("--name", help="Project name owner/name (default: <you>/<source dir name>).")
@pass_ctx
@_friendly
def init(obj: _Ctx, directory: str, source: str, name: str | None) -> None:
    """Create a local forge in DIRECTORY with a project seeded from --from."""
    from bot.forges.local import LocalForge

    forge = LocalForge(directory, obj.user)
    src = Path(source).resolve()
    name = name or f"{forge.user}/{src.name.removesuffix('.git')}"
    info = forge.init_project(name, src)
    click.echo(f"created project {info.full_name} (default branch {info.default_branch})")
    click.echo(f"clone it with: git clone {forge.bare_path(name)}")


# --- issues ---------------------------------------------------------------------------


@local.group()
def issue() -> None:
    """Open, show, list and close issues."""


def _body(body: str | None, body_file: str | None) -> str:
    if body is not None and body_file is not None:
        raise click.UsageError("give --body or --body-file, not both")
    if body_file is not None:
        return Path(body_file).read_text(encoding="utf-8")
    return body or ""


@issue.command("open")
@click.option("--title", required=True)
@click.option("--body")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False))
@click.option("--label", "labels", multiple=True, help="Repeat for several labels.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@_friendly
def issue_open(obj: _Ctx, title, body, body_file, labels, as_json) -> None:
    """Open an issue."""
    forge = obj.forge()
    made = forge.create_issue(obj.project(forge), title, _body(body, body_file), list(labels))
    if as_json:
        _echo_json(_dump(made))
    else:
        click.echo(f"opened issue #{made.number}: {made.title}")


def _show_item(forge, repo: str, item, is_mr: bool) -> None:
    click.echo(f"{'!' if is_mr else '#'}{item.number} [{item.state}] {item.title}")
    click.echo(f"author: {item.author.login}   labels: {', '.join(item.labels) or '-'}")
    if is_mr:
        draft = " (draft)" if item.draft else ""
        click.echo(f"{item.head_ref} -> {item.base_ref} @ {(item.head_sha or '')[:12]}{draft}")
    if item.body:
        click.echo("")
        click.echo(item.body)
    for c in forge.list_comments(repo, item.number, is_mr=is_mr):
        click.echo(f"\n--- comment {c.id} by {c.author.login}\n{c.body}")
    if is_mr:
        for r in forge.list_reviews(repo, item.number):
            line = f"\n--- review by {r.author.login}: {r.state} on {(r.commit_id or '')[:12]}"
            click.echo(line + (f"\n{r.body}" if r.body else ""))


@issue.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@_friendly
def issue_show(obj: _Ctx, number: int, as_json: bool) -> None:
    """Show an issue and its comments."""
    forge = obj.forge()
    repo = obj.project(forge)
    item = forge.get_issue(repo, number)
    if as_json:
        data = _dump(item)
        data["comments"] = _dump(forge.list_comments(repo, number))
        _echo_json(data)
    else:
        _show_item(forge, repo, item, False)


@issue.command("list")
@click.option("--state", type=click.Choice(["open", "closed", "all"]), default="open")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@_friendly
def issue_list(obj: _Ctx, state: str, as_json: bool) -> None:
    """List issues."""
    forge = obj.forge()
    issues = forge.list_issues(obj.project(forge), state=state)
    if as_json:
        _echo_json(_dump(issues))
        return
    if not issues:
        click.echo(f"none ({state} issues)")
    for i in issues:
        click.echo(f"#{i.number}\t{i.state}\t{i.title}\t{','.join(i.labels)}")


@issue.command("close")
@click.argument("number", type=int)
@pass_ctx
@_friendly
def issue_close(obj: _Ctx, number: int) -> None:
    """Close an issue."""
    forge = obj.forge()
    forge.update_issue(obj.project(forge), number, state="closed")
    click.echo(f"closed issue #{number}")


@local.command()
@click.argument("number", type=int)
@click.option("--body", required=True)
@click.option("--mr", "is_mr", is_flag=True, help="NUMBER is a merge request.")
@pass_ctx
@_friendly
def comment(obj: _Ctx, number: int, body: str, is_mr: bool) -> None:
    """Comment on an issue (or an MR with --mr)."""
    forge = obj.forge()
    made = forge.create_comment(obj.project(forge), number, body, is_mr=is_mr)
    click.echo(f"comment {made.id} on {'!' if is_mr else '#'}{number}")


@local.command()
@click.argument("login")
@click.argument(
    "level",
    type=click.Choice(["none", "read", "triage", "write", "maintain", "admin"]),
)
@pass_ctx
@_friendly
def grant(obj: _Ctx, login: str, level: str) -> None:
    """Give LOGIN a permission LEVEL on the project (admins only)."""
    from bot.forge import Permission

    forge = obj.forge()
    forge.grant(obj.project(forge), login, Permission[level.upper()])
    click.echo(f"{login} now has {level} access")


@local.command()
@click.argument("name")
@click.argument("members", nargs=-1)
@pass_ctx
@_friendly
def team(obj: _Ctx, name: str, members: tuple[str, ...]) -> None:
    """Set team NAME's MEMBERS (a CODEOWNERS owner ``@NAME``; none: empty the team)."""
    forge = obj.forge()
    forge.set_team(name, list(members))
    listed = ", ".join(members) or "no one"
    click.echo(f"team {name}: {listed}")


# --- merge requests ---------------------------------------------------------------------


@local.group()
def mr() -> None:
    """Open, show, list, review and merge merge requests."""


@mr.command("open")
@click.option("--head", required=True, help="Source branch (must be pushed).")
@click.option("--base", default=None, help="Target branch (default: the default branch).")
@click.option("--title", required=True)
@click.option("--body", default="")
@click.option("--draft", is_flag=True)
@pass_ctx
@_friendly
def mr_open(obj: _Ctx, head: str, base: str | None, title: str, body: str, draft: bool) -> None:
    """Open a merge request."""
    forge = obj.forge()
    repo = obj.project(forge)
    base = base or forge.get_repo(repo).default_branch
    made = forge.open_mr(repo, head=head, base=base, title=title, body=body, draft=draft)
    click.echo(f"opened merge request !{made.number}: {head} -> {base}")


@mr.command("list")
@click.option("--state", type=click.Choice(["open", "closed", "merged", "all"]), default="open")
@click.option("--head", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@_friendly
def mr_list(obj: _Ctx, state: str, head: str | None, as_json: bool) -> None:
    """List merge requests."""
    forge = obj.forge()
    mrs = forge.list_mrs(obj.project(forge), state=state, head=head)
    if as_json:
        _echo_json(_dump(mrs))
        return
    if not mrs:
        click.echo(f"none ({state} merge requests{f' from {head}' if head else ''})")
    for m in mrs:
        draft = " draft" if m.draft else ""
        click.echo(f"!{m.number}\t{m.state}{draft}\t{m.head_ref} -> {m.base_ref}\t{m.title}")


@mr.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@_friendly
def mr_show(obj: _Ctx, number: int, as_json: bool) -> None:
    """Show a merge request, its comments and reviews."""
    forge = obj.forge()
    repo = obj.project(forge)
    item = forge.get_mr(repo, number)
    if as_json:
        data = _dump(item)
        data["comments"] = _dump(forge.list_comments(repo, number, is_mr=True))
        data["reviews"] = _dump(forge.list_reviews(repo, number))
        _echo_json(data)
    else:
        _show_item(forge, repo, item, True)


@mr.command("review")
@click.argument("number", type=int)
@click.option("--approve", "verdict", flag_value="approved")
@click.option("--request-changes", "verdict", flag_value="changes_requested")
@click.option("--comment", "verdict", flag_value="commented")
@click.option("--body", default="")
@click.option(
    "--line",
    "lines",
    multiple=True,
    metavar="PATH:LINE:TEXT",
    help="A comment on a line of the diff, submitted with the review (repeatable).",
)
@pass_ctx
@_friendly
def mr_review(
    obj: _Ctx, number: int, verdict: str | None, body: str, lines: tuple[str, ...]
) -> None:
    """Review a merge request as the acting user (with line comments: --line)."""
    if verdict is None:
        raise click.UsageError("choose one of --approve, --request-changes, --comment")
    comments = [_line_comment(spec) for spec in lines]
    forge = obj.forge()
    made = forge.submit_review(obj.project(forge), number, verdict, body, comments=comments)
    on = f" with {len(comments)} line comment(s)" if comments else ""
    click.echo(f"{made.author.login} {verdict} !{number} on {(made.commit_id or '')[:12]}{on}")


def _line_comment(spec: str) -> tuple[str, int, str]:
    """``PATH:LINE:TEXT`` as ``(path, line, text)``; a usage error names what is wrong."""
    path, _, rest = spec.partition(":")
    line, _, text = rest.partition(":")
    if not path or not line.strip().isdigit() or int(line) < 1 or not text.strip():
        raise click.BadParameter(
            f"{spec!r}: expected PATH:LINE:TEXT with a line number from 1", param_hint="--line"
        )
    return path, int(line), text.strip()


@mr.command("ready")
@click.argument("number", type=int)
@pass_ctx
@_friendly
def mr_ready(obj: _Ctx, number: int) -> None:
    """Take a merge request out of draft."""
    forge = obj.forge()
    forge.mark_ready(obj.project(forge), number)
    click.echo(f"!{number} is ready for review")


@mr.command("close")
@click.argument("number", type=int)
@pass_ctx
@_friendly
def mr_close(obj: _Ctx, number: int) -> None:
    """Close a merge request without merging."""
    forge = obj.forge()
    forge.update_mr(obj.project(forge), number, state="closed")
    click.echo(f"closed !{number}")


@mr.command("merge")
@click.argument("number", type=int)
@click.option("--no-ff", is_flag=True, help="Always write a merge commit.")
@pass_ctx
@_friendly
def mr_merge(obj: _Ctx, number: int, no_ff: bool) -> None:
    """Merge a merge request into its base branch."""
    forge = obj.forge()
    merged = forge.merge_mr(obj.project(forge), number, fast_forward=not no_ff)
    click.echo(f"merged !{number} into {merged.base_ref}")


# --- commit statuses (what CI reports) -------------------------------------------


@local.command()
@click.argument("ref")
@click.option(
    "--state",
    required=True,
    type=click.Choice(["success", "failure", "pending", "error"]),
    help="The check's result.",
)
@click.option("--context", default="ci", show_default=True, help="The check's name.")
@click.option("--description", default="", help="One line shown with the status.")
@click.option(
    "--log",
    "log_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="The check's log (a file, or - for stdin); the bot reads it to fix a failure.",
)
@pass_ctx
@_friendly
def status(obj: _Ctx, ref: str, state: str, context: str, description: str, log_file: Any) -> None:
    """Report a CI status on REF (a branch or a commit sha), as a CI job would.

    A local forge runs no CI: this is how a workflow's `tests` gate learns the result
    of the tests you ran (e.g. `pytest 2>&1 | tee ci.log; agentforge local status
    BRANCH --state failure --log ci.log`). The log is recorded before the status, so
    the bot's fix-up round finds it.
    """
    import pygit2

    from bot.forge import CommitState

    forge = obj.forge()
    project = obj.project(forge)
    bare = pygit2.Repository(str(forge.bare_path(project)))
    branch = bare.references.get(f"refs/heads/{ref}")
    sha = str(branch.peel(pygit2.Commit).id) if branch is not None else ref
    if log_file is not None:
        try:
            sha = str(bare.revparse_single(sha).peel(pygit2.Commit).id)
        except (KeyError, ValueError, pygit2.GitError):
            raise ForgeInputError(f"no branch or commit {ref!r} in {project}") from None
        forge.set_check_log(project, sha, context, log_file.read())
    made = forge.set_commit_status(
        project, sha, CommitState(state), context=context, description=description
    )
    click.echo(f"{made.context}: {made.state.value} on {sha[:12]}")


# --- events ------------------------------------------------------------------------


@local.command()
@click.option("--after", type=click.IntRange(min=0), default=0, help="Only events after this.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
@_friendly
def events(obj: _Ctx, after: int, as_json: bool) -> None:
    """Print the events the forge emitted (what a webhook would have delivered)."""
    forge = obj.forge()
    obj.project(forge)  # a clear message when there is no forge here yet
    for seq, event in forge.events(after):
        if as_json:
            click.echo(json.dumps({"seq": seq, "event": event.summary()}))
            continue
        subject = ""
        if event.number is not None:
            subject = f" {'!' if event.is_mr else '#'}{event.number}"
        elif event.ref:
            subject = f" {event.ref} {(event.head_sha or '')[:12]}"
        extra = f" {event.review_state.value}" if event.review_state else ""
        label = f" {event.label}" if event.label else ""
        what = f"{event.kind.value}.{event.action}{subject}{extra}{label}"
        click.echo(f"{seq}\t{what} by {event.actor.login}")
