"""The commands tables in README.md and docs/workflow.md list every registered command
with who may use it (the registry is the truth: ``handlers.workflow.commands_table``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import handlers.workflow.talk  # noqa: F401 - registers reject, retry, cancel, status, help
from handlers.workflow.commands_table import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def _table(path: Path, header: str) -> dict[str, str]:
    """The rows after ``header``: the command's usage (first cell) -> who (second cell)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(header)
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        usages = re.findall(r"`([^`]+)`", cells[0])
        for usage in usages:
            rows[usage] = cells[1]
    return rows


def _usage(name: str) -> str:
    spec = COMMANDS[name]
    return spec.usage or (f"/{name}" if spec.bare else f"/agentforge {name}")


@pytest.mark.parametrize(
    ("doc", "header"),
    [
        ("README.md", "| command | who may use it | what it does |"),
        ("docs/workflow.md", "| command | who | what |"),
    ],
)
def test_every_command_is_documented_with_who_may_use_it(doc, header):
    rows = _table(ROOT / doc, header)
    assert set(COMMANDS) >= {"approve", "start", "reject", "retry", "cancel", "status", "help"}
    for name, spec in COMMANDS.items():
        usage = _usage(name)
        assert usage in rows, f"{doc}: no row for `{usage}`"
        assert rows[usage] == spec.who, f"{doc}: `{usage}` is for {spec.who!r}, not {rows[usage]!r}"
    documented = {u.split()[0].removeprefix("/") for u in rows if u.startswith("/")}
    documented |= {u.split()[1] for u in rows if u.startswith("/agentforge ")}
    documented.discard("agentforge")
    assert documented <= set(COMMANDS), f"{doc} lists commands that do not exist"
