"""``agentforge doctor`` against the forge fakes."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.unit.forges.conftest import GH_TOKEN, GL_TOKEN


def run(args: list[str], env: dict[str, str]):
    # Start from a clean slate: no AGENTFORGE_* variable of the developer's shell leaks in.
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AGENTFORGE_")}
    clean.update(env)
    return CliRunner().invoke(cli, ["doctor", *args], env=clean)


def lines(result, level: str) -> list[str]:
    return [ln for ln in result.output.splitlines() if ln.strip().startswith(level)]


def test_nothing_configured_says_so_and_names_the_token_variables():
    result = run([], {})
    assert result.exit_code == 2  # nothing set up: nothing broken, nothing checked
    assert lines(result, "missing") == []
    assert "no forge is configured" in result.stderr
    assert "AGENTFORGE_GITHUB_TOKEN" in result.stderr
    assert "AGENTFORGE_GITLAB_TOKEN" in result.stderr


def test_github_only_user_is_not_failed_for_gitlab(github_fake):
    # A GitHub token and nothing else: GitLab is not set up, so it is not checked.
    env = {"AGENTFORGE_GITHUB_TOKEN": GH_TOKEN, "AGENTFORGE_GITHUB_URL": github_fake.url}
    result = run([], env)
    assert result.exit_code == 0, result.output
    assert "gitlab" not in result.output.lower()
    assert lines(result, "missing") == []
    # No webhook secret is a warning (CI needs none), naming the variable.
    assert any("AGENTFORGE_GITHUB_WEBHOOK_SECRET" in ln for ln in lines(result, "warn"))


def test_github_webhook_secret_alone_counts_as_set_up():
    # The README's serve one-liner sets only the GitHub secret: GitHub is checked (its
    # token is missing: nothing can be written), GitLab is not mentioned.
    result = run([], {"AGENTFORGE_GITHUB_WEBHOOK_SECRET": "s3cret-s3cret-s3cret-s3cret"})
    assert result.exit_code == 1
    missing = lines(result, "missing")
    assert any("AGENTFORGE_GITHUB_TOKEN" in ln for ln in missing)
    assert "gitlab" not in result.output.lower()


def test_gitlab_only_user_is_not_failed_for_github(gitlab_fake):
    env = {
        "AGENTFORGE_GITLAB_TOKEN": GL_TOKEN,
        "AGENTFORGE_GITLAB_URL": gitlab_fake.url,
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN": "hook",
    }
    result = run([], env)
    assert result.exit_code == 0, result.output
    assert "github" not in result.output.lower()


def test_github_all_good(github_fake):
    env = {
        "AGENTFORGE_GITHUB_TOKEN": GH_TOKEN,
        "AGENTFORGE_GITHUB_URL": github_fake.url,
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": "s3cret",
    }
    result = run(["--repo", "acme/app"], env)
    assert result.exit_code == 0, result.output
    assert lines(result, "missing") == []
    assert len(lines(result, "ok")) == 4  # secret, identity, scopes, push access
    assert GH_TOKEN not in result.output
    assert github_fake.unexpected == []


def test_github_missing_secret_scope_and_push(github_fake):
    github_fake.add_token("ghp_narrow", "reader", scopes="read:user")
    github_fake.grant("acme/app", "reader", "read")
    env = {"AGENTFORGE_GITHUB_TOKEN": "ghp_narrow", "AGENTFORGE_GITHUB_URL": github_fake.url}
    result = run(["--forge", "github", "--repo", "acme/app"], env)
    assert result.exit_code == 1
    missing = "\n".join(lines(result, "missing"))
    assert "repo" in missing
    assert "push" in missing
    assert any("AGENTFORGE_GITHUB_WEBHOOK_SECRET" in ln for ln in lines(result, "warn"))


def test_github_rejected_token(github_fake):
    env = {"AGENTFORGE_GITHUB_TOKEN": "ghp_expired", "AGENTFORGE_GITHUB_URL": github_fake.url}
    result = run(["--forge", "github"], env)
    assert result.exit_code == 1
    assert any("credentials rejected" in ln for ln in lines(result, "missing"))
    assert "Traceback" not in result.output


def test_github_app_partly_configured():
    result = run(["--forge", "github"], {"AGENTFORGE_GITHUB_APP_ID": "12"})
    assert result.exit_code == 1
    assert any("AGENTFORGE_GITHUB_APP_INSTALLATION_ID" in ln for ln in lines(result, "missing"))


def test_gitlab_all_good(gitlab_fake):
    env = {
        "AGENTFORGE_GITLAB_TOKEN": GL_TOKEN,
        "AGENTFORGE_GITLAB_URL": gitlab_fake.url,
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN": "hook",
    }
    result = run(["--repo", "group/sub/app"], env)
    assert result.exit_code == 0, result.output
    assert lines(result, "missing") == []
    assert gitlab_fake.unexpected == []


@pytest.mark.parametrize(
    ("scopes", "level", "expect"),
    [
        (("read_api",), 30, "write_repository"),
        (("api", "write_repository"), 20, "Developer"),
    ],
)
def test_gitlab_missing_scope_or_access(gitlab_fake, scopes, level, expect):
    gitlab_fake.add_token("glpat-x", "someone", scopes=scopes)
    gitlab_fake.grant("group/sub/app", "someone", level)
    env = {
        "AGENTFORGE_GITLAB_TOKEN": "glpat-x",
        "AGENTFORGE_GITLAB_URL": gitlab_fake.url,
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN": "hook",
    }
    result = run(["--forge", "gitlab", "--repo", "group/sub/app"], env)
    assert result.exit_code == 1
    assert any(expect in ln for ln in lines(result, "missing"))


def test_gitlab_unknown_project(gitlab_fake):
    env = {
        "AGENTFORGE_GITLAB_TOKEN": GL_TOKEN,
        "AGENTFORGE_GITLAB_URL": gitlab_fake.url,
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN": "hook",
    }
    result = run(["--repo", "group/nothing"], env)
    assert result.exit_code == 1
    assert any("group/nothing" in ln for ln in lines(result, "missing"))


@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_unreachable_forge_is_not_blamed_on_the_token(forge):
    import socket

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    upper = forge.upper()
    env = {
        f"AGENTFORGE_{upper}_TOKEN": "tok-123456",
        f"AGENTFORGE_{upper}_URL": f"http://127.0.0.1:{port}",
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": "s3cret-s3cret-s3cret-s3cret",
        "AGENTFORGE_GITLAB_WEBHOOK_TOKEN": "s3cret-s3cret-s3cret-s3cret",
    }
    result = run(["--forge", forge, "--timeout", "1"], env)
    assert result.exit_code == 1
    missing = "\n".join(lines(result, "missing"))
    assert f"127.0.0.1:{port}" in missing
    assert "credentials rejected" not in missing
    assert "tok-123456" not in result.output
