"""``agentforge demo``: the whole workflow on a sandboxed local forge, with your model.

It builds a sandbox (the shipped sample project ``inventory``, a local forge holding it,
an owner, a ``reviewer`` and the bot's account), starts the bot exactly as ``agentforge
serve --local DIR`` does (queue, workers, handlers, policies, executor, dashboard),
opens an issue with a sample requirement and the trigger label, and follows the run:
when a gate waits, the reviewer comments ``/approve`` (or approves the MR), and the
demo's CI runs the sample project's tests and reports a commit status. It ends with the
MR, its commits and files, whether the tests pass on the branch, time and cost.

Exit status: 0 the MR is ready and the sample project's tests pass on its branch;
1 the run failed, the tests fail on the branch, it timed out, or the bot stopped;
2 no model is reachable (the message lists the settings to add) or bad options;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import click

EXIT_OK, EXIT_FAILED, EXIT_NOT_CONFIGURED, EXIT_INTERRUPTED = 0, 1, 2, 130
POLL_SECONDS = 0.3


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Build the sandbox here (absent or empty; kept). Default: a temporary directory.",
)
@click.option("--keep", is_flag=True, help="Leave the sandbox and print how to explore it.")
@click.option(
    "--serve",
    "serve_after",
    is_flag=True,
    help="Keep the server and its dashboard running after the run, until Ctrl-C.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Dashboard port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--model-url",
    metavar="URL",
    default=None,
    help="An OpenAI-compatible server's base URL, e.g. http://localhost:8000/v1 "
    "(default: AGENTFORGE_DEMO_MODEL_URL).",
)
@click.option(
    "--model",
    metavar="NAME",
    default=None,
    help="The model on that server or on Ollama (default: AGENTFORGE_DEMO_MODEL, else "
    "the first one the server lists).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=3600.0,
    show_default=True,
    help="Seconds to wait for the run before giving up.",
)
def demo(
    directory: Path | None,
    keep: bool,
    serve_after: bool,
    port: int,
    model_url: str | None,
    model: str | None,
    timeout: float,
) -> None:
    """Run the whole workflow on a sample project in a sandbox, with your model.

    The model: --model-url (an OpenAI-compatible server), else ANTHROPIC_API_KEY, else
    OPENAI_API_KEY, else Ollama at http://localhost:11434. With none reachable, the
    demo runs every step that needs no model and exits 2 with the settings to add.
    """
    from rich.console import Console

    from bot.demo.model import ModelChoice, choose_model
    from bot.demo.sandbox import Sandbox

    console = Console(highlight=False)
    if directory is not None and directory.exists() and any(directory.iterdir()):
        raise click.BadParameter(f"{directory} is not empty", param_hint="--dir")
    choice = choose_model(os.environ, model_url=model_url, model=model)
    configured = isinstance(choice, ModelChoice)
    root = directory or Path(tempfile.mkdtemp(prefix="agentforge-demo-"))
    keep = keep or directory is not None
    box = Sandbox(root.resolve())
    code = EXIT_FAILED
    try:
        code = _demo(console, box, choice, port=port, timeout=timeout, serve=serve_after)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/yellow]")
        code = EXIT_INTERRUPTED
    finally:
        if keep:
            _explore(console, box)
        else:
            from bot.demo.sandbox import remove

            remove(box)
    if not configured and code == EXIT_OK:
        code = EXIT_NOT_CONFIGURED
    click.get_current_context().exit(code)


def _demo(console: Any, box: Any, choice: Any, *, port: int, timeout: float, serve: bool) -> int:
    from bot.demo import sandbox
    from bot.demo.model import ModelChoice
    from bot.demo.session import BotServer, ProgressTap, Reviewer, status_comment
    from bot.demo.view import Live, estimate_table
    from bot.errors import SettingsError

    started = time.monotonic()
    live = Live(console)
    configured = isinstance(choice, ModelChoice)
    try:
        bot = BotServer(box, port=port)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    # Without a model the project still gets the shipped routes' config, as a user who
    # has not set a key yet would have: the run shows what it would cost and stops.
    model = choice if configured else ModelChoice("anthropic", "no provider key is set yet")
    sandbox.create(box.root, model, bot_login=bot.bot_login)
    console.print(f"[bold]AgentForge demo[/bold] in {box.root}")
    live.step(f"sample project {sandbox.REPO} (a few modules, 4 pytest tests) on a local forge")
    config = _validate(box)
    names = " → ".join(p.name for p in config.workflow.phases)
    live.step(f"config and workflow valid: {names}")
    console.print(estimate_table(_estimate(config)))
    if configured:
        live.step(f"model: {choice.label}")
    else:
        console.print("[yellow]! no model is reachable: the run will stop at its first phase[/]")
    bot.start()
    try:
        live.step(f"bot running (serve --local {box.forge}); dashboard {bot.url}")
        issue = sandbox.open_issue(box)
        live.step(f"issue #{issue} opened: {sandbox.ISSUE_TITLE!r}, label {sandbox.TRIGGER_LABEL}")
        reviewer = Reviewer(box, live.say)
        with ProgressTap() as tap:
            data, why = _follow(live, tap, bot, reviewer, box, issue, timeout)
        comment = status_comment(box, issue, bot.bot_login)
        if not configured:
            return _not_configured(console, live, box, choice, data, comment)
        code = _summary(console, box, data, why, reviewer, time.monotonic() - started)
        if serve:
            _serve(console, bot)
        return code
    finally:
        bot.stop()


def _validate(box: Any) -> Any:
    """The sample project's config and workflow, checked as ``agentforge config check`` does."""
    from bot.commands.config import validate_target

    config, issues, _ = validate_target(box.project)
    if issues or config is None:
        lines = "\n".join(f"  {i}" for i in issues)
        raise click.ClickException(f"the sample project's .agentforge/ is invalid:\n{lines}")
    return config


