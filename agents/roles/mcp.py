"""MCP tool servers a repository allowlists, as smolagents tools for one role.

``.agentforge/config.yaml`` (read at the default branch) names the servers under
``mcp.servers`` and, for each, the roles that may use it. :func:`mcp_tools` starts
only the servers the given role may use — a server no role asked for is never
started — and yields their tools, renamed ``<server>__<tool>`` so they cannot shadow
a built-in tool or each other.

A stdio server (``command``) runs through the same launcher as ``run_command``: an
allowlisted environment (plus the names in its ``env``, never a secret-looking one),
resource limits, and no network unless the config says ``network: true``. A ``url``
server is reached over Streamable HTTP or SSE from the bot's process.

smolagents' MCP support (``smolagents.MCPClient`` over ``mcpadapt``) is imported only
when a server is actually started.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from agents.roles.sandbox import DEFAULT_ENV_ALLOWLIST, Sandbox, SandboxLimits
from bot.errors import McpServerError
from bot.repoconfig.schema import McpServer, RepoConfig

MCP_LIMITS = SandboxLimits(timeout_s=3600, cpu_s=3600, memory_mb=2048, processes=256)
"""Limits for a stdio MCP server process: it lives as long as the role run."""


def mcp_tool_name(server: str, tool: str) -> str:
    """The name the model sees for ``tool`` of ``server``."""
    return f"{server}__{tool}"


def _stdio_params(
    name: str, server: McpServer, cwd: Path, limits: SandboxLimits, home: Path
) -> Any:
    from mcp import StdioServerParameters

    sandbox = Sandbox(
        limits,
        env_allowlist=(*DEFAULT_ENV_ALLOWLIST, *server.env),
        network=server.network,
    )
    argv, _ = sandbox.command_line(list(server.command or []))
    return StdioServerParameters(
        command=argv[0], args=argv[1:], env=sandbox.environment(home), cwd=str(cwd)
    )


@contextmanager
def mcp_tools(
    config: RepoConfig,
    role: str,
    *,
    cwd: Path | None = None,
    limits: SandboxLimits = MCP_LIMITS,
    connect_timeout: int = 30,
) -> Iterator[list]:
    """Start the MCP servers ``role`` may use and yield their smolagents tools.

    Args:
        config: The repository's ``config.yaml`` (from the default branch).
        role: The role being run.
        cwd: Working directory of stdio servers (default: an empty scratch directory).
        limits: Resource limits of stdio servers.
        connect_timeout: Seconds to wait for each server to list its tools.

    Yields:
        The tools, named ``<server>__<tool>``; empty when no server is allowlisted.

    Raises:
        McpServerError: a server did not start or did not list its tools.
    """
    servers = config.mcp.for_role(role)
    if not servers:
        yield []
        return
    from smolagents import MCPClient

    with ExitStack() as stack:
        home = Path(tempfile.mkdtemp(prefix="agentforge-mcp-"))
        stack.callback(shutil.rmtree, home, True)
        workdir = Path(cwd) if cwd is not None else home
        tools: list = []
        for name, server in sorted(servers.items()):
            if server.command is not None:
                params: Any = _stdio_params(name, server, workdir, limits, home)
                what = f"starting MCP server {name} ({' '.join(server.command)})"
            else:
                params = {"url": server.url, "transport": server.transport}
                what = f"connecting to MCP server {name} at {server.url}"
            try:
                client = MCPClient(
                    params,
                    adapter_kwargs={"connect_timeout": connect_timeout},
                    structured_output=False,
                )
            except Exception as exc:
                # mcp/anyio fail in many shapes (timeouts, exception groups, OSError);
                # this is the boundary where they become our error.
                raise McpServerError(f"{what}: {type(exc).__name__}: {exc}", server=name) from exc
            stack.callback(client.disconnect)
            for tool in client.get_tools():
                tool.name = mcp_tool_name(name, tool.name)
                tools.append(tool)
        yield tools
