"""Reading the CI job's event: GitHub Actions, GitLab CI (trigger, MR, push), flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.events import EventKind
from bot.parsers import parse_event
from bot.runner import READ_ENV, ci_settings, read_ci_event
from tests.conftest import webhook_path


def comment_payload() -> Path:
    """The recorded payload file (skips the test without the shared payloads)."""
    return webhook_path("github", "issue_comment.created.variant-1.json")


def note_payload() -> Path:
    """The recorded payload file (skips the test without the shared payloads)."""
    return webhook_path("gitlab", "note_hook.issue.go-scm.json")


def gha(**extra: str) -> dict[str, str]:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(comment_payload()),
        "GITHUB_REPOSITORY": "Codertocat/Hello-World",
        "GITHUB_RUN_ID": "1234",
    }
    env.update(extra)
    return env


def gitlab_mr(**extra: str) -> dict[str, str]:
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_PIPELINE_ID": "77",
        "CI_PROJECT_ID": "15",
        "CI_PROJECT_PATH": "acme/platform/app",
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/platform/app",
        "CI_DEFAULT_BRANCH": "main",
        "CI_MERGE_REQUEST_IID": "4",
        "CI_MERGE_REQUEST_ID": "9001",
        "CI_MERGE_REQUEST_TITLE": "Draft: login page",
        "CI_MERGE_REQUEST_LABELS": "agentforge,phase:build",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "agentforge/issue-3",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_COMMIT_SHA": "a" * 40,
        "GITLAB_USER_LOGIN": "alice",
        "GITLAB_USER_ID": "7",
    }
    env.update(extra)
    return env


def parsed(ci):
    return parse_event(ci.forge, ci.event_name, ci.body, ci.delivery_id)


def test_github_actions_event() -> None:
    ci = read_ci_event(gha())
    assert (ci.forge, ci.event_name, ci.delivery_id) == (
        "github",
        "issue_comment",
        "github-actions:1234",
    )
    assert ci.body == comment_payload().read_bytes()
    assert ci.expected_repo == "Codertocat/Hello-World"
    assert parsed(ci).kind == EventKind.ISSUE_COMMENT


@pytest.mark.parametrize("missing", ["GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"])
def test_github_missing_variable_is_named(missing) -> None:
    env = gha()
    del env[missing]
    with pytest.raises(SettingsError) as info:
        read_ci_event(env, forge="github")
    assert info.value.variable == missing
    assert missing in str(info.value)


def test_unreadable_payload_names_its_variable(tmp_path) -> None:
    with pytest.raises(SettingsError) as info:
        read_ci_event(gha(GITHUB_EVENT_PATH=str(tmp_path / "gone.json")))
    assert info.value.variable == "GITHUB_EVENT_PATH"


def test_outside_ci_without_flags_is_refused() -> None:
    with pytest.raises(SettingsError):
        read_ci_event({"HOME": "/root"})


def test_flags_override_environment(tmp_path) -> None:
    other = webhook_path("github", "issues.opened.json")
    ci = read_ci_event(gha(), event_name="issues", payload=other)
    assert ci.event_name == "issues"
    assert ci.body == other.read_bytes()
    assert ci.expected_repo is None  # a hand-given payload may come from anywhere
    assert parsed(ci).kind == EventKind.ISSUE


def test_gitlab_trigger_payload_names_its_hook(tmp_path) -> None:
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "trigger",
        "TRIGGER_PAYLOAD": str(note_payload()),
    }
    ci = read_ci_event({**env, "CI_PIPELINE_ID": "5"})
    assert (ci.forge, ci.event_name, ci.delivery_id) == ("gitlab", "Note Hook", "gitlab-ci:5")
    assert parsed(ci).kind == EventKind.ISSUE_COMMENT


def test_gitlab_trigger_without_payload_or_unknown_kind(tmp_path) -> None:
    with pytest.raises(SettingsError) as info:
        read_ci_event({"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "trigger"})
    assert info.value.variable == "TRIGGER_PAYLOAD"
    wiki = webhook_path("gitlab", "wiki_page_hook.create.docs.json")
    with pytest.raises(SettingsError) as info:
        read_ci_event({"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": str(wiki)})
    assert info.value.variable == "TRIGGER_PAYLOAD"


def test_gitlab_mr_pipeline_becomes_an_mr_event() -> None:
    ci = read_ci_event(gitlab_mr())
    assert ci.event_name == "Merge Request Hook"
    assert ci.expected_repo == "acme/platform/app"
    event = parsed(ci)
    assert (event.kind, event.action, event.number, event.is_mr) == (
        EventKind.MR,
        "updated",
        4,
        True,
    )
    assert (event.head_ref, event.base_ref, event.head_sha) == (
        "agentforge/issue-3",
        "main",
        "a" * 40,
    )
    assert event.labels == ["agentforge", "phase:build"]
    assert event.draft is True  # "Draft:" title
    assert event.actor.login == "alice"
    assert event.repo.full_name == "acme/platform/app"


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"CI_MERGE_REQUEST_IID": ""}, "CI_MERGE_REQUEST_IID"),
        ({"CI_MERGE_REQUEST_IID": "four"}, "CI_MERGE_REQUEST_IID"),
        ({"CI_PROJECT_PATH": ""}, "CI_PROJECT_PATH"),
    ],
)
def test_gitlab_mr_pipeline_bad_variables(change, variable) -> None:
    with pytest.raises(SettingsError) as info:
        read_ci_event(gitlab_mr(**change))
    assert info.value.variable == variable


def test_gitlab_push_and_tag_push() -> None:
    base = {
        "CI_PIPELINE_SOURCE": "push",
        "CI_PROJECT_PATH": "acme/app",
        "CI_COMMIT_SHA": "b" * 40,
        "CI_COMMIT_BEFORE_SHA": "c" * 40,
        "CI_COMMIT_REF_NAME": "main",
        "GITLAB_USER_LOGIN": "bob",
    }
    push = parsed(read_ci_event(base))
    assert (push.kind, push.action, push.ref, push.head_sha) == (
        EventKind.PUSH,
        "pushed",
        "refs/heads/main",
        "b" * 40,
    )
    assert push.actor.login == "bob"
    tag = read_ci_event({**base, "CI_COMMIT_TAG": "v1.0", "CI_COMMIT_BEFORE_SHA": ""})
    assert tag.event_name == "Tag Push Hook"
    event = parsed(tag)
    assert (event.ref, event.action) == ("refs/tags/v1.0", "created")
    with pytest.raises(SettingsError) as info:
        read_ci_event({**base, "CI_COMMIT_SHA": ""})
    assert info.value.variable == "CI_COMMIT_SHA"


@pytest.mark.parametrize("source", ["schedule", "web", "api", ""])
def test_other_gitlab_sources_are_ignored(source) -> None:
    ci = read_ci_event({"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": source})
    assert ci.ignored
    assert ci.body == b""


def test_gitlab_payload_flag_infers_the_hook(tmp_path) -> None:
    ci = read_ci_event({}, forge="gitlab", payload=note_payload())
    assert ci.event_name == "Note Hook"
    assert ci.expected_repo is None


def test_ci_settings_fill_credentials_and_urls(monkeypatch, tmp_path) -> None:
    for name in ("AGENTFORGE_GITHUB_TOKEN", "AGENTFORGE_GITHUB_URL", "AGENTFORGE_GITLAB_URL"):
        monkeypatch.delenv(name, raising=False)
    s = ci_settings(
        {
            "GITHUB_TOKEN": "ghs_job",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3",
            "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
            "AGENTFORGE_GITLAB_TOKEN": "",
        },
        data_dir=tmp_path,
    )
    assert s.github_token.get_secret_value() == "ghs_job"
    assert s.github_url == "https://ghe.example.com/api/v3"
    assert s.gitlab_url == "https://gitlab.example.com"
    assert s.gitlab_token is None
    assert s.data_dir == tmp_path
    mine = ci_settings({"GITHUB_TOKEN": "ghs_job", "AGENTFORGE_GITHUB_TOKEN": "ghp_bot"})
    assert mine.github_token.get_secret_value() == "ghp_bot"


def test_read_env_lists_every_variable_named_here() -> None:
    # The action and the GitLab template are checked against READ_ENV; keep it honest.
    source = Path(__import__("bot.runner").runner.__file__).read_text()
    named = set(re.findall(r'"((?:GITHUB|CI|GITLAB|TRIGGER|AGENTFORGE)_[A-Z0-9_]+)"', source))
    named |= set(re.findall(r"'((?:GITHUB|CI|GITLAB)_[A-Z0-9_]+)'", source))
    assert named
    assert named <= READ_ENV
