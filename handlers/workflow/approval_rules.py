"""What a phase's ``human`` and ``mr_approval`` gates need, and who may give it.

The rules of one phase (:class:`PhaseRules`, from ``approvers`` in config.yaml and the
phase's own ``approvers`` in the workflow file):

- **eligible**: an approver under :class:`handlers.workflow.approvers.Approvers`
  (listed, or enough forge permission), looked up again in every job, so someone who
  lost access no longer counts, even for an approval they gave earlier;
- **required**: so many *distinct* eligible approvers at the MR's current head;
- **code owners** (``codeowners: true`` and a CODEOWNERS file on the default branch):
  for every line owning a path the phase changed, enough of its owners among them
  (a team owner through the forge's team membership; a lookup that fails counts as
  "not an owner" and the status comment says why);
- **self-approval**: the run's starter counts only under ``self_approval: allowed``,
  or ``docs_only`` when every path the phase changed is a documentation path.

Which paths a phase changed is read from git: ``base...head`` from the head the
previous phase ended at (the default branch for the first phase) to the current head.
CODEOWNERS, like the rest of the rules, is read at the default branch's head, so a
merge request that edits it does not change who must approve it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import CodeOwnersError, ForgeError, RateLimited, Unavailable, WorkspaceError
from bot.forge import Forge, Permission
from bot.repoconfig import AgentForgeConfig
from bot.repoconfig.schema import SelfApproval
from handlers.services import RepoReader
from handlers.workflow.approvers import Approvers, Verdict
from handlers.workflow.state import PhaseRun, RunData
from policies import codeowners
from policies.paths import matches

_TRANSIENT = (Unavailable, RateLimited)
"""Look-up errors a retry cures: raised to the queue (the job runs again) instead of
being shown as a reason an approval does not count."""

_ROLE_PERMISSION = {
    "developer": Permission.WRITE,
    "maintainer": Permission.MAINTAIN,
    "owner": Permission.ADMIN,
}


@dataclass(frozen=True)
class PhaseRules:
    """The approval rules of one phase.

    Attributes:
        required: Distinct eligible approvers needed at the head.
        codeowners: Whether CODEOWNERS owners of the changed paths must approve.
        self_approval: Whether the run's starter may approve.
        doc_paths: Globs of documentation paths (``docs_only``).
    """

    required: int = 1
    codeowners: bool = True
    self_approval: SelfApproval = SelfApproval.DOCS_ONLY
    doc_paths: tuple[str, ...] = ()


def rules_for(config: AgentForgeConfig, phase: str) -> PhaseRules:
    """The rules of ``phase``: its workflow entry's ``approvers`` over config.yaml's."""
    base = config.config.approvers
    own = config.workflow.phase(phase)
    over = own.approvers if own is not None else None
    return PhaseRules(
        required=(over.required if over and over.required is not None else base.required),
        codeowners=(over.codeowners if over and over.codeowners is not None else base.codeowners),
        self_approval=(
            over.self_approval if over and over.self_approval is not None else base.self_approval
        ),
        doc_paths=tuple(base.doc_paths),
    )


@dataclass
class Tally:
    """How far a gate's approvals go.

    Attributes:
        counted: The distinct approvers who count, in order.
        required: How many are needed.
        owners_missing: Code-owner requirements not met, in words.
        problems: Why the rules could not be checked (a broken CODEOWNERS...).
        ignored: Approvals that do not count, each with why.
    """

    counted: list[str] = field(default_factory=list)
    required: int = 1
    owners_missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Enough approvers, every code-owner line met, nothing unreadable."""
        return len(self.counted) >= self.required and not self.owners_missing and not self.problems

    def pending(self, single: str, many: str, head: str) -> list[str]:
        """What the gate still waits for, one line each (for the status comment).

        Args:
            single: The wait when one approval is needed (``an approver's `/approve```).
            many: What counts when more are (``/approve``), for "1 of 2 approvals (...)".
            head: The head, as shown.
        """
        out = list(self.problems)
        if len(self.counted) < self.required:
            if self.required == 1:
                out.append(f"{single} at {head}")
            else:
                out.append(f"{len(self.counted)} of {self.required} approvals ({many} at {head})")
        out += [f"approval by {item}" for item in self.owners_missing]
        out += [f"not counted: {item}" for item in self.ignored]
        return out


