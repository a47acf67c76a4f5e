"""The local forge's bare repositories: seeding, push hooks, refs and merges.

Each project is a bare repository that plain ``git clone``/``git push`` use directly.
A ``post-receive`` hook appends one tab-separated line per updated ref
(``old new ref pusher project``) to the forge's spool file; the forge turns those
lines into push events the next time it is used, so no server has to run. Pushes
that run no hooks (libgit2 — the bot's own workspace — or a direct ref update) are
caught by comparing the refs with the last snapshot.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from bot.errors import Conflict, GitError, InvalidRequest

ZERO_SHA = "0" * 40
SPOOL_NAME = "push-spool.tsv"

_HOOK = """#!/bin/sh
# Installed by AgentForge's local forge: records each pushed ref so the forge can
# emit push events. Safe to keep; it only appends to the spool file.
user="${{AGENTFORGE_LOCAL_USER:-${{USER:-$(id -un 2>/dev/null)}}}}"
user=$(printf '%s' "$user" | tr -d '\\t\\r\\n')
while read -r old new ref; do
  printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$old" "$new" "$ref" "$user" {project} >> {spool}
done
"""


def install_hook(bare: Path, spool: Path, project: str) -> None:
    """Write the ``post-receive`` hook of ``bare`` (idempotent)."""
    hook = bare / "hooks" / "post-receive"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        _HOOK.format(project=shlex.quote(project), spool=shlex.quote(str(spool))),
        encoding="utf-8",
    )
    hook.chmod(0o755)


def init_bare(bare: Path, default_branch: str = "main") -> pygit2.Repository:
    """Create an empty bare repository whose HEAD names ``default_branch``."""
    try:
        return pygit2.init_repository(
            str(bare), bare=True, initial_head=f"refs/heads/{default_branch}"
        )
    except pygit2.GitError as exc:
        raise GitError(f"creating bare repository {bare}: {exc}") from exc


def seed_from_git(bare: pygit2.Repository, source: Path) -> str:
    """Copy every branch and tag of the git repository at ``source``; returns its default.

    Raises:
        InvalidRequest: the source has no commits.
        GitError: the source cannot be read.
    """
    try:
        src = pygit2.Repository(str(source))
    except pygit2.GitError as exc:
        raise GitError(f"opening source repository {source}: {exc}") from exc
    if not list(src.branches.local):
        raise InvalidRequest(f"source repository {source} has no branches to copy", forge="local")
    default = None
    if not src.head_is_unborn and not src.head_is_detached:
        default = src.head.shorthand
    default = default or sorted(src.branches.local)[0]
    try:
        remote = bare.remotes.create_anonymous(str(Path(source).resolve()))
        remote.fetch(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"])
        bare.set_head(f"refs/heads/{default}")
    except pygit2.GitError as exc:
        raise GitError(f"copying branches from {source}: {exc}") from exc
    return default


def seed_from_dir(
    bare: pygit2.Repository, source: Path, branch: str, author: pygit2.Signature
) -> str:
    """Commit every file under ``source`` as the first commit of ``branch``."""
    source = Path(source)
    index = pygit2.Index()
    try:
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source).as_posix()
            if ".git" in path.relative_to(source).parts:
                continue
            if path.is_symlink():
                oid = bare.create_blob(str(path.readlink()).encode())
                index.add(pygit2.IndexEntry(rel, oid, FileMode.LINK))
            elif path.is_file():
                oid = bare.create_blob(path.read_bytes())
                mode = FileMode.BLOB_EXECUTABLE if path.stat().st_mode & 0o111 else FileMode.BLOB
                index.add(pygit2.IndexEntry(rel, oid, mode))
        tree = index.write_tree(bare)
        oid = bare.create_commit(
            f"refs/heads/{branch}", author, author, "Initial import\n", tree, []
        )
        bare.set_head(f"refs/heads/{branch}")
    except (OSError, pygit2.GitError) as exc:
        raise GitError(f"importing directory {source}: {exc}") from exc
    return str(oid)


def default_branch(bare: pygit2.Repository) -> str:
    """The branch HEAD names (even before it has commits)."""
    target = bare.references["HEAD"].target
    return str(target).removeprefix("refs/heads/")


def read_refs(bare: pygit2.Repository) -> dict[str, str]:
    """Every branch and tag ref with the commit it points at."""
    out = {}
    for name in bare.references:
        if name.startswith(("refs/heads/", "refs/tags/")):
            ref = bare.references[name].resolve()
            out[name] = str(ref.target)
    return out


def branch_sha(bare: pygit2.Repository, branch: str) -> str | None:
    """The commit at ``branch``, or None if there is no such branch."""
    ref = bare.references.get(f"refs/heads/{branch}")
    return str(ref.resolve().target) if ref is not None else None


def has_commit(bare: pygit2.Repository, sha: str) -> bool:
    """Whether ``sha`` names a commit in the repository."""
    try:
        return isinstance(bare[sha], pygit2.Commit)
    except (KeyError, ValueError):
        return False


def merge_branch(
    bare: pygit2.Repository,
    head: str,
    base: str,
    *,
    message: str,
    committer: pygit2.Signature,
    fast_forward: bool = True,
) -> tuple[str, bool]:
    """Merge ``head`` into ``base`` inside the bare repository.

    Returns:
        The new tip of ``base`` and whether it was a fast-forward.

    Raises:
        InvalidRequest: a branch is missing, or nothing to merge.
        Conflict: the branches conflict.
    """
    doing = f"merging {head} into {base}"
    head_sha, base_sha = branch_sha(bare, head), branch_sha(bare, base)
    if head_sha is None or base_sha is None:
        missing = head if head_sha is None else base
        raise InvalidRequest(f"{doing}: branch {missing} does not exist", forge="local")
    base_ref = bare.references[f"refs/heads/{base}"]
    if head_sha == base_sha or bare.descendant_of(base_sha, head_sha):
        raise InvalidRequest(f"{doing}: {base} already contains {head}", forge="local")
    if fast_forward and bare.descendant_of(head_sha, base_sha):
        base_ref.set_target(head_sha, f"merge {head}: fast-forward")
        return head_sha, True
    index = bare.merge_commits(base_sha, head_sha)
    if index.conflicts is not None:
        paths = sorted({(e[1] or e[2] or e[0]).path for e in index.conflicts})
        raise Conflict(f"{doing}: conflicts in {', '.join(paths)}", forge="local", operation=doing)
    tree = index.write_tree(bare)
    oid = bare.create_commit(None, committer, committer, message, tree, [base_sha, head_sha])
    base_ref.set_target(oid, f"merge {head}")
    return str(oid), False
