"""Who may pass a gate: ``approvers.users`` or forge permission >= ``min_permission``.

Fail closed: when the forge cannot say what someone's permission is, they are not an
approver (and the reply says the lookup failed). The bot itself never is. The full
policy (CODEOWNERS, self-approval, required counts) comes with the policies issue;
this is the part the workflow needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import ForgeError
from bot.forge import Forge, Permission
from bot.repoconfig.schema import ApproversConfig


@dataclass(frozen=True)
class Verdict:
    """Whether someone is an approver, and why (for the reply)."""

    ok: bool
    reason: str


@dataclass
class Approvers:
    """Answers "may this login approve?" for one repository, caching forge lookups.

    Args:
        forge: Read-only forge access (``get_permission``).
        repo: Repository full name.
        config: The repository's ``approvers`` section (from the default branch).
        bot_login: The bot's own login (never an approver).
    """

    forge: Forge
    repo: str
    config: ApproversConfig
    bot_login: str | None = None
    _cache: dict[str, Verdict] = field(default_factory=dict)

    def describe(self) -> str:
        """Who may approve, in words."""
        who = f"people with **{self.config.min_permission.value}** permission or more"
        if self.config.users:
            listed = ", ".join(f"@{u}" for u in self.config.users)
            who += f", and {listed}"
        return who

    def check(self, login: str) -> Verdict:
        """Whether ``login`` is an approver."""
        key = login.lower()
        if key in self._cache:
            return self._cache[key]
        verdict = self._check(login)
        self._cache[key] = verdict
        return verdict

    def _check(self, login: str) -> Verdict:
        if self.bot_login and login.lower() == self.bot_login.lower():
            return Verdict(False, "the bot cannot approve its own work")
        if login.lower() in {u.lower() for u in self.config.users}:
            return Verdict(True, "listed in approvers.users")
        wanted = Permission[self.config.min_permission.value.upper()]
        try:
            have = self.forge.get_permission(self.repo, login)
        except ForgeError as exc:
            return Verdict(False, f"the permission of @{login} could not be read ({exc})")
        if have >= wanted:
            return Verdict(True, f"has {have.name.lower()} permission")
        return Verdict(False, f"@{login} has {have.name.lower()} permission")
