"""Slash commands in comments: ``/approve``, ``/agentforge approve``, ``/reject why``...

The parser is shared by every command handler. A comment's text is untrusted, so the
rules are strict and err towards "not a command":

- only a line that *starts* with the command counts (leading whitespace is fine);
  ``please /approve`` mid-sentence does not;
- lines inside block quotes (``> /approve``), fenced code blocks (```` ``` ```` and
  ``~~~``), inline code and HTML comments are skipped;
- the text is NFKC-normalised first (so a full-width solidus and letters read as
  ``/approve``), and a command word must then be plain ASCII: ``/approve`` spelt with
  a Cyrillic "a" (U+0430) or with a zero-width character inside is not a command (no
  look-alike tricks);
- names are case-insensitive; the bare form is recognised only for names in
  ``known`` (so a path like ``/tmp/x`` at a line start is not a command), the namespaced
  form ``/agentforge <name>`` for any name (an unknown one is reported as such so the
  caller can answer with help).

Whether a comment may trigger at all (newly created, not edited; not by the bot) is the
caller's decision; this module only reads text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NAMESPACE = "agentforge"
"""The namespaced form's prefix: ``/agentforge approve``."""

KNOWN_COMMANDS: frozenset[str] = frozenset(
    {"approve", "reject", "retry", "status", "cancel", "help", "start"}
)
"""Commands recognised in their bare ``/name`` form (issue 13 adds handlers for some)."""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)(.*)$")
_WORD = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)(.*)$")


@dataclass(frozen=True)
class Command:
    """One command found in a comment.

    Attributes:
        name: Lowercase command name (``approve``).
        args: The rest of the line after the name, stripped (``/reject too slow`` →
            ``too slow``).
        namespaced: Written as ``/agentforge <name>``.
        known: Whether ``name`` is one of the known commands.
        line: 1-based line of the comment it was on.
    """

    name: str
    args: str
    namespaced: bool
    known: bool
    line: int


def _suspicious(text: str) -> bool:
    # Format characters (zero-width space/joiner, bidi controls) have no business in a
    # command word; their presence means someone is playing tricks.
    return any(unicodedata.category(ch) == "Cf" for ch in text)


def _visible_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of lines outside fenced code blocks and HTML comments."""

    # Blank out HTML comments but keep their newlines so line numbers stay right.
    def _blank(match: re.Match[str]) -> str:
        return "\n" * match.group(0).count("\n")

    text = _HTML_COMMENT.sub(_blank, text)
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence is not None:
            # A fence closes with the same character, at least as long, nothing after.
            closes = (
                opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence)
            )
            if closes and not line.strip().lstrip(fence[0]):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        out.append((number, line))
    return out


def parse_commands(text: str | None, known: frozenset[str] = KNOWN_COMMANDS) -> list[Command]:
    """Every command in ``text``, in order (see the module docstring for the rules)."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text)
    commands: list[Command] = []
    for number, raw in _visible_lines(text):
        line = raw.strip()
        if not line.startswith("/"):
            continue  # quotes ("> /approve"), inline code ("`/approve`"), prose
        line = _INLINE_CODE.sub(" ", line).strip()
        head = line.split(None, 1)[0] if line else ""
        if _suspicious(head) or not head.isascii():
            continue
        match = _COMMAND.match(line)
        if match is None:
            continue
        name, rest = match.group(1).lower(), match.group(2)
        namespaced = name == NAMESPACE
        if namespaced:
            word_text = rest.strip()
            sub = word_text.split(None, 1)[0] if word_text else ""
            if _suspicious(sub) or not sub.isascii():
                continue
            word = _WORD.match(word_text)
            if word is None:
                # "/agentforge" alone asks for help.
                if word_text:
                    continue
                commands.append(Command("help", "", True, "help" in known, number))
                continue
            name, rest = word.group(1).lower(), word.group(2)
        elif name not in known:
            continue
        commands.append(Command(name, rest.strip(), namespaced, name in known, number))
    return commands


def first_command(text: str | None, known: frozenset[str] = KNOWN_COMMANDS) -> Command | None:
    """The first command in ``text``, or None (a comment acts on its first command)."""
    found = parse_commands(text, known)
    return found[0] if found else None


_LONE = re.compile(r"^/([A-Za-z][A-Za-z0-9_-]*)(?:[ \t]+([^\n]*))?$")


def lone_unknown(text: str | None, known: frozenset[str] = KNOWN_COMMANDS) -> Command | None:
    """A bare unknown command written as a whole comment (``/frobnicate``), or None.

    Slash words are common in prose and paths (``/tmp``, ``/s``), so a bare unknown
    name counts only when it is the comment's one and only line, is plain ASCII, and
    is not a path (no further ``/`` in the word). Anything else is not a command.
    """
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text).strip()
    if "\n" in text or _suspicious(text):
        return None
    match = _LONE.match(text)
    if match is None or not text.split(None, 1)[0].isascii():
        return None
    name = match.group(1).lower()
    if name in known or name == NAMESPACE:
        return None
    return Command(name, (match.group(2) or "").strip(), False, False, 1)
