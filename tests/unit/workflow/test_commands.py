"""The slash-command parser: what counts as a command, and what never does."""

from __future__ import annotations

import pytest

from handlers.commands import first_command, parse_commands

CASES = [
    # (comment text, expected (name, args, namespaced) of the first command, or None)
    ("/approve", ("approve", "", False)),
    ("  /approve", ("approve", "", False)),
    ("/APPROVE", ("approve", "", False)),
    ("/approve looks good", ("approve", "looks good", False)),
    ("LGTM\n/approve", ("approve", "", False)),
    ("/agentforge approve", ("approve", "", True)),
    ("/AgentForge   Approve  now", ("approve", "now", True)),
    ("/agentforge start", ("start", "", True)),
    ("/agentforge", ("help", "", True)),
    ("/agentforge frobnicate", ("frobnicate", "", True)),
    ("/reject too slow, use a set", ("reject", "too slow, use a set", False)),
    ("\uff0fapprove", ("approve", "", False)),  # full-width solidus: NFKC makes it /approve
    # never commands
    ("", None),
    ("please /approve", None),
    ("I think we can /approve this", None),
    ("> /approve", None),
    ("  > /approve", None),
    (">/approve", None),
    ("`/approve`", None),
    ("``/approve``", None),
    ("```\n/approve\n```", None),
    ("~~~\n/approve\n~~~", None),
    ("````\n```\n/approve\n````", None),
    ("```python\nx = 1\n/approve\n```", None),
    ("<!-- /approve -->", None),
    ("<!--\n/approve\n-->", None),
    ("/approved", None),
    ("/approve-all", None),
    ("/tmp/approve", None),
    ("/start", None),  # only the namespaced form starts a run
    ("/\u0430pprove", None),  # Cyrillic a
    ("/ap\u200bprove", None),  # zero-width space
    ("/approve\u200b", None),  # zero-width joiner glued to the word
    ("/agentforge \u0430pprove", None),
    ("/agentforge\u200b approve", None),
    ("/frobnicate", None),  # unknown bare names are not commands
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_first_command(text, expected):
    found = first_command(
        text, frozenset({"approve", "reject", "retry", "status", "cancel", "help"})
    )
    if expected is None:
        assert found is None
    else:
        assert (found.name, found.args, found.namespaced) == expected


def test_fenced_block_closes_and_later_lines_count():
    text = "```\n/approve\n```\nnow for real:\n/approve"
    (cmd,) = parse_commands(text)
    assert cmd.line == 5


def test_unclosed_fence_hides_the_rest():
    assert parse_commands("```\n/approve") == []


def test_unknown_namespaced_command_is_reported_as_unknown():
    (cmd,) = parse_commands("/agentforge frobnicate")
    assert cmd.name == "frobnicate" and not cmd.known


def test_several_commands_in_order():
    names = [c.name for c in parse_commands("/approve\n> /reject no\n/reject why not")]
    assert names == ["approve", "reject"]
