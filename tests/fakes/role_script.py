"""Script the role agents of a whole run on the OpenAI-wire fake.

A run's roles ask the model many times, across phases, jobs, retries and restarts, so
an ordered list of answers (``OpenAIWireFake.reply``) cannot follow it. :class:`RoleScript`
answers from the conversation instead, the way a deterministic model would: it reads
*which role* is asking from the role prompt in the request (``You are the analyst on
...``) and *how far* that role's run has got from the tool calls already in the
conversation (smolagents replays each step as a ``Calling tools:`` message), and
returns that step of the role's script as native tool calls. A retried or restarted
phase starts a new conversation and so gets the same answers again.

Every request is kept (:attr:`RoleScript.calls`: role and step), so a test can count
how often each role ran. A request from a role with no script, or past the end of its
script, fails the test through the server's assertions.

:func:`phase_steps` builds realistic scripts for the shipped roles: list and read the
repository, write the phase's outputs, run the tests (developer, QA), and finish with
``final_answer`` (summary, confidence, covered acceptance criteria).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from tests.fakes.openai_wire import OpenAIWireFake

ToolCall = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class ModelFailure:
    """A step the model answers with an HTTP error instead of tool calls.

    Attributes:
        status: The HTTP status (400: the request is refused, not worth a retry).
        message: The provider's error message.
    """

    status: int = 400
    message: str = "the scripted model refused the request"


@dataclass(frozen=True)
class Hold:
    """A step whose answer waits until ``release`` is set (a model call that hangs).

    Attributes:
        release: Set by the test to let the answer go.
        then: The answer once released.
        entered: Set when the request arrived (the role is inside its model call).
        timeout: Seconds after which the answer goes anyway (a test never hangs).
    """

    release: threading.Event
    then: list[ToolCall] | ModelFailure
    entered: threading.Event = field(default_factory=threading.Event)
    timeout: float = 60.0


Step = list[ToolCall] | ModelFailure | Hold

ROLE_PHRASES = {
    "analyst": "You are the analyst on",
    "architect": "You are the architect on",
    "developer": "You are the developer on",
    "qa": "You are QA on",
    "devops": "You are the devops engineer on",
    "writer": "You are the technical writer on",
    "reviewer": "You are the reviewer on",
}
"""How each shipped role's prompt introduces it (agents/roles/defaults/*.md)."""
_CALLING = "Calling tools:"


def _texts(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [part.get("text", "") for part in content if isinstance(part, dict)]
    return []


def role_of(messages: list[dict[str, Any]]) -> str | None:
    """The role whose prompt opens the conversation (system or first user message)."""
    for message in messages[:3]:
        for text in _texts(message):
            for role, phrase in ROLE_PHRASES.items():
                if phrase in text:
                    return role
    return None


def step_of(messages: list[dict[str, Any]]) -> int:
    """How many tool-calling steps the conversation already holds."""
    return sum(
        1
        for message in messages
        if message.get("tool_calls")
        or any(text.lstrip().startswith(_CALLING) for text in _texts(message))
    )


@dataclass
class RoleScript:
    """Answers role conversations from per-role scripts (see the module docstring).

    Args:
        fake: The OpenAI-wire fake whose server answers (keyless: a local server).
        scripts: Role name -> its steps; each step is the tool calls of one answer.
    """

    fake: OpenAIWireFake
    scripts: dict[str, list[Step]] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.fake.keyless_ok = True  # Ollama and vLLM take requests without a key
        self.fake.server.expect_request(self.fake.path, method="POST").respond_with_handler(
            self._answer
        )

    def set(self, role: str, steps: list[Step]) -> None:
        """Script ``role`` (replacing an earlier script)."""
        with self._lock:
            self.scripts[role] = steps

    def runs_of(self, role: str) -> int:
        """How many times ``role`` started a conversation."""
        with self._lock:
            return sum(1 for r, step in self.calls if r == role and step == 0)

    def _answer(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True) or "{}")
        messages = body.get("messages") or []
        role, step = role_of(messages), step_of(messages)
        with self._lock:
            self.calls.append((role or "?", step))
            self.fake.requests.append(body)
            steps = self.scripts.get(role or "")
        if steps is None or step >= len(steps):
            self.fake.server.add_assertion(f"no scripted answer for role {role} at step {step}")
            return Response("{}", status=500, content_type="application/json")
        answer = steps[step]
        if isinstance(answer, Hold):
            answer.entered.set()
            answer.release.wait(answer.timeout)
            answer = answer.then
        if isinstance(answer, ModelFailure):
            error = {"message": answer.message, "type": "invalid_request_error", "code": None}
            return Response(
                json.dumps({"error": error}), status=answer.status, content_type="application/json"
            )
        return Response(json.dumps(completion(answer)), status=200, content_type="application/json")


def completion(calls: list[ToolCall]) -> dict[str, Any]:
    """A chat completion whose message is ``calls`` as native tool calls."""
    return {
        "id": "chatcmpl-script",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"call_{i}",
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(args)},
                        }
                        for i, (name, args) in enumerate(calls)
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020},
    }


# --- realistic phases of a small Python project ---------------------------------------


def final(summary: str, confidence: float = 0.9, covered: dict | None = None) -> Step:
    """The ``final_answer`` step."""
    args: dict[str, Any] = {
        "summary": summary,
        "confidence": confidence,
        "confidence_reasons": ["the scripted change is small and tested"],
    }
    if covered:
        args["covered"] = covered
    return [("final_answer", args)]


