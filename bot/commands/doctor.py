"""``agentforge doctor``: check the configured forge connections and say what is missing.

A forge counts as configured when any of its settings is set (a token, a GitHub App,
a webhook secret, or a non-default URL). For each configured forge (or the one named
with ``--forge``) it checks that the credentials are set, that the forge accepts them,
that the token has the scopes the bot needs, optionally that it may write to
``--repo``, and whether a webhook secret is configured. Every finding is one line
(``ok``, ``warn`` or ``missing``); the exit status is 1 when anything is missing for a
forge that was set up, 2 when no forge is configured at all (nothing to check), else 0.
A forge that was not set up is never reported: a GitHub-only installation does not
fail because GitLab has no token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from bot.errors import ForgeError, SettingsError, Unavailable
from bot.forges.resilience import RetryPolicy
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from bot.forges.github import GitHubForge

GITHUB_SCOPES = ({"repo"}, "repo")
GITLAB_SCOPES = ({"api", "write_repository"}, "api, write_repository")
GITHUB_USEFUL = frozenset({"repo", "workflow", "read:org", "read:user", "user:email"})
"""Classic-token scopes the bot can use (``workflow`` lets a devops role push CI files)."""
GITLAB_USEFUL = frozenset({"api", "write_repository", "read_api", "read_repository", "read_user"})
DEVELOPER = 30


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    forge: str
    level: str  # "ok", "warn" or "missing"
    text: str

    def line(self) -> str:
        """The finding as printed."""
        return f"{self.level:>7}  {self.forge}: {self.text}"


def _has_credentials(settings: Settings, forge: str) -> bool:
    if forge == "github":
        return bool(settings.github_token or settings.github_app_id)
    return bool(settings.gitlab_token)


def _set_up(settings: Settings, forge: str) -> bool:
    """Whether the user configured anything for ``forge`` (credentials, secret or URL)."""
    defaults = Settings.model_fields
    if forge == "github":
        return bool(
            _has_credentials(settings, "github")
            or settings.github_app_private_key
            or settings.github_app_private_key_path
            or settings.github_app_installation_id
            or settings.github_webhook_secret
            or settings.github_url != defaults["github_url"].default
        )
    return bool(
        _has_credentials(settings, "gitlab")
        or settings.gitlab_webhook_token
        or settings.gitlab_signing_token
        or settings.gitlab_url != defaults["gitlab_url"].default
    )


def configured_forges(settings: Settings) -> list[str]:
    """The forges the user set something up for, in a fixed order."""
    return [name for name in ("github", "gitlab") if _set_up(settings, name)]


def _secret_finding(
    add: Callable[[str, str], None], has_secret: bool, insecure: bool, variable: str
) -> None:
    """The webhook secret line.

    A missing secret is a warning, not a failure: `agentforge run` in CI needs none,
    and `agentforge serve` itself refuses to start without one, naming the variable.
    """
    if has_secret:
        add("ok", "webhook secret set")
    elif insecure:
        add("warn", "no webhook secret: unsigned webhooks are accepted (development only)")
    else:
        add(
            "warn",
            f"{variable} is not set: `agentforge serve` refuses this forge's webhooks "
            "(not needed for `agentforge run` in CI)",
        )


def _connect(add: Callable[[str, str], None], make: Callable[[], Any], url: str) -> Any:
    """Build the adapter and ask who it is; ``(forge, scopes)``, or None after a finding."""
    try:
        forge = make()
        login, scopes = forge.check_credentials()
    except Unavailable as exc:
        # No answer at all says nothing about the token: name the address instead.
        add("missing", f"cannot reach {url} (check the URL and the network): {exc}")
        return None
    except (ForgeError, SettingsError) as exc:
        add("missing", f"credentials rejected: {exc}")
        return None
    add("ok", f"authenticated as {login} at {url}")
    return forge, scopes


def excess_scopes(forge: str, scopes: set[str]) -> set[str]:
    """Scopes of a ``forge`` token that the bot never uses (a leak would expose them)."""
    return set(scopes) - (GITHUB_USEFUL if forge == "github" else GITLAB_USEFUL)


def _excess_text(excess: set[str]) -> str:
    return (
        f"the token has more scope than the bot needs: {', '.join(sorted(excess))} "
        "(create one with only what `agentforge doctor` requires)"
    )


def _scope_findings(
    add: Callable[[str, str], None],
    scopes: set[str],
    required: tuple[set[str], str],
    forge: str = "github",
) -> None:
    needed, names = required
    lacking = needed - scopes
    if lacking:
        add("missing", f"token scope(s) {', '.join(sorted(lacking))} (needs: {names})")
    else:
        add("ok", f"token scopes: {', '.join(sorted(scopes)) or 'none'}")
    excess = excess_scopes(forge, scopes)
    if excess:
        add("warn", _excess_text(excess))


def token_scope_warnings(settings: Settings, *, timeout: float = 5.0) -> list[str]:
    """Start-up warnings (``serve``, ``run``) for tokens with more scope than needed.

    Only classic tokens report scopes; a forge that cannot be asked is skipped (the
    bot's first real call reports that problem with its context).
    """
    from bot.forges.github import GitHubForge
    from bot.forges.gitlab import GitLabForge

    policy = RetryPolicy(attempts=1, backoff_base=0.1, max_total_wait=timeout, timeout=timeout)
    makers = {
        "github": (
            settings.github_token,
            lambda: GitHubForge.from_settings(settings, policy=policy),
        ),
        "gitlab": (
            settings.gitlab_token,
            lambda: GitLabForge.from_settings(settings, policy=policy),
        ),
    }
    out: list[str] = []
    for name, (token, make) in makers.items():
        if not token:
            continue
        try:
            _login, scopes = make().check_credentials()
        except (ForgeError, SettingsError):
            continue
        excess = excess_scopes(name, scopes or set())
        if excess:
            out.append(f"{name}: {_excess_text(excess)}")
    return out


def check_github(settings: Settings, repo: str | None, policy: RetryPolicy) -> list[Finding]:
    """Findings for the GitHub connection."""
    from bot.forges.github import GitHubForge

    out: list[Finding] = []

    def add(level: str, text: str) -> None:
        out.append(Finding("github", level, text))

    _secret_finding(
        add,
        bool(settings.github_webhook_secret),
        settings.insecure_no_webhook_secret,
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET",
    )
    app_parts = {
        "AGENTFORGE_GITHUB_APP_ID": settings.github_app_id,
        "AGENTFORGE_GITHUB_APP_PRIVATE_KEY(_PATH)": settings.github_app_private_key
        or settings.github_app_private_key_path,
        "AGENTFORGE_GITHUB_APP_INSTALLATION_ID": settings.github_app_installation_id,
    }
    if settings.github_app_id and not all(app_parts.values()):
        unset = [name for name, value in app_parts.items() if not value]
        add("missing", f"GitHub App configured partly: {', '.join(unset)} not set")
        return out
    if not _has_credentials(settings, "github"):
        add(
            "missing",
            "AGENTFORGE_GITHUB_TOKEN is not set (nor a GitHub App): the bot cannot write",
        )
        return out
    connected = _connect(
        add, lambda: GitHubForge.from_settings(settings, policy=policy), settings.github_url
    )
    if connected is None:
        return out
    forge, scopes = connected
    if scopes is not None:
        _scope_findings(add, scopes, GITHUB_SCOPES)
    if repo:
        out.extend(_github_repo(forge, repo))
    if not settings.bot_login and forge.uses_app:
        add("warn", "AGENTFORGE_BOT_LOGIN is not set: set it to '<app-slug>[bot]'")
    return out


def _github_repo(forge: GitHubForge, repo: str) -> list[Finding]:
    try:
        flags = forge.repo_permissions(repo)
    except ForgeError as exc:
        return [Finding("github", "missing", f"cannot read {repo}: {exc}")]
    if flags is None:
        return [Finding("github", "ok", f"{repo} is reachable")]
    if not flags.get("push"):
        return [Finding("github", "missing", f"write (push) permission on {repo}")]
    return [Finding("github", "ok", f"may push to {repo}")]


def check_gitlab(settings: Settings, repo: str | None, policy: RetryPolicy) -> list[Finding]:
    """Findings for the GitLab connection."""
    from bot.forges.gitlab import GitLabForge

    out: list[Finding] = []

    def add(level: str, text: str) -> None:
        out.append(Finding("gitlab", level, text))

    _secret_finding(
        add,
        bool(settings.gitlab_webhook_token or settings.gitlab_signing_token),
        settings.insecure_no_webhook_secret,
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN (or AGENTFORGE_GITLAB_SIGNING_TOKEN)",
    )
    if not _has_credentials(settings, "gitlab"):
        add("missing", "AGENTFORGE_GITLAB_TOKEN is not set: the bot cannot write")
        return out
    connected = _connect(
        add, lambda: GitLabForge.from_settings(settings, policy=policy), settings.gitlab_url
    )
    if connected is None:
        return out
    forge, scopes = connected
    if scopes is None:
        add("warn", "the instance does not report the token's scopes")
    else:
        _scope_findings(add, scopes, GITLAB_SCOPES, "gitlab")
    if repo:
        try:
            level = forge.access_level(repo)
        except ForgeError as exc:
            add("missing", f"cannot read {repo}: {exc}")
        else:
            if level < DEVELOPER:
                add("missing", f"Developer (30) access to {repo} (has {level})")
            else:
                add("ok", f"access level {level} on {repo}")
    return out


@click.command("doctor")
@click.option(
    "--forge",
    "forge_name",
    type=click.Choice(["github", "gitlab"]),
    default=None,
    help="Check only this forge (default: every forge with any setting configured).",
)
@click.option("--repo", default=None, help="Also check write access to this repository.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per request.")
def doctor(forge_name: str | None, repo: str | None, timeout: float) -> None:
    """Check the configured forges' connections and permissions; print what is missing.

    Exit status: 0 all good, 1 something set up is missing or broken, 2 no forge is
    configured.
    """
    settings = load_settings()
    policy = RetryPolicy(attempts=2, backoff_base=0.5, max_total_wait=5.0, timeout=timeout)
    names = [forge_name] if forge_name is not None else configured_forges(settings)
    if not names:
        click.echo(
            "no forge is configured: set AGENTFORGE_GITHUB_TOKEN (or a GitHub App: "
            "AGENTFORGE_GITHUB_APP_ID, AGENTFORGE_GITHUB_APP_PRIVATE_KEY_PATH, "
            "AGENTFORGE_GITHUB_APP_INSTALLATION_ID) for GitHub, or AGENTFORGE_GITLAB_TOKEN "
            "for GitLab, then run `agentforge doctor` again",
            err=True,
        )
        raise click.exceptions.Exit(2)
    findings: list[Finding] = []
    for name in names:
        check = check_github if name == "github" else check_gitlab
        findings.extend(check(settings, repo, policy))
    for finding in findings:
        click.echo(finding.line())
    missing = [f for f in findings if f.level == "missing"]
    if missing:
        click.echo(f"{len(missing)} problem(s) found", err=True)
        raise click.exceptions.Exit(1)
    click.echo("all checks passed")
