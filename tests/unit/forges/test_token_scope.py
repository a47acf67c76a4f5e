"""The start-up warning for tokens with more scope than the bot needs, on the fakes.

``serve`` logs each line of :func:`bot.commands.doctor.token_scope_warnings` once at
start and ``run`` puts them in its summary; the real adapters read the scopes from
GitHub's ``X-OAuth-Scopes`` header and GitLab's ``GET /personal_access_tokens/self``.
"""

from __future__ import annotations

from bot.commands.doctor import token_scope_warnings
from bot.settings import Settings
from tests.unit.forges.conftest import GH_TOKEN, GL_TOKEN


def github_settings(fake, token: str = GH_TOKEN) -> Settings:
    return Settings(github_token=token, github_url=fake.url)


def gitlab_settings(fake, token: str = GL_TOKEN) -> Settings:
    return Settings(gitlab_token=token, gitlab_url=fake.url)


def test_a_classic_github_token_with_admin_scopes_gets_one_warning_naming_them(github_fake):
    github_fake.add_token("ghp_wide", "agentforge-bot", scopes="repo, admin:org, delete_repo")
    (warning,) = token_scope_warnings(github_settings(github_fake, "ghp_wide"))
    assert warning.startswith("github:")
    assert "admin:org" in warning and "delete_repo" in warning
    assert "repo," not in warning.split(":", 1)[1]  # the scopes it needs are not named
    assert "ghp_wide" not in warning


def test_a_github_token_with_only_what_the_bot_uses_gets_none(github_fake):
    github_fake.add_token("ghp_ok", "agentforge-bot", scopes="repo, workflow, read:org")
    assert token_scope_warnings(github_settings(github_fake, "ghp_ok")) == []


def test_a_fine_grained_github_token_reports_no_scopes_and_gets_none(github_fake):
    github_fake.add_token("github_pat_fine", "agentforge-bot", scopes=None)
    assert token_scope_warnings(github_settings(github_fake, "github_pat_fine")) == []


def test_a_gitlab_token_with_sudo_and_admin_mode_gets_one_warning(gitlab_fake):
    gitlab_fake.add_token("glpat-wide", "agentforge-bot", scopes=("api", "sudo", "admin_mode"))
    (warning,) = token_scope_warnings(gitlab_settings(gitlab_fake, "glpat-wide"))
    assert warning.startswith("gitlab:")
    assert "sudo" in warning and "admin_mode" in warning
    assert "glpat-wide" not in warning


def test_a_gitlab_token_with_the_needed_scopes_gets_none(gitlab_fake):
    assert token_scope_warnings(gitlab_settings(gitlab_fake)) == []


def test_a_rejected_token_is_left_to_the_first_real_call(github_fake, gitlab_fake):
    settings = Settings(
        github_token="ghp_unknown",
        github_url=github_fake.url,
        gitlab_token="glpat-unknown",
        gitlab_url=gitlab_fake.url,
    )
    assert token_scope_warnings(settings) == []


def test_both_forges_are_checked(github_fake, gitlab_fake):
    github_fake.add_token("ghp_wide", "agentforge-bot", scopes="repo, delete_repo")
    gitlab_fake.add_token("glpat-wide", "agentforge-bot", scopes=("api", "sudo"))
    settings = Settings(
        github_token="ghp_wide",
        github_url=github_fake.url,
        gitlab_token="glpat-wide",
        gitlab_url=gitlab_fake.url,
    )
    warnings = token_scope_warnings(settings)
    assert [w.split(":")[0] for w in warnings] == ["github", "gitlab"]
