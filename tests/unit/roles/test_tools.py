"""The role tools: contract, behaviour, refusals fed back to a real ToolCallingAgent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from smolagents import ToolCallingAgent
from smolagents.models import (
    ChatMessage,
    ChatMessageToolCall,
    ChatMessageToolCallFunction,
    MessageRole,
    Model,
    get_tool_json_schema,
)

from agents.roles.changes import ChangeSet
from agents.roles.sandbox import Sandbox, SandboxLimits
from agents.roles.tools import TOOL_NAMES, SearchHit, ToolEnv, build_tools
from bot.errors import ConfigError, RoleToolError, UnsafePath, WriteRefused
from bot.repoconfig import validate_files
from bot.repoconfig.schema import KNOWN_TOOLS, RepoConfig

ALL = [n for n in TOOL_NAMES if n != "final_answer"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "src" / "cart.py").write_text("".join(f"line {n}\n" for n in range(1, 1001)))
    (root / "README.md").write_text("# Shop\n")
    return root


class Calls:
    """Collects on_call reports."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict, str, bool]] = []

    def __call__(self, tool: str, args: dict, result: str, error: bool) -> None:
        self.items.append((tool, args, result, error))


class FakeSearch:
    def __init__(self, hits: list[SearchHit]) -> None:
        self.hits = hits
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, k: int = 8) -> list[SearchHit]:
        self.queries.append((query, k))
        return self.hits[:k]


def make_env(root: Path, writes=("docs/**",), **kw) -> ToolEnv:
    changes = ChangeSet(root, writes=list(writes), protected=RepoConfig().protected_paths)
    return ToolEnv(root=root, changes=changes, sandbox=Sandbox(SandboxLimits(timeout_s=30)), **kw)


def tools_of(env: ToolEnv) -> dict:
    return {t.name: t for t in build_tools(TOOL_NAMES, env)}


# --- the contract -------------------------------------------------------------------


def test_tool_names_are_the_config_contract():
    assert TOOL_NAMES == KNOWN_TOOLS
    assert len(set(TOOL_NAMES)) == len(TOOL_NAMES)


def test_build_tools_makes_one_tool_per_name_except_final_answer(repo):
    tools = build_tools(["read_file", "final_answer", "write_file", "read_file"], make_env(repo))
    assert [t.name for t in tools] == ["read_file", "write_file"]
    assert {t.name for t in build_tools(TOOL_NAMES, make_env(repo))} == set(ALL)
    with pytest.raises(ConfigError):
        build_tools(["frobnicate"], make_env(repo))


def test_every_tool_schema_is_valid_json_schema_with_optional_args_not_required(repo):
    for tool in build_tools(ALL, make_env(repo)):
        params = get_tool_json_schema(tool)["function"]["parameters"]
        Draft202012Validator.check_schema(params)
        assert params["type"] == "object"
        for name, prop in params["properties"].items():
            assert prop["type"] in {"string", "integer", "number", "boolean"}
            assert (name in params["required"]) != bool(prop.get("nullable"))
        # What the Anthropic model sends as input_schema is the same object.
        json.dumps(params)


def write_role(tmp_path: Path, text: str) -> list:
    files = {".agentforge/roles/helper.md": text}
    _, issues = validate_files(files)
    return issues


def test_an_unknown_tool_in_a_role_file_is_a_config_error_with_file_and_line(tmp_path):
    text = "---\ndescription: x\ntools:\n  - read_file\n  - frobnicate\nwrites: []\n---\nDo it.\n"
    (issue,) = write_role(tmp_path, text)
    assert issue.file == ".agentforge/roles/helper.md"
    assert issue.line == 5
    assert issue.field == "tools[1]"
    assert "frobnicate" in issue.message


def test_an_mcp_style_tool_name_points_at_the_mcp_config(tmp_path):
    (issue,) = write_role(tmp_path, "---\ntools: [docs__lookup]\n---\nDo it.\n")
    assert "mcp.servers" in issue.message


def test_a_tool_listed_twice_is_a_config_error(tmp_path):
    (issue,) = write_role(tmp_path, "---\ntools: [read_file, read_file]\n---\nDo it.\n")
    assert issue.field == "tools"


# --- behaviour ----------------------------------------------------------------------


def test_read_file_numbers_lines_and_pages_huge_files(repo):
    read = tools_of(make_env(repo))["read_file"]
    first = read(path="src/cart.py")
    assert first.startswith("src/cart.py (lines 1-400 of 1000)\n")
    assert "  1 | line 1\n" in first
    assert "start_line=401" in first
    window = read(path="src/cart.py", start_line=998, end_line=2000)
    assert "998 | line 998" in window
    assert "1000 | line 1000" in window
    assert "more lines" not in window


def test_read_file_of_a_missing_file_or_an_escape_raises_with_a_reason(repo):
    read = tools_of(make_env(repo))["read_file"]
    with pytest.raises(RoleToolError):
        read(path="src/none.py")
    with pytest.raises(UnsafePath):
        read(path="../../etc/passwd")


def test_write_then_read_and_list_see_the_staged_file(repo):
    env = make_env(repo)
    tools = tools_of(env)
    assert tools["write_file"](path="docs/new.md", content="a\nb\n") == (
        "staged: docs/new.md created (2 lines)"
    )
    assert "1 | a" in tools["read_file"](path="docs/new.md")
    assert "docs/new.md" in tools["list_files"](prefix="docs")
    assert tools["delete_file"](path="docs/new.md") == "staged: docs/new.md deleted"
    assert len(env.changes) == 0


