"""MCP servers: config schema, only allowlisted servers start, their tools are callable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from agents.roles.mcp import mcp_tools
from bot.errors import McpServerError
from bot.repoconfig import validate_files
from bot.repoconfig.schema import McpServer, RepoConfig

SERVER = """
import os, sys
from pathlib import Path
from mcp.server.fastmcp import FastMCP

Path(sys.argv[1]).write_text("started")
app = FastMCP("tiny")

@app.tool()
def shout(text: str) -> str:
    '''Upper-case the text.'''
    return text.upper()

@app.tool()
def secrets() -> str:
    '''Environment names that look like secrets.'''
    return ",".join(sorted(k for k in os.environ if "TOKEN" in k or "KEY" in k)) or "none"

app.run()
"""


@pytest.fixture
def server(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "tiny_server.py"
    script.write_text(SERVER)
    return script, tmp_path / "started.marker"


def config(script: Path, marker: Path, roles: list[str]) -> RepoConfig:
    return RepoConfig.model_validate(
        {
            "mcp": {
                "servers": {
                    "tiny": {"command": [sys.executable, str(script), str(marker)], "roles": roles}
                }
            }
        }
    )


def test_a_server_not_allowlisted_for_the_role_is_not_started(server):
    script, marker = server
    with mcp_tools(config(script, marker, ["developer"]), "qa") as tools:
        assert tools == []
    assert not marker.exists()


def test_no_servers_means_no_tools():
    with mcp_tools(RepoConfig(), "developer") as tools:
        assert tools == []


def test_an_allowlisted_servers_tools_are_prefixed_and_callable(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTFORGE_GITHUB_TOKEN", "canary-token")
    monkeypatch.setenv("OPENAI_API_KEY", "canary-key")
    script, marker = server
    with mcp_tools(config(script, marker, ["developer"]), "developer", cwd=tmp_path) as tools:
        by_name = {t.name: t for t in tools}
        assert set(by_name) == {"tiny__shout", "tiny__secrets"}
        assert by_name["tiny__shout"](text="hello") == "HELLO"
        assert by_name["tiny__secrets"]() == "none"
    assert marker.read_text() == "started"


# mcpadapt's connection thread reports the dead server's error itself before we see it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_server_that_does_not_start_is_a_clear_error(tmp_path):
    cfg = RepoConfig.model_validate(
        {
            "mcp": {
                "servers": {
                    "broken": {
                        "command": [sys.executable, "-c", "raise SystemExit(3)"],
                        "roles": ["qa"],
                    }
                }
            }
        }
    )
    with pytest.raises(McpServerError) as info, mcp_tools(cfg, "qa", connect_timeout=3):
        pass
    assert info.value.server == "broken"
    assert "starting MCP server broken" in str(info.value)


@pytest.mark.parametrize(
    "server",
    [
        {"roles": ["qa"]},
        {"command": ["x"], "url": "https://mcp.example.com/mcp"},
        {"url": "ftp://mcp.example.com"},
        {"command": []},
        {"command": ["x"], "env": ["AGENTFORGE_GITHUB_TOKEN"]},
        {"command": ["x"], "env": ["OPENAI_API_KEY"]},
        {"command": ["x"], "env": ["MY_SECRET"]},
        {"url": "https://mcp.example.com/mcp", "network": True},
        {"command": ["x"], "colour": "red"},
        {"command": ["x"], "roles": ["Not A Role"]},
    ],
)
def test_bad_server_entries_are_refused(server):
    with pytest.raises(ValidationError):
        McpServer.model_validate(server)


def test_a_bad_server_entry_is_reported_with_file_and_line():
    text = "mcp:\n  servers:\n    docs:\n      command: [docs-server]\n      colour: red\n"
    _, issues = validate_files({".agentforge/config.yaml": text})
    (issue,) = issues
    assert (issue.file, issue.line) == (".agentforge/config.yaml", 5)
    assert issue.field == "mcp.servers.docs.colour"


def test_server_names_must_be_usable_as_tool_prefixes():
    with pytest.raises(ValidationError):
        RepoConfig.model_validate({"mcp": {"servers": {"My-Docs": {"command": ["x"]}}}})
    ok = RepoConfig.model_validate(
        {"mcp": {"servers": {"docs": {"url": "https://mcp.example.com/mcp", "roles": ["writer"]}}}}
    )
    assert set(ok.mcp.for_role("writer")) == {"docs"}
    assert ok.mcp.for_role("qa") == {}