def requirements(issue: int, title: str) -> str:
    """A requirements document with two acceptance criteria."""
    return (
        f"# Requirements: {title}\n\n## Problem\ncalc can add but not subtract.\n\n"
        "## Acceptance criteria\n1. AC-1: `sub(5, 3)` returns `2`.\n"
        "2. AC-2: `sub(1, 3)` returns `-2` (negative results are allowed).\n\n"
        "## Out of scope\nFloats.\n\n## Open questions\nNone.\n"
    )


DESIGN = (
    "# Design: sub\n\n## Overview\nAdd `sub` beside `add` in `calc.py`.\n\n## Changes\n"
    "- `calc.py`: add `sub(a, b)`.\n- `tests/test_sub.py`: AC-1, AC-2.\n\n"
    "## Testing\nAC-1 and AC-2 in tests/test_sub.py.\n\n## Files read\ncalc.py\n"
)
CALC = (
    '"""A tiny calculator."""\n\n\ndef add(a: int, b: int) -> int:\n'
    '    """The sum of a and b."""\n    return a + b\n\n\n'
    'def sub(a: int, b: int) -> int:\n    """a minus b."""\n    return a - b\n'
)
SUB_TEST = (
    "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n\n\n"
    "def test_negative():\n    assert sub(1, 3) == -2\n"
)
QA_TEST = (
    "from calc import add, sub\n\n\ndef test_sub_undoes_add():\n    assert sub(add(4, 3), 3) == 4\n"
)
COVERED = {
    "AC-1": ["tests/test_sub.py::test_sub"],
    "AC-2": ["tests/test_sub.py::test_negative"],
}


def phase_steps(role: str, issue: int, title: str = "Subtract numbers") -> list[Step]:
    """A realistic script of ``role`` for the calc project (see :func:`make_calc`)."""
    work = f"issue-{issue}"
    if role == "analyst":
        return [
            [("list_files", {"prefix": None})],
            [("read_file", {"path": "calc.py"})],
            [
                (
                    "write_file",
                    {
                        "path": f"docs/requirements/{work}.md",
                        "content": requirements(issue, title),
                    },
                )
            ],
            final("Requirements for sub(a, b) with two acceptance criteria.", 0.9),
        ]
    if role == "architect":
        return [
            [("read_file", {"path": "calc.py"})],
            [("write_file", {"path": f"docs/design/{work}.md", "content": DESIGN})],
            final("Design: add sub beside add in calc.py.", 0.85),
        ]
    if role == "developer":
        return [
            [("read_file", {"path": "calc.py"})],
            [
                ("write_file", {"path": "calc.py", "content": CALC}),
                ("write_file", {"path": "tests/test_sub.py", "content": SUB_TEST}),
            ],
            [("run_command", {"command": "python -m pytest -q"})],
            final("sub(a, b) in calc.py with tests for AC-1 and AC-2.", 0.9, COVERED),
        ]
    if role == "qa":
        report = (
            f"# Test report: issue {issue}\n\n## Result\n`python -m pytest -q`: all passed\n\n"
            "## Coverage of acceptance criteria\n| AC | tests | result |\n|---|---|---|\n"
            "| AC-1 | tests/test_sub.py::test_sub | pass |\n"
            "| AC-2 | tests/test_sub.py::test_negative | pass |\n\n## Findings\nNone.\n"
        )
        return [
            [("write_file", {"path": "tests/test_sub_qa.py", "content": QA_TEST})],
            [("run_command", {"command": "python -m pytest -q"})],
            [("write_file", {"path": f"docs/test-reports/{work}.md", "content": report})],
            final("All acceptance criteria pass; one extra test.", 0.9, COVERED),
        ]
    if role == "devops":
        return [
            [("list_files", {"prefix": None})],
            [
                (
                    "write_file",
                    {
                        "path": "deploy/Dockerfile",
                        "content": "FROM python:3.12-slim\nCOPY . /app\nUSER 1000\n",
                    },
                )
            ],
            final("A container file under deploy/.", 0.8),
        ]
    if role == "writer":
        readme = "# calc\n\nAdds and subtracts numbers: `sub(5, 3)` is `2`.\n"
        changelog = f"# Changelog\n\n## Unreleased\n\n- `sub(a, b)` subtracts (#{issue})\n"
        return [
            [("list_files", {"prefix": None})],
            [
                ("write_file", {"path": "README.md", "content": readme}),
                ("write_file", {"path": "CHANGELOG.md", "content": changelog}),
            ],
            final("README and changelog mention sub.", 0.9),
        ]
    raise ValueError(f"no script for role {role}")


CALC_FILES = {
    "calc.py": CALC.split("\n\n\ndef sub")[0] + "\n",
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
    "README.md": "# calc\n\nAdds numbers.\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
"""The small project the end-to-end runs work on."""


def local_model_config(base_url: str, model: str = "qwen2.5-coder:7b") -> str:
    """``.agentforge/config.yaml`` for a local OpenAI-compatible server, as README shows."""
    return (
        "models:\n  use_shipped_defaults: false\n  providers:\n"
        f"    ollama: {{kind: openai, base_url: '{base_url}', local: true}}\n"
        f"  routes:\n    default: [{{provider: ollama, model: '{model}'}}]\n"
    )
