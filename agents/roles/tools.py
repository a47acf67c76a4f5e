"""The role tools: a stable contract of names, each a smolagents ``Tool``.

Role files name tools from :data:`TOOL_NAMES` (the same tuple as
:data:`bot.repoconfig.schema.KNOWN_TOOLS`, checked when the config is loaded).
:func:`build_tools` turns names into tool instances bound to one run's
:class:`ToolEnv` (``final_answer`` is the runner's own tool).

A tool raises when the *model* asked for something it cannot have (a path outside the
tree, a refused write, a missing file, a tool whose backend this run lacks). smolagents
catches that inside ``ToolCallingAgent.execute_tool_call`` and shows the model
``Error executing tool '<name>' ... <ErrorClass>: <why>`` as the tool's answer, so the
agent can correct itself and the run goes on. Every call, good or refused, is also
reported to :attr:`ToolEnv.on_call` for the transcript and the audit log.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolagents import Tool

from agents.roles.changes import ChangeSet, normalize_path
from agents.roles.ports import GitView, Search, SearchHit
from agents.roles.sandbox import CommandResult, Sandbox
from bot.errors import ConfigError, RoleToolError
from bot.repoconfig.schema import KNOWN_TOOLS

TOOL_NAMES = KNOWN_TOOLS
"""Every tool name a role file may use (``final_answer`` is built by the runner)."""

__all__ = [
    "TOOL_NAMES",
    "GitView",
    "Search",
    "SearchHit",
    "ToolEnv",
    "build_tools",
]

MAX_LIST = 500
READ_LINES = 400
MAX_OUTPUT = 30_000
HUMAN_ANSWER = "recorded; finish with needs_human if you cannot go on"


@dataclass
class ToolEnv:
    """Everything the tools of one role run act on.

    Attributes:
        root: The checkout (read-only).
        changes: The staged change set writes go to.
        sandbox: Where ``run_command`` runs.
        git: History of the checkout (None: the git tools answer that it is missing).
        code_search: Search over the code index (None: likewise).
        discussions: Search over the issue's and MR's discussions (None: likewise).
        questions: Questions the agent asked with ``ask_human``, in order.
        on_call: Called after every tool call with (tool, arguments, result or error
            text, is_error).
    """

    root: Path
    changes: ChangeSet
    sandbox: Sandbox
    git: GitView | None = None
    code_search: Search | None = None
    discussions: Search | None = None
    questions: list[str] = field(default_factory=list)
    on_call: Callable[[str, dict, str, bool], None] | None = None


def _cap(text: str, limit: int = MAX_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


class _RoleTool(Tool):
    """Base: binds the run's environment and reports every call."""

    output_type = "string"

    def __init__(self, env: ToolEnv) -> None:
        self.env = env
        super().__init__()

    def _record(self, arguments: dict[str, Any], action: Callable[[], str]) -> str:
        try:
            result = action()
        except Exception as exc:  # reported, then re-raised: smolagents shows it to the model
            if self.env.on_call is not None:
                self.env.on_call(self.name, arguments, f"{type(exc).__name__}: {exc}", True)
            raise
        if self.env.on_call is not None:
            self.env.on_call(self.name, arguments, result, False)
        return result


_OPT_INT = {"type": "integer", "nullable": True}
_OPT_STR = {"type": "string", "nullable": True}


class ListFilesTool(_RoleTool):
    """``list_files``."""

    name = "list_files"
    description = (
        "List the repository's files (including your staged new files, without deleted "
        "ones) at or under a directory. Paths are relative to the repository root."
    )
    inputs = {
        "prefix": {**_OPT_STR, "description": "Directory to list, e.g. 'src/'; omit for all."}
    }

    def forward(self, prefix: str | None = None) -> str:
        """List files under ``prefix``."""
        return self._record({"prefix": prefix}, lambda: self._list(prefix or ""))

    def _list(self, prefix: str) -> str:
        files = self.env.changes.list_files(prefix)
        if not files:
            return f"no files under {prefix!r}" if prefix else "the repository has no files"
        shown = files[:MAX_LIST]
        more = len(files) - len(shown)
        tail = f"\n[... {more} more files: list a narrower prefix]" if more else ""
        return "\n".join(shown) + tail


