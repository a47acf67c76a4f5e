"""YAML loading that remembers where every value was written.

PyYAML's composer keeps each node's start mark; walking the node tree once gives a map
from a field path (``("models", "routes", "developer", 0)``) to its line, so a
validation error can name the line a person has to fix.
"""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]
MAX_VALUES = 20_000
"""Most values a config file may expand to (aliases count every time they are used)."""
MAX_DEPTH = 50
"""Deepest nesting a config file may have."""


class YamlSyntaxError(Exception):
    """The text is not valid YAML; carries the 1-based line of the problem."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML text; return the data and a map of field path → 1-based line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(f"not valid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", None) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        # Aliases are shared nodes: ``&a [*b, *b, ...]`` chains ("billion laughs") expand
        # exponentially, and a recursive alias never ends. The walk counts every value
        # as validation would meet it and stops at the first limit, so a hostile file is
        # refused in milliseconds instead of eating memory.
        _walk(node, (), lines, [MAX_VALUES])
    return data, lines


def _walk(node: yaml.Node, path: Path_, out: dict[Path_, int], budget: list[int]) -> None:
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlSyntaxError(
            f"the file expands to more than {MAX_VALUES} values (aliases repeating "
            "aliases?); write the values out or simplify it",
            line,
        )
    if len(path) > MAX_DEPTH:
        raise YamlSyntaxError(
            f"values are nested more than {MAX_DEPTH} levels deep (a recursive alias?)", line
        )
    out[path] = line
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            _walk(value_node, child, out, budget)
            # A key's own line is more useful than its value's for "unknown field" errors.
            out[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), out, budget)


def line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for n in range(len(path), -1, -1):
        line = lines.get(tuple(path[:n]))
        if line is not None:
            return line
    return None


def dotted(path: Path_) -> str:
    """``("a", "b", 0, "c")`` → ``a.b[0].c``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
