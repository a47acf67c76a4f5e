"""``config.yaml`` sections against loops and abuse: ``bots``, ``limits``, ``trust``.

Read, like the rest of ``config.yaml``, at the default branch's head, so an MR cannot
loosen them for itself. What each key does: docs/security.md ("Loops and abuse").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.repoconfig.permissions import PermissionName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotsConfig(_Strict):
    """``bots:``: other bots whose events the bot handles.

    The bot never acts on its own events (its login, whatever kind of token it uses).
    Other bots (GitHub ``[bot]`` and ``Bot`` accounts, GitLab bot users and project or
    group access-token users) are ignored unless their login is in ``allow``. An
    allowed bot is handled like a person: it still needs the permission or approver
    status each command asks for.
    """

    allow: list[str] = Field(
        default_factory=list,
        description="Logins of other bots whose events are handled (case-insensitive), "
        "e.g. renovate[bot].",
    )

    @field_validator("allow")
    @classmethod
    def _logins(cls, value: list[str]) -> list[str]:
        for login in value:
            if not login.strip() or any(ch.isspace() for ch in login):
                raise ValueError(f"bot login {login!r} must be one word")
        return value

    def allows(self, login: str) -> bool:
        """Whether ``login`` is an allowlisted bot."""
        return login.lower() in {name.lower() for name in self.allow}


class LimitsConfig(_Strict):
    """``limits:``: how often runs may start, and how often a refusal is answered.

    Counted in the bot's records (DuckDB), so a restart does not reset them. A start
    over a limit gets one reply that names the limit and when to retry; no run starts.
    ``0`` turns a limit off.
    """

    runs_per_repo: int = Field(
        default=20,
        ge=0,
        le=10_000,
        description="New runs per window in this repository (0: no limit).",
    )
    runs_per_actor: int = Field(
        default=5,
        ge=0,
        le=10_000,
        description="New runs per window started by one person (0: no limit).",
    )
    window_minutes: int = Field(
        default=60, ge=1, le=10_080, description="The window the run limits count in."
    )
    refusal_reply_minutes: int = Field(
        default=60,
        ge=0,
        le=10_080,
        description="At most one reply to refused commands per person per issue or MR "
        "in this many minutes (0: answer every refusal).",
    )


class TrustConfig(_Strict):
    """``trust:``: who starts runs without a trusted actor's go-ahead.

    A run whose starter has less than ``min_permission`` (GitHub ``triage``, GitLab
    Reporter by default) waits: the bot replies once, and the run starts when an
    approver comments ``/agentforge ok-to-run``. A failed permission lookup counts as
    below.
    """

    min_permission: PermissionName = Field(
        default=PermissionName.TRIAGE,
        description="Least permission of a run's starter for it to start without "
        "`/agentforge ok-to-run` (GitLab Reporter = triage).",
    )
