"""The ``agentforge`` command line.

Commands are registered in :mod:`bot.commands` and imported lazily, which keeps start-up
fast. Errors AgentForge raises on purpose are printed as one clear line and exit with
status 2 (bad input) or 1 (anything else that failed); tracebacks are for bugs only.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
from typing import NoReturn

import click

from bot import __version__
from bot.commands import COMMANDS


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every registered command name, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command called ``cmd_name`` (None if unknown)."""
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attr = entry[0].partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands in ``--help`` without importing their modules."""
        # Use the registry's one-line help so --help imports no command module.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentforge")
def cli() -> None:
    """AgentForge: a GitOps bot that turns issues into reviewed merge requests."""


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    from bot.errors import AgentForgeError, ConfigError, EventError, UnsafePath

    try:
        # Without standalone mode click *returns* the code of ctx.exit(n) instead of
        # raising it; pass it on so commands can exit non-zero (e.g. audit verify).
        code = cli.main(args=argv, prog_name="agentforge", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (EventError, ConfigError, UnsafePath) as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except AgentForgeError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def run() -> None:
    """The ``agentforge`` executable: run the CLI, then end the process at once.

    DuckDB (and LanceDB) run native threads; when the interpreter finalises while one of
    them still holds a connection, the process aborts after the command has finished
    (duckdb/duckdb#13904: SIGABRT, "terminate called ... exception not rethrown"), which
    turns a good exit status into -6. So the exit handlers run first (kept connections
    are closed and checkpointed, logs flushed) and the process then ends with the
    command's status, without the native teardown. :func:`main` stays importable for
    callers that run commands in their own process.
    """
    end_process(main())


def end_process(code: int) -> NoReturn:
    """Run the exit handlers, flush, and end the process with ``code`` at once.

    For any process that used DuckDB or LanceDB (the CLI, benchmarks): skips the native
    thread teardown that aborts a finished process (duckdb/duckdb#13904).
    """
    atexit._run_exitfuncs()  # what interpreter exit would run: close stores, flush logs
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