class ApprovalRules:
    """The rules of one repository for one job (lookups are cached for the job).

    Args:
        approvers: Who is an approver (permission and list; cached per job).
        forge: Team membership look-ups.
        reader: The phase's changed files and the CODEOWNERS file.
        config: The repository's config (default branch).
        repo: The repository's full name.
        base_branch: The default branch (where CODEOWNERS is read).
    """

    def __init__(
        self,
        approvers: Approvers,
        forge: Forge,
        reader: RepoReader,
        config: AgentForgeConfig,
        *,
        repo: str,
        base_branch: str,
    ) -> None:
        self.approvers = approvers
        self.forge = forge
        self.reader = reader
        self.config = config
        self.repo = repo
        self.base_branch = base_branch
        self._owners_file: tuple[codeowners.CodeOwnersFile | None, str | None] | None = None
        self._changed: dict[tuple[str, str | None], tuple[list[str], str | None]] = {}
        self._teams: dict[tuple[str, str], tuple[bool, str | None]] = {}

    # --- facts -------------------------------------------------------------------------

    def codeowners_file(self, data: RunData) -> tuple[codeowners.CodeOwnersFile | None, str | None]:
        """The default branch's CODEOWNERS (None when there is none) and a problem."""
        if self._owners_file is None:
            self._owners_file = self._read_codeowners(self.base_branch or data.base)
        return self._owners_file

    def _read_codeowners(self, branch: str) -> tuple[codeowners.CodeOwnersFile | None, str | None]:
        forge = self.forge.name
        for path in codeowners.LOCATIONS.get(forge, codeowners.LOCATIONS["local"]):
            try:
                text = self.reader.file_at(self.repo, branch, path)
            except _TRANSIENT:
                raise
            except ForgeError as exc:
                return None, f"reading {path} on {branch} failed ({exc})"
            if text is None:
                continue
            try:
                return codeowners.parse(text, path=path, syntax=codeowners.syntax_for(forge)), None
            except CodeOwnersError as exc:
                return None, (
                    f"a readable CODEOWNERS: {exc} (fix it on {branch}; until then "
                    "no approval passes this gate)"
                )
        return None, None

    def changed_paths(
        self, data: RunData, phase: PhaseRun, head: str | None
    ) -> tuple[list[str], str | None]:
        """``(paths the phase changed, problem)``: ``base...head`` from where the previous
        phase ended (the run's base branch for the first phase)."""
        if head is None:
            return [], None
        base = data.base
        for earlier in data.phases[: data.phases.index(phase)]:
            if earlier.head_sha:
                base = earlier.head_sha
        key = (f"{phase.name}:{phase.round}:{base}", head)
        if key not in self._changed:
            try:
                self._changed[key] = (self.reader.changed_files(data.repo, base, head), None)
            except _TRANSIENT:
                raise
            except (ForgeError, WorkspaceError) as exc:
                self._changed[key] = ([], f"the files this phase changed could not be read ({exc})")
        return self._changed[key]

    # --- who may approve -----------------------------------------------------------------

    def may_approve(self, data: RunData, phase: PhaseRun, login: str, head: str | None) -> Verdict:
        """Whether ``login``'s approval of ``phase`` at ``head`` counts (with why not)."""
        verdict = self.approvers.check(login)
        if not verdict.ok:
            return verdict
        if data.started_by and login.lower() == data.started_by.lower():
            why = self._self_approval_refusal(data, phase, head)
            if why is not None:
                return Verdict(False, why)
        return verdict

    def _self_approval_refusal(
        self, data: RunData, phase: PhaseRun, head: str | None
    ) -> str | None:
        rules = rules_for(self.config, phase.name)
        if rules.self_approval is SelfApproval.ALLOWED:
            return None
        if rules.self_approval is SelfApproval.NEVER:
            return (
                f"@{data.started_by} started this run, and `approvers.self_approval: never` "
                "means someone else approves its phases"
            )
        paths, problem = self.changed_paths(data, phase, head)
        if problem is not None:
            return f"{problem}, so it is unknown whether it changed code"
        code = [p for p in paths if matches(p, list(rules.doc_paths)) is None]
        if not code:
            return None
        shown = ", ".join(f"`{p}`" for p in code[:5]) + (" ..." if len(code) > 5 else "")
        return (
            f"@{data.started_by} started this run and **{phase.name}** changed code "
            f"({shown}); with `approvers.self_approval: docs_only` someone else approves it"
        )

    def describe(self, data: RunData | None = None, phase: PhaseRun | None = None) -> str:
        """Who may approve, in words: the permission rule, the list, the code owners."""
        who = self.approvers.describe()
        if data is None or phase is None or not rules_for(self.config, phase.name).codeowners:
            return who
        file, _problem = self.codeowners_file(data)
        if file is None:
            return who
        paths, _ = self.changed_paths(data, phase, phase.head_sha)
        needs = [r.describe() for r in codeowners.requirements(file, paths) if r.approvals]
        if needs:
            who += "; and this phase also needs " + "; ".join(needs)
        return who

    # --- counting ------------------------------------------------------------------------

    def tally(self, data: RunData, phase: PhaseRun, head: str | None, logins: list[str]) -> Tally:
        """Count the approvals ``logins`` gave ``phase`` at ``head`` under its rules."""
        rules = rules_for(self.config, phase.name)
        tally = Tally(required=rules.required)
        seen: set[str] = set()
        for login in logins:
            if login.lower() in seen:
                continue
            seen.add(login.lower())
            verdict = self.may_approve(data, phase, login, head)
            if verdict.ok:
                tally.counted.append(login)
            else:
                tally.ignored.append(f"@{login} ({verdict.reason})")
        if rules.codeowners:
            self._owners(data, phase, head, tally)
        return tally

    def _owners(self, data: RunData, phase: PhaseRun, head: str | None, tally: Tally) -> None:
        file, problem = self.codeowners_file(data)
        if problem is not None:
            tally.problems.append(problem)
            return
        if file is None:
            return
        paths, problem = self.changed_paths(data, phase, head)
        if problem is not None:
            tally.problems.append(problem)
            return
        for requirement in codeowners.requirements(file, paths):
            if not requirement.approvals:
                continue  # an optional GitLab section: shown on GitLab, never required
            owners, why = [], []
            for login in tally.counted:
                owns, reason = self.owns(requirement.owners, login)
                if owns:
                    owners.append(login)
                elif reason:
                    why.append(reason)
            if len(owners) < requirement.approvals:
                got = f" ({len(owners)} so far)" if owners else ""
                note = f"; {'; '.join(why)}" if why else ""
                tally.owners_missing.append(f"{requirement.describe()}{got}{note}")

    def owns(self, owners: tuple[codeowners.Owner, ...], login: str) -> tuple[bool, str | None]:
        """Whether ``login`` is one of ``owners`` (and a failed look-up's reason)."""
        reasons: list[str] = []
        for owner in owners:
            if owner.kind in ("user", "team") and owner.name.lower() == login.lower():
                return True, None
            if owner.kind == "role":
                needed = _ROLE_PERMISSION[owner.name]
                try:
                    if self.forge.get_permission(self.repo, login) >= needed:
                        return True, None
                except _TRANSIENT:
                    raise
                except ForgeError as exc:
                    reasons.append(f"the permission of @{login} could not be read ({exc})")
                continue
            team_like = owner.kind == "team" or self.forge.name != "github"
            if owner.kind == "email" or not team_like:
                continue
            member, reason = self._member(owner, login)
            if member:
                return True, None
            if reason:
                reasons.append(reason)
        return False, "; ".join(reasons) or None

    def _member(self, owner: codeowners.Owner, login: str) -> tuple[bool, str | None]:
        key = (owner.name.lower(), login.lower())
        if key not in self._teams:
            try:
                self._teams[key] = (self.forge.is_team_member(self.repo, owner.name, login), None)
            except _TRANSIENT:
                raise
            except ForgeError as exc:
                if owner.kind == "user":
                    # GitLab's @name names a user or a group: no such group means a user
                    # who is someone else, not a failed look-up.
                    self._teams[key] = (False, None)
                else:
                    self._teams[key] = (
                        False,
                        f"team {owner} could not be read, so @{login} does not count as "
                        f"its member ({type(exc).__name__}: {exc})",
                    )
        return self._teams[key]
