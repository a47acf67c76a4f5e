"""Outgoing comments and descriptions kept under the forges' size limits.

A forge refuses a body over its limit (GitHub: ``422 Body is too long (maximum is
65536 characters)`` for issue and PR comments and bodies; GitLab: notes and
descriptions of at most 1,000,000 characters, enforced as 1 MiB since GitLab 12.5).
A long role summary or a pasted check log must not make the status comment fail, so
:func:`fit` cuts the visible text and says so, and keeps every hidden
``<!-- agentforge:... -->`` marker whole, in order, at the end: the status comment's
state marker and the comment's own key are what let the bot find and rebuild its
state, so a cut never removes or breaks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import InvalidRequest

_HIDDEN = re.compile(r"<!--\s*agentforge:.*?-->", re.DOTALL)
"""The bot's hidden markers (comment keys and the ``state`` marker)."""

NOTE = (
    "\n\n> ✂️ **This comment was cut to fit the forge's size limit "
    "({limit:,} characters).** {dropped:,} characters were left out."
)
"""Shown where the visible text was cut."""


@dataclass(frozen=True)
class SizeLimit:
    """How large one body may be on a forge.

    Attributes:
        chars: The most characters (code points).
        bytes: The most UTF-8 bytes, where the forge also counts bytes (None: no cap).
    """

    chars: int
    bytes: int | None = None

    def fits(self, text: str) -> bool:
        """Whether ``text`` is within both caps."""
        if len(text) > self.chars:
            return False
        return self.bytes is None or len(text.encode("utf-8")) <= self.bytes


GITHUB_LIMIT = SizeLimit(chars=65_536)
"""GitHub's limit for issue, PR and review comments and issue/PR bodies."""
GITLAB_LIMIT = SizeLimit(chars=1_000_000, bytes=1_048_576)
"""GitLab's limit for notes and descriptions (characters, and 1 MiB of text)."""

LIMITS: dict[str, SizeLimit] = {
    "github": GITHUB_LIMIT,
    "gitlab": GITLAB_LIMIT,
    # The local forge stores any size; it keeps GitHub's limit so a run behaves on
    # it the way it will on the strictest forge.
    "local": GITHUB_LIMIT,
}
"""Forge name → limit (an unknown forge gets the strictest)."""


def limit_for(forge_name: str) -> SizeLimit:
    """The body size limit of the forge called ``forge_name``."""
    return LIMITS.get(forge_name, GITHUB_LIMIT)


def fit(body: str, limit: SizeLimit) -> str:
    """``body`` unchanged when it fits, else cut with a note and every marker kept.

    Raises:
        InvalidRequest: the hidden markers alone do not fit (nothing sensible can be
            posted; the caller reports it as a failed write).
    """
    if limit.fits(body):
        return body
    markers = _HIDDEN.findall(body)
    visible = _HIDDEN.sub("", body).rstrip()
    tail = "".join(f"\n\n{m}" for m in markers)
    # The note's numbers are at most this long; reserve room for the widest.
    note_room = len(NOTE.format(limit=limit.chars, dropped=len(visible)))
    room = limit.chars - len(tail) - note_room - len("\n```")
    if room <= 0:
        raise InvalidRequest(
            f"a comment's hidden markers alone ({len(tail):,} characters) exceed the "
            f"forge's limit of {limit.chars:,} characters"
        )
    kept = _shrink(visible, room, limit, len(tail) + note_room)
    dropped = len(visible) - len(kept)
    kept = _safe_end(kept)
    return kept + NOTE.format(limit=limit.chars, dropped=dropped) + tail


def _shrink(visible: str, room: int, limit: SizeLimit, reserved_chars: int) -> str:
    kept = visible[:room]
    if limit.bytes is None:
        return kept
    # Bytes: multi-byte text can be within the character cap and over the byte cap.
    # Reserve the markers and note in bytes too (both are ASCII apart from the emoji).
    budget = limit.bytes - reserved_chars - 16
    encoded = kept.encode("utf-8")
    if len(encoded) <= budget:
        return kept
    return encoded[:budget].decode("utf-8", errors="ignore")


def _safe_end(kept: str) -> str:
    """``kept`` cut so that the note after it renders: no open HTML comment (which
    would hide the note) and no open code fence (which would show it as code)."""
    opened = kept.rfind("<!--")
    if opened > kept.rfind("-->"):
        kept = kept[:opened]
    kept = kept.rstrip()
    if kept.count("```") % 2 == 1:
        kept += "\n```"
    return kept
