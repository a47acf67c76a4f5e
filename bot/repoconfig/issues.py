"""A located configuration problem: file, line, field, message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a repository's ``.agentforge/`` files.

    Attributes:
        file: Path relative to the repository root (``.agentforge/config.yaml``).
        line: 1-based line, or None when the problem is not tied to a line.
        field: Dotted path of the offending field (``models.routes.developer[0].model``).
        message: What is wrong and what is expected.
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(top level)'}: {self.message}"

    def as_dict(self) -> dict:
        """Plain data for JSON output."""
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}