class ReadFileTool(_RoleTool):
    """``read_file``."""

    name = "read_file"
    description = (
        "Read a text file (your staged version if you wrote it), with line numbers. "
        f"Shows at most {READ_LINES} lines per call: pass start_line/end_line for more."
    )
    inputs = {
        "path": {"type": "string", "description": "File path relative to the repository root."},
        "start_line": {**_OPT_INT, "description": "First line to show (1-based)."},
        "end_line": {**_OPT_INT, "description": "Last line to show (inclusive)."},
    }

    def forward(self, path: str, start_line: int | None = None, end_line: int | None = None) -> str:
        """Read ``path`` between the given lines."""
        args = {"path": path, "start_line": start_line, "end_line": end_line}
        return self._record(args, lambda: self._read(path, start_line, end_line))

    def _read(self, path: str, start: int | None, end: int | None) -> str:
        text = self.env.changes.read(path)
        if text is None:
            raise RoleToolError(f"{path} does not exist (use list_files to see what does)")
        lines = text.splitlines()
        total = len(lines)
        first = max(1, start or 1)
        last = min(total, end if end is not None else first + READ_LINES - 1)
        last = min(last, first + READ_LINES - 1)
        if total == 0:
            return f"{normalize_path(path)} is empty"
        if first > total:
            raise RoleToolError(f"{path} has {total} lines; start_line {first} is past the end")
        width = len(str(last))
        body = "\n".join(f"{n:>{width}} | {lines[n - 1]}" for n in range(first, last + 1))
        header = f"{normalize_path(path)} (lines {first}-{last} of {total})"
        more = f"\n[... {total - last} more lines: read with start_line={last + 1}]"
        return _cap(header + "\n" + body + (more if last < total else ""))


def _format_hits(hits: list[SearchHit]) -> str:
    if not hits:
        return "no results; try other words"
    out = []
    for hit in hits:
        snippet = _cap(hit.text, 1500)
        out.append(f"{hit.path}:{hit.start_line}-{hit.end_line} (score {hit.score:.2f})\n{snippet}")
    return _cap("\n\n".join(out))


class _SearchTool(_RoleTool):
    inputs = {
        "query": {"type": "string", "description": "What to look for, in words or identifiers."},
        "k": {**_OPT_INT, "description": "How many results (default 8, at most 20)."},
    }
    _what = ""

    def _backend(self) -> Search | None:
        raise NotImplementedError

    def forward(self, query: str, k: int | None = None) -> str:
        """Search for ``query``."""
        return self._record({"query": query, "k": k}, lambda: self._search(query, k))

    def _search(self, query: str, k: int | None) -> str:
        backend = self._backend()
        if backend is None:
            raise RoleToolError(f"{self._what} search is not available in this run")
        if not query.strip():
            raise RoleToolError("the query is empty")
        return _format_hits(backend.search(query, k=max(1, min(k or 8, 20))))


class SearchCodeTool(_SearchTool):
    """``search_code``."""

    name = "search_code"
    description = "Search the repository's code and docs index; returns matching chunks."
    inputs = _SearchTool.inputs
    _what = "code"

    def _backend(self) -> Search | None:
        return self.env.code_search


class SearchDiscussionsTool(_SearchTool):
    """``search_discussions``."""

    name = "search_discussions"
    description = "Search the issue's and merge request's discussions (comments so far)."
    inputs = _SearchTool.inputs
    _what = "discussion"

    def _backend(self) -> Search | None:
        return self.env.discussions


def _git(env: ToolEnv) -> GitView:
    if env.git is None:
        raise RoleToolError("git history is not available in this run")
    return env.git


class GitLogTool(_RoleTool):
    """``git_log``."""

    name = "git_log"
    description = "Recent commits, newest first, of the whole repository or of one path."
    inputs = {
        "path": {**_OPT_STR, "description": "Only commits that changed this path."},
        "limit": {**_OPT_INT, "description": "How many commits (default 20, at most 100)."},
    }

    def forward(self, path: str | None = None, limit: int | None = None) -> str:
        """Show the log."""
        return self._record(
            {"path": path, "limit": limit},
            lambda: _cap(
                _git(self.env).log(
                    normalize_path(path) if path else None, max(1, min(limit or 20, 100))
                )
                or "no commits"
            ),
        )


class GitDiffTool(_RoleTool):
    """``git_diff``."""

    name = "git_diff"
    description = (
        "A unified diff. Without base: your staged changes against the checkout. "
        "With base (a branch or commit): what changed from base to HEAD."
    )
    inputs = {
        "base": {**_OPT_STR, "description": "Branch or commit to compare HEAD with."},
        "path": {**_OPT_STR, "description": "Only this file or directory."},
    }

    def forward(self, base: str | None = None, path: str | None = None) -> str:
        """Show the diff."""
        return self._record(
            {"base": base, "path": path},
            lambda: _cap(
                _git(self.env).diff(base or None, normalize_path(path) if path else None)
                or "no differences"
            ),
        )


class GitBlameTool(_RoleTool):
    """``git_blame``."""

    name = "git_blame"
    description = "Who last changed each line of a file at HEAD, and in which commit."
    inputs = {
        "path": {"type": "string", "description": "File path."},
        "start_line": {**_OPT_INT, "description": "First line (1-based)."},
        "end_line": {**_OPT_INT, "description": "Last line (inclusive)."},
    }

    def forward(self, path: str, start_line: int | None = None, end_line: int | None = None) -> str:
        """Blame ``path``."""
        return self._record(
            {"path": path, "start_line": start_line, "end_line": end_line},
            lambda: _cap(_git(self.env).blame(normalize_path(path), start_line, end_line)),
        )