def test_a_refused_write_raises_and_is_reported_as_an_error(repo):
    calls = Calls()
    env = make_env(repo, on_call=calls)
    with pytest.raises(WriteRefused):
        tools_of(env)["write_file"](path="src/cart.py", content="x")
    with pytest.raises(WriteRefused):
        tools_of(env)["write_file"](path=".agentforge/config.yaml", content="x")
    assert [(c[0], c[3]) for c in calls.items] == [("write_file", True), ("write_file", True)]
    assert "outside this role's writes: docs/**" in calls.items[0][2]
    assert "protected path" in calls.items[1][2]
    assert env.changes.file_changes() == []


def test_run_command_sees_staged_changes_and_leaves_the_checkout_alone(repo):
    env = make_env(repo, writes=["**"])
    tools = tools_of(env)
    tools["write_file"](path="src/extra.py", content="print('staged')\n")
    out = tools["run_command"](command="python src/extra.py; echo junk > README.md; exit 4")
    assert out.startswith("exit code 4;")
    assert "staged" in out
    assert (repo / "README.md").read_text() == "# Shop\n"
    assert not (repo / "src" / "extra.py").exists()


def test_run_command_reports_a_timeout(repo):
    env = make_env(repo)
    env.sandbox = Sandbox(SandboxLimits(timeout_s=1))
    out = tools_of(env)["run_command"](command="sleep 30")
    assert out.startswith("timed out")


def test_ask_human_records_the_question(repo):
    env = make_env(repo)
    answer = tools_of(env)["ask_human"](question="Which currency?")
    assert env.questions == ["Which currency?"]
    assert "needs_human" in answer


def test_git_and_search_tools_say_when_their_backend_is_missing(repo):
    tools = tools_of(make_env(repo))
    for name, args in [
        ("git_log", {}),
        ("git_diff", {}),
        ("git_blame", {"path": "README.md"}),
        ("search_code", {"query": "cart"}),
        ("search_discussions", {"query": "cart"}),
    ]:
        with pytest.raises(RoleToolError):
            tools[name](**args)


def test_search_tools_format_hits_and_cap_k(repo):
    code = FakeSearch([SearchHit("src/cart.py", 3, 9, "def total():", 0.875)])
    talk = FakeSearch([SearchHit("issue#4", 1, 1, "use euros", 1.0)])
    tools = tools_of(make_env(repo, code_search=code, discussions=talk))
    assert "src/cart.py:3-9 (score 0.88)\ndef total():" in tools["search_code"](query="total", k=99)
    assert code.queries == [("total", 20)]
    assert "use euros" in tools["search_discussions"](query="currency")


class FakeGit:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def log(self, path=None, limit=20):
        self.calls.append(("log", path, limit))
        return "abc1234 2024-01-01 Ada: init"

    def diff(self, base=None, path=None):
        self.calls.append(("diff", base, path))
        return ""

    def blame(self, path, start=None, end=None):
        self.calls.append(("blame", path, start, end))
        return "abc1234 (Ada 2024-01-01) 1 | # Shop"


def test_git_tools_pass_normalized_arguments(repo):
    git = FakeGit()
    tools = tools_of(make_env(repo, git=git))
    assert "init" in tools["git_log"](path="./src//cart.py", limit=500)
    assert tools["git_diff"](base="main") == "no differences"
    tools["git_blame"](path="README.md", start_line=1, end_line=1)
    assert git.calls == [
        ("log", "src/cart.py", 100),
        ("diff", "main", None),
        ("blame", "README.md", 1, 1),
    ]
    with pytest.raises(UnsafePath):
        tools["git_blame"](path="../x")


# --- through a real smolagents agent --------------------------------------------------


def _call(name: str, arguments: dict, n: int) -> ChatMessage:
    return ChatMessage(
        role=MessageRole.ASSISTANT,
        content="",
        tool_calls=[
            ChatMessageToolCall(
                id=f"call_{n}",
                type="function",
                function=ChatMessageToolCallFunction(name=name, arguments=arguments),
            )
        ],
    )


class ScriptedModel(Model):
    """Answers with a fixed sequence of tool calls and keeps every prompt it saw."""

    def __init__(self, script: list[tuple[str, dict]]) -> None:
        super().__init__(model_id="scripted")
        self.script = list(script)
        self.prompts: list[str] = []

    def generate(
        self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kw
    ):
        self.prompts.append(_text(messages))
        name, arguments = self.script.pop(0)
        return _call(name, arguments, len(self.prompts))


def _text(messages) -> str:
    out = []
    for message in messages:
        content = message.content if isinstance(message, ChatMessage) else message["content"]
        if isinstance(content, list):
            out.extend(part.get("text", "") for part in content if isinstance(part, dict))
        elif content:
            out.append(str(content))
    return "\n".join(out)


def test_tool_errors_reach_the_models_next_prompt_and_the_run_goes_on(repo):
    calls = Calls()
    env = make_env(repo, on_call=calls)
    model = ScriptedModel(
        [
            ("write_file", {"path": "src/cart.py", "content": "hacked"}),
            ("read_file", {"path": "../../etc/passwd"}),
            ("write_file", {"path": "docs/notes.md", "content": "ok\n"}),
            ("final_answer", {"answer": "done"}),
        ]
    )
    agent = ToolCallingAgent(
        tools=build_tools(["read_file", "write_file"], env), model=model, max_steps=6
    )
    assert agent.run("Write notes.") == "done"
    assert "src/cart.py is outside this role's writes: docs/**" in model.prompts[1]
    assert "climbs out of the repository" in model.prompts[2]
    assert env.changes.file_changes()[0].path == "docs/notes.md"
    assert [c[3] for c in calls.items] == [True, True, False]
    assert (repo / "src" / "cart.py").read_text().startswith("line 1\n")
