"""The audit chain's head on the forge: an ``Agentforge-Audit`` trailer in every commit.

The anchor file beside the records (:mod:`bot.store.audit_anchor`) is on the bot's own
host: whoever can rewrite the database there can rewrite the file too. So every commit
the bot pushes also carries the audit head *at the moment of the push* as a trailer::

    Agentforge-Audit: <seq> <sha256 hash of that row>

A pushed commit cannot be changed without a force-push, which the bot never does and
the forge shows on the MR's timeline. ``agentforge audit verify --forge-repo <repo>``
reads the newest such trailer on the repository's branches (a fresh clone) and checks
that the row is still in the log with that hash: a log cut below it is ``truncated``, a
rewritten row ``anchor_mismatch``, and a repository the log says the bot pushed to with
no trailer at all ``anchor_missing``.

What it covers: every row up to the bot's last push to that repository. Rows written
after the last push are covered by the anchor file only.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.store.audit import AuditLog
from bot.workspace import Workspace

AUDIT_TRAILER = "Agentforge-Audit"
"""The trailer that carries the audit head in the bot's commits."""
_VALUE = re.compile(r"^\s*(\d+)\s+([0-9a-f]{64})\s*$")
_SCAN = 5_000
"""Commits read per branch, newest first (the newest anchor is near the tip)."""


@dataclass(frozen=True)
class ForgeAnchor:
    """The newest audit head found in a repository's commits.

    Attributes:
        repo: The repository.
        seq: The anchored row.
        hash: Its hash as the commit recorded it.
        commit: The commit that carries it.
        branch: A branch it is on.
    """

    repo: str
    seq: int
    hash: str
    commit: str
    branch: str


@dataclass(frozen=True)
class ForgeCheck:
    """The outcome of checking one repository's anchor against the log.

    Attributes:
        repo: The repository.
        ok: True when the anchor matches (or nothing was ever anchored there).
        reason: ``truncated``, ``anchor_mismatch`` or ``anchor_missing`` when not ok.
        message: A sentence for people.
        anchor: The anchor found, if any.
    """

    repo: str
    ok: bool
    message: str
    reason: str | None = None
    anchor: ForgeAnchor | None = None


def parse_trailer(value: str | None) -> tuple[int, str] | None:
    """``(seq, hash)`` from an ``Agentforge-Audit`` value, or None when malformed."""
    match = _VALUE.match(value or "")
    return (int(match.group(1)), match.group(2)) if match else None


def newest_anchor(ws: Workspace, repo: str) -> ForgeAnchor | None:
    """The highest-seq ``Agentforge-Audit`` trailer on any branch of the clone."""
    best: ForgeAnchor | None = None
    for branch in ws.remote_branches():
        for commit in ws.log(f"refs/remotes/origin/{branch}", limit=_SCAN):
            found = parse_trailer(commit.trailer(AUDIT_TRAILER))
            if found is not None and (best is None or found[0] > best.seq):
                best = ForgeAnchor(repo, found[0], found[1], commit.sha, branch)
    return best


def read_anchor(clone_url: str, repo: str) -> ForgeAnchor | None:
    """Clone ``clone_url`` into a temporary directory and read its newest anchor.

    A fresh clone, not the bot's cache: the check must see the forge, not a copy on
    the host it is checking.

    Raises:
        GitError: cloning failed.
    """
    with tempfile.TemporaryDirectory(prefix="agentforge-audit-") as tmp:
        ws = Workspace.open(clone_url, Path(tmp) / "clone")
        return newest_anchor(ws, repo)


def pushed_to(log: AuditLog, forge: str, repo: str) -> bool:
    """Whether the log records a push by the bot to ``repo`` (then an anchor is due)."""
    prefix = f"{forge}:{repo}@"
    after = 0
    while rows := log.entries(after_seq=after, limit=1_000):
        for row in rows:
            if row.action == "push_commit.applied" and (row.subject or "").startswith(prefix):
                return True
        after = rows[-1].seq
    return False


def check(log: AuditLog, anchor: ForgeAnchor | None, *, forge: str, repo: str) -> ForgeCheck:
    """Check ``repo``'s newest forge anchor against the log (see the module docstring)."""
    if anchor is None:
        if pushed_to(log, forge, repo):
            return ForgeCheck(
                repo,
                False,
                f"the log records pushes to {repo}, but no commit on its branches carries "
                f"an {AUDIT_TRAILER} trailer: the newest rows cannot be checked against the "
                "forge (commits pushed by versions before the trailer carry none)",
                "anchor_missing",
            )
        return ForgeCheck(repo, True, f"{repo}: no push by the bot, nothing anchored")
    rows = log.entries(after_seq=anchor.seq - 1, limit=1)
    where = f"commit {anchor.commit[:12]} on {repo} ({anchor.branch})"
    if not rows or rows[0].seq != anchor.seq:
        head = log.head()
        last = head[0] if head else 0
        return ForgeCheck(
            repo,
            False,
            f"{where} records audit row {anchor.seq}, but the log ends at row {last}: "
            "newer rows were deleted",
            "truncated",
            anchor,
        )
    if rows[0].hash != anchor.hash:
        return ForgeCheck(
            repo,
            False,
            f"{where} records row {anchor.seq} with hash {anchor.hash}, the log has "
            f"{rows[0].hash}: the row was rewritten",
            "anchor_mismatch",
            anchor,
        )
    return ForgeCheck(repo, True, f"{repo}: row {anchor.seq} matches {where}", anchor=anchor)
