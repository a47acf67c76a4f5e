"""Helpers for executor tests: the project name and a forge wrapper that can fail."""

from __future__ import annotations

from typing import Any

REPO = "acme/app"
BOT = "agentforge-bot"


class Flaky:
    """A forge that raises ``errors[method]`` on calls to ``method``; the rest pass through.

    ``writes`` counts the write calls that reached the real forge.
    """

    WRITES = (
        "create_comment",
        "edit_comment",
        "add_labels",
        "remove_label",
        "add_reaction",
        "open_mr",
        "update_mr",
        "mark_ready",
        "update_issue",
        "set_commit_status",
    )

    def __init__(self, forge: Any, errors: dict[str, Exception] | None = None) -> None:
        self._forge = forge
        self.errors = dict(errors or {})
        self.writes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._forge, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in self.errors:
                raise self.errors[name]
            if name in self.WRITES:
                self.writes.append(name)
            return target(*args, **kwargs)

        return call
