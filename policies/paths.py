"""Repository paths: one normal form and one glob matcher for every layer.

The role tools (:mod:`agents.roles.changes`) and the protected-paths policy
(:mod:`policies.protected`) both ask "is this path safe, and which glob does it match?";
they use these two functions so the answer never differs between the agent's write
guard and the executor's judge.

Globs use wcmatch with ``**`` (any depth, including none) and dot files matched like
other files (``GLOBSTAR | DOTGLOB | FORCEUNIX``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath

from wcmatch import glob

from bot.errors import UnsafePath

_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.FORCEUNIX
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

AGENTFORGE_GLOBS = (".agentforge", ".agentforge/**")
"""The bot's own configuration: no role ever changes it."""

CI_GLOBS = (
    ".github/workflows/**",
    ".github/actions/**",
    ".gitlab-ci.yml",
    ".gitlab/ci/**",
)
"""The forges' CI definitions (written only by roles listed in ``ci_writers``)."""


def normalize_path(path: str) -> str:
    """The canonical repository-relative form of ``path`` (``./a//b`` → ``a/b``).

    Raises:
        UnsafePath: empty, absolute, ``..``, ``.git`` component, backslash or control
            characters.
    """
    if not isinstance(path, str) or not path.strip():
        raise UnsafePath("the path is empty; give a path relative to the repository root")
    if _CONTROL.search(path) or "\\" in path:
        raise UnsafePath(f"{path!r} has control characters or backslashes; use '/' paths")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or path.startswith("~"):
        raise UnsafePath(f"{path} is absolute; give a path relative to the repository root")
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    if ".." in parts:
        raise UnsafePath(f"{path} climbs out of the repository with '..'")
    if not parts:
        raise UnsafePath(f"{path!r} names the repository root, not a file")
    if any(p.lower() == ".git" for p in parts):
        raise UnsafePath(f"{path} is inside .git/, which no role may read or write")
    return "/".join(parts)


def matches(path: str, patterns: Iterable[str], *, ignore_case: bool = False) -> str | None:
    """The first glob in ``patterns`` that matches ``path``, or None."""
    flags = _FLAGS | (glob.IGNORECASE if ignore_case else 0)
    for pattern in patterns:
        if glob.globmatch(path, pattern, flags=flags):
            return pattern
    return None


def deceptive_characters(path: str) -> str | None:
    """Why ``path`` could look like another path to a reviewer, or None.

    Invisible format characters (zero-width spaces and joiners, bidirectional
    overrides), non-NFC text (two spellings of one name) and characters that NFKC folds
    to ASCII (full-width letters spelling ``.github``) let a change hide where it lands, so
    protected globs could miss what a person reads as ``.github``.
    """
    for char in path:
        if unicodedata.category(char) == "Cf":
            return f"it contains the invisible character U+{ord(char):04X}"
    if unicodedata.normalize("NFC", path) != path:
        return "it is not in Unicode normal form NFC"
    folded = unicodedata.normalize("NFKC", path)
    if folded != path:
        return f"it contains look-alike characters (it reads as {folded!r})"
    return None
