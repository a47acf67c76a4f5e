"""Protected paths: where a proposed push may not land, and what needs infra approval.

For each file a :class:`bot.actions.PushCommit` changes, in this order:

1. **outside the repository** (absolute, ``..``, ``.git/``, control characters, a
   symbolic link or submodule on the way in the base tree) → deny. The git workspace
   refuses these too; both checks stay, so neither is the only guard.
2. **deceptive names** (zero-width or bidirectional characters, look-alike letters,
   non-NFC) → deny: a reviewer would read another path than the one written.
3. ``.agentforge/`` → deny, for every role: the bot's own rules change only by a
   person's merge.
4. ``policies.deny_paths`` → deny.
5. the forge's CI files (:data:`policies.paths.CI_GLOBS`) and the repository's
   ``protected_paths`` → deny, except CI files for a role listed in ``ci_writers``.
6. CI files and ``policies.infra_paths`` (deployment) → needs approval by one of
   ``approvers.infra``, unless one of them already approved (``Snapshot.approvals``).

Globs match case-insensitively (``.GitHub/workflows/x`` is a CI file too).
"""

from __future__ import annotations

from bot.actions import Action, PushCommit
from bot.errors import UnsafePath
from policies.paths import AGENTFORGE_GLOBS, CI_GLOBS, deceptive_characters, matches, normalize_path
from policies.snapshot import Snapshot
from policies.verdict import Verdict

NAME = "protected_paths"
INFRA = "infra_approval"


def _refusal(path: str, snap: Snapshot) -> str | None:
    """Why no role may write ``path`` (None: it may be written)."""
    try:
        rel = normalize_path(path)
    except UnsafePath as exc:
        return f"{exc} (outside the repository)"
    why = deceptive_characters(rel)
    if why is not None:
        return f"{rel!r} is refused because {why}"
    config = snap.config
    if config is None:
        return f"{rel}: the repository config could not be read, so protected paths are unknown"
    if matches(rel, AGENTFORGE_GLOBS, ignore_case=True):
        return f"{rel} is AgentForge's own configuration; only a person's merge changes it"
    hit = matches(rel, config.policies.deny_paths, ignore_case=True)
    if hit is not None:
        return f"{rel} matches policies.deny_paths ({hit})"
    ci = matches(rel, CI_GLOBS, ignore_case=True)
    may_write_ci = snap.role is not None and snap.role in config.ci_writers
    if ci is not None and not may_write_ci:
        who = f"role {snap.role}" if snap.role else "a change outside a role's work"
        return f"{rel} is a CI file ({ci}); {who} may not change it (see ci_writers)"
    hit = matches(rel, config.protected_paths, ignore_case=True)
    if hit is not None and ci is None:
        return f"{rel} is a protected path ({hit}); a person must change it"
    return None


def protected_paths(action: Action, snap: Snapshot) -> Verdict:
    """Deny a push that touches a path outside the repository or a protected one."""
    if not isinstance(action, PushCommit):
        return Verdict.skip(policy=NAME)
    refusals: list[str] = []
    for changed in snap.diff:
        if changed.symlink is not None:
            refusals.append(
                f"{changed.path} goes through {changed.symlink}, a symbolic link or "
                "submodule in the repository (outside the repository)"
            )
            continue
        why = _refusal(changed.path, snap)
        if why is not None:
            refusals.append(why)
    if refusals:
        return Verdict.deny("; ".join(refusals), NAME)
    return Verdict.allow(f"{len(snap.diff)} path(s) may be changed", NAME)


def infra_approval(action: Action, snap: Snapshot) -> Verdict:
    """Hold a push to CI or deployment files until an infrastructure approver agrees."""
    if not isinstance(action, PushCommit) or snap.config is None:
        return Verdict.skip(policy=INFRA)
    globs = [*CI_GLOBS, *snap.config.policies.infra_paths]
    touched = []
    for changed in snap.diff:
        try:
            rel = normalize_path(changed.path)
        except UnsafePath:
            continue  # refused by protected_paths
        if matches(rel, globs, ignore_case=True) is not None:
            touched.append(rel)
    if not touched:
        return Verdict.skip(policy=INFRA)
    approvers = snap.infra_approvers
    lowered = {a.lower() for a in approvers}
    granted = sorted(a for a in snap.approvals if a.lower() in lowered)
    files = ", ".join(touched)
    if granted:
        return Verdict.allow(f"{files}: approved by {', '.join(granted)}", INFRA)
    if not approvers:
        # No infrastructure approvers configured: the phase's own gate and the human
        # merge are the review these files get, as for any other change.
        return Verdict.allow(
            f"{files} are CI or deployment files; approvers.infra lists no one, so the "
            "phase's gate and the merge review them",
            INFRA,
        )
    return Verdict.needs_approval(
        f"{files} are CI or deployment files: waiting for approval by one of "
        f"{', '.join(approvers)} (approvers.infra)",
        INFRA,
    )
