"""Unified diffs of text files, with git-style headers, from :mod:`difflib`."""

from __future__ import annotations

import difflib


def unified_diff(path: str, old: str | None, new: str | None, *, context: int = 3) -> str:
    """The diff that turns ``old`` into ``new`` for ``path`` (None: the file is absent).

    The headers follow git (``diff --git``, ``new file``/``deleted file``, ``/dev/null``)
    so reviewers and ``git apply`` read it as usual.
    """
    if old == new:
        return ""
    head = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    elif new is None:
        head.append("deleted file mode 100644\n")
    before = _lines(old)
    after = _lines(new)
    body = difflib.unified_diff(
        before,
        after,
        fromfile="/dev/null" if old is None else f"a/{path}",
        tofile="/dev/null" if new is None else f"b/{path}",
        n=context,
    )
    return "".join(head) + "".join(body)


def _lines(text: str | None) -> list[str]:
    if not text:
        return []
    lines = text.splitlines(keepends=True)
    if not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
