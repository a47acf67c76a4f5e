"""Small pieces the GitHub and GitLab adapters share (no SDK imports here).

Retries and HTTP-status mapping live in :mod:`bot.forges.resilience`; this module holds
the forge-neutral rules both adapters apply the same way: what a repository path may
look like, how a token goes into a clone URL, how a retried write finds the comment or
merge request an unclear failure may already have created, and which states a merge
request may be listed in or set to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

from bot.errors import InvalidRequest
from bot.forge import Comment, MergeRequest

LIST_STATES = frozenset({"open", "closed", "merged", "all"})
SET_STATES = frozenset({"open", "closed"})


def check_path(repo: str, pattern: re.Pattern[str], *, forge: str, what: str) -> str:
    """Return ``repo`` when it fully matches ``pattern`` and has no ``.``/``..`` part.

    Args:
        repo: The repository path the caller named.
        pattern: The forge's path shape (``owner/name``, ``group/sub/project``).
        forge: ``github`` or ``gitlab``, for the error.
        what: How the forge calls such a path, e.g. ``"an owner/name repository"``.

    Raises:
        InvalidRequest: the path is malformed; nothing was sent to the forge.
    """
    if not pattern.fullmatch(repo or "") or {".", ".."} & set(repo.split("/")):
        raise InvalidRequest(
            f"{forge}: {repo!r} is not {what}",
            forge=forge,
            operation=f"checking {what}",
        )
    return repo


def require_state(
    state: str,
    allowed: Iterable[str],
    *,
    forge: str,
    operation: str,
    what: str = "merge request",
) -> str:
    """Return ``state`` when it is one of ``allowed``, else raise :class:`InvalidRequest`."""
    choices = sorted(allowed)
    if state not in choices:
        raise InvalidRequest(
            f"{forge}: {what} state {state!r} is not one of {', '.join(choices)}",
            forge=forge,
            operation=operation,
        )
    return state


def with_credentials(url: str, user: str, token: str) -> str:
    """``url`` with ``user:token`` in it when it is http(s); other URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return url
    netloc = f"{user}:{quote(token, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def own_comment(comments: list[Comment], body: str, login: str | None) -> Comment | None:
    """The newest comment with exactly ``body`` written by ``login`` (anyone if None)."""
    for comment in reversed(comments):
        if comment.body == body and (login is None or comment.author.login == login):
            return comment
    return None


def open_mr_between(mrs: list[MergeRequest], base: str) -> MergeRequest | None:
    """The first of ``mrs`` (already filtered to one head branch) that targets ``base``."""
    found = [m for m in mrs if m.base_ref == base]
    return found[0] if found else None


def check_file_path(path: str, *, forge: str, directory: bool = False) -> str:
    """``path`` as a clean repository-relative path (no leading or trailing ``/``).

    Args:
        path: What the caller named (``.agentforge/roles``; ``""`` is the root).
        forge: ``github``, ``gitlab`` or ``local``, for the error.
        directory: Whether the root (``""``) is acceptable.

    Raises:
        InvalidRequest: an absolute path, a ``.``/``..`` part, an empty part, or an
            empty file path; nothing is sent to the forge.
    """
    clean = (path or "").strip("/")
    parts = clean.split("/") if clean else []
    bad = (
        (path or "").startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or (not parts and not directory)
        or "\x00" in clean
    )
    if bad:
        what = "a directory" if directory else "a file"
        raise InvalidRequest(
            f"{forge}: {path!r} is not {what} path inside the repository",
            forge=forge,
            operation=f"checking path {path!r}",
        )
    return clean


def file_text(data: bytes, path: str, ref: str, *, forge: str) -> str:
    """Decode a file's bytes as UTF-8 text.

    Raises:
        InvalidRequest: the file is binary (not valid UTF-8).
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        operation = f"reading {path} at {ref}"
        raise InvalidRequest(
            f"{operation} on {forge}: the file is binary, not UTF-8 text",
            forge=forge,
            operation=operation,
        ) from None


ISSUE_STATES = frozenset({"open", "closed", "all"})