class WriteFileTool(_RoleTool):
    """``write_file``."""

    name = "write_file"
    description = (
        "Write a whole text file (created or replaced). Changes are staged for review, "
        "only inside the paths this role may write; a refusal says why."
    )
    inputs = {
        "path": {"type": "string", "description": "File path relative to the repository root."},
        "content": {"type": "string", "description": "The complete new content of the file."},
    }

    def forward(self, path: str, content: str) -> str:
        """Stage ``content`` for ``path``."""
        return self._record(
            {"path": path, "content": _cap(content, 2000)}, lambda: self._write(path, content)
        )

    def _write(self, path: str, content: str) -> str:
        changes = self.env.changes
        rel = changes.check_write(path)  # refusals first, with their reason
        existed = changes.exists(rel)
        changes.write(rel, content)
        lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
        return f"staged: {rel} {'replaced' if existed else 'created'} ({lines} lines)"


class DeleteFileTool(_RoleTool):
    """``delete_file``."""

    name = "delete_file"
    description = "Delete a file (staged for review, only inside the paths this role may write)."
    inputs = {"path": {"type": "string", "description": "File path relative to the root."}}

    def forward(self, path: str) -> str:
        """Stage the deletion of ``path``."""
        return self._record({"path": path}, lambda: self._delete(path))

    def _delete(self, path: str) -> str:
        self.env.changes.delete(path)
        return f"staged: {normalize_path(path)} deleted"


def format_result(result: CommandResult) -> str:
    """A command's result as the model sees it."""
    if result.timed_out:
        status = f"timed out after {result.seconds:.0f}s and was killed"
    elif result.exit_code is not None and result.exit_code < 0:
        status = f"killed by signal {-result.exit_code}"
    else:
        status = f"exit code {result.exit_code}"
    network = "none (isolated)" if result.isolated_network else "not isolated"
    parts = [f"{status}; {result.seconds:.1f}s; network: {network}"]
    parts.append("--- stdout ---\n" + (result.stdout or "(empty)"))
    if result.stderr:
        parts.append("--- stderr ---\n" + result.stderr)
    return "\n".join(parts)


class RunCommandTool(_RoleTool):
    """``run_command``."""

    name = "run_command"
    description = (
        "Run a shell command (e.g. 'python -m pytest -q tests/') in a scratch copy of the "
        "repository with your staged changes applied. Time, memory and output are "
        "limited; no network. Changes the command makes are thrown away."
    )
    inputs = {"command": {"type": "string", "description": "The shell command line."}}

    def forward(self, command: str) -> str:
        """Run ``command`` in the sandbox."""
        return self._record({"command": command}, lambda: self._run(command))

    def _run(self, command: str) -> str:
        if not command.strip():
            raise RoleToolError("the command is empty")
        scratch = Path(tempfile.mkdtemp(prefix="agentforge-run-"))
        try:
            tree = self.env.changes.materialize(scratch / "tree")
            return format_result(self.env.sandbox.run(command, tree))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class AskHumanTool(_RoleTool):
    """``ask_human``."""

    name = "ask_human"
    description = (
        "Ask a person a question you cannot answer from the repository or the issue. "
        "It is recorded for the issue; nobody answers during this run."
    )
    inputs = {"question": {"type": "string", "description": "One clear question."}}

    def forward(self, question: str) -> str:
        """Record ``question``."""
        return self._record({"question": question}, lambda: self._ask(question))

    def _ask(self, question: str) -> str:
        if not question.strip():
            raise RoleToolError("the question is empty")
        self.env.questions.append(question.strip())
        return HUMAN_ANSWER


_TOOLS: dict[str, type[_RoleTool]] = {
    cls.name: cls
    for cls in (
        ListFilesTool,
        ReadFileTool,
        SearchCodeTool,
        SearchDiscussionsTool,
        GitLogTool,
        GitDiffTool,
        GitBlameTool,
        WriteFileTool,
        DeleteFileTool,
        RunCommandTool,
        AskHumanTool,
    )
}


def build_tools(names: Sequence[str], env: ToolEnv) -> list[Tool]:
    """One tool per name, bound to ``env``, in the order given (``final_answer`` is
    skipped: the runner adds its own).

    Raises:
        ConfigError: a name is not in :data:`TOOL_NAMES` (config loading rejects those
            first, so this means a caller bypassed it).
    """
    tools: list[Tool] = []
    for name in dict.fromkeys(names):
        if name == "final_answer":
            continue
        cls = _TOOLS.get(name)
        if cls is None:
            raise ConfigError(f"unknown tool {name!r}; known tools: {', '.join(TOOL_NAMES)}")
        tools.append(cls(env))
    return tools