def _estimate(config: Any) -> Any:
    from agents.costs import PhasePlan, estimate_run

    plans = [PhasePlan(p.name, p.role, 8_000) for p in config.workflow.phases]
    return estimate_run(plans, config.config.models, config.config.prices)


def _follow(
    live: Any, tap: Any, bot: Any, reviewer: Any, box: Any, issue: int, timeout: float
) -> tuple[Any, str | None]:
    """Show the run until it ends; returns its last state and why it stopped early, if so."""
    from bot.demo.session import read_run

    deadline = time.monotonic() + timeout
    data = None
    announced = False
    while True:
        for phase, progress in tap.drain():
            live.progress(phase, progress)
        data = read_run(box, issue, bot.bot_login)
        if data is not None:
            if not announced:
                announced = True
                live.step(
                    f"the bot posted the run's status comment on #{issue} (run {data.run_id})"
                )
            live.run(data)
            if data.outcome:
                return data, None
            reviewer.act(data)
            failing = reviewer.failing()
            if failing is not None and data.phase is not None and data.phase.hold:
                return data, f"the sample project's tests fail on {failing.sha[:10]}"
        if not bot.alive():
            return data, f"the bot's server stopped; see {box.log}"
        if time.monotonic() > deadline:
            return data, f"the run did not end within {deadline:.0f}s"
        time.sleep(POLL_SECONDS)


def _not_configured(console, live, box, choice, data, comment) -> int:
    if comment is not None:
        live.step(f"status comment {comment.id} on issue #1 (the run's real one)")
    index = box.data / "index"
    if index.exists():
        live.step(f"the repository and the issue were indexed for search ({index})")
    console.print("\n[bold red]No model is reachable[/bold red], so the demo stopped here.")
    for line in choice.looked:
        console.print(f"  looked at {line}")
    console.print("\nAdd one of these, then run [bold]agentforge demo[/bold] again:")
    for setting, what in choice.settings():
        console.print(f"  [bold]{setting}[/bold]\n      {what}")
    return EXIT_NOT_CONFIGURED


def _summary(console, box, data, why, reviewer, seconds: float) -> int:
    from bot.demo import git_view
    from bot.demo.sandbox import REPO
    from bot.demo.view import phases_table, usd
    from bot.forges.local import LocalForge

    if data is None:
        console.print(f"[red]the run never started[/red] ({why or 'no status comment'})")
        return EXIT_FAILED
    console.print()
    console.print(phases_table(data))
    ok = data.outcome == "succeeded" and why is None
    viewer = LocalForge(box.forge, "demo-viewer")
    bare = Path(viewer.bare_path(REPO))
    if data.mr is not None:
        mr = viewer.get_mr(REPO, data.mr)
        ready = "ready for review" if not mr.draft else "draft"
        console.print(f"[bold]MR !{mr.number}[/bold] {mr.title} — {mr.state}, {ready}")
        ok = ok and not mr.draft
    commits = git_view.commits(bare, data.branch, data.base)
    console.print(f"[bold]Commits[/bold] on {data.branch}:")
    for c in commits:
        console.print(f"  {c.sha[:10]} {c.subject}  [dim]{c.phase or '-'} / {c.role or '-'}[/dim]")
    files = git_view.changed_files(bare, data.branch, data.base)
    console.print(f"[bold]Files[/bold] ({len(files)}): {', '.join(files) or '-'}")
    if commits:
        tip = commits[-1].sha
        tests = reviewer.test(tip)
        mark = "[green]pass[/green]" if tests.passed else "[red]FAIL[/red]"
        console.print(f"[bold]Tests[/bold] on the branch ({tip[:10]}): {mark} — {tests.summary}")
        ok = ok and tests.passed
    usage = data.usage
    console.print(
        f"[bold]Time[/bold] {seconds:.0f}s   [bold]Cost[/bold] {usd(usage.cost_usd)} "
        f"({usage.calls} model calls, {usage.input_tokens + usage.output_tokens:,} tokens; "
        f"estimated {usd(data.estimate_usd)})"
    )
    if data.outcome == "failed":
        console.print(f"[red]The run failed:[/red] {data.error}")
    if why:
        console.print(f"[red]Stopped:[/red] {why}")
    return EXIT_OK if ok else EXIT_FAILED


def _serve(console, bot) -> None:
    console.print(f"\nDashboard: [bold]{bot.url}[/bold] — Ctrl-C to stop")
    try:
        while bot.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("")


def _explore(console, box) -> None:
    from bot.demo.sandbox import REPO
    from bot.forges.local import LocalForge

    forge = box.forge
    bare = LocalForge(forge, "demo-viewer").bare_path(REPO)
    console.print(f"\nThe sandbox is kept in {box.root}. Explore it with:")
    console.print(f"  agentforge local --dir {forge} issue list --state all")
    console.print(f"  agentforge local --dir {forge} issue show 1")
    console.print(f"  agentforge local --dir {forge} mr list --state all")
    console.print(f"  git clone {bare} inventory")
    console.print(f"  agentforge stats --data-dir {box.data}   (the bot's log: {box.log})")
