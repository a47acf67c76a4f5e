"""Fixtures for the adapter tests: fakes of both forges and adapters pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from bot.forges.resilience import RetryPolicy
from tests.fakes.github_api import GitHubFake
from tests.fakes.gitlab_api import GitLabFake

GH_TOKEN = "ghp_faketoken"
GL_TOKEN = "glpat-faketoken"


class SleepRecorder:
    """Stands in for time.sleep: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    """The waits the adapter asked for."""
    return SleepRecorder()


@pytest.fixture
def policy(sleeps: SleepRecorder) -> RetryPolicy:
    """Tiny backoff, a short request timeout, no real sleeping."""
    return RetryPolicy(
        attempts=4,
        backoff_base=0.01,
        backoff_max=0.05,
        max_total_wait=5.0,
        timeout=0.5,
        sleep=sleeps,
    )


@pytest.fixture
def github_fake(tmp_path: Path) -> Iterator[GitHubFake]:
    """A GitHub fake with acme/app, the bot's token and a few users."""
    fake = GitHubFake(tmp_path)
    fake.add_repo("acme/app")
    fake.add_token(GH_TOKEN, "agentforge-bot")
    fake.grant("acme/app", "agentforge-bot", "write")
    yield fake
    fake.close()
    if fake.unexpected:
        pytest.fail(f"unexpected calls to the GitHub fake: {fake.unexpected}")


@pytest.fixture
def github(github_fake: GitHubFake, policy: RetryPolicy) -> GitHubForge:
    """The GitHub adapter, authenticated by token, against the fake."""
    return GitHubForge(token=GH_TOKEN, base_url=github_fake.url, policy=policy)


@pytest.fixture
def gitlab_fake(tmp_path: Path) -> Iterator[GitLabFake]:
    """A GitLab fake with group/sub/app, the bot's token and a few users."""
    fake = GitLabFake(tmp_path)
    fake.add_project("group/sub/app")
    fake.add_token(GL_TOKEN, "agentforge-bot")
    fake.grant("group/sub/app", "agentforge-bot", 30)
    yield fake
    fake.close()
    if fake.unexpected:
        pytest.fail(f"unexpected calls to the GitLab fake: {fake.unexpected}")


@pytest.fixture
def gitlab(gitlab_fake: GitLabFake, policy: RetryPolicy) -> GitLabForge:
    """The GitLab adapter, authenticated by token, against the fake."""
    return GitLabForge(token=GL_TOKEN, base_url=gitlab_fake.url, policy=policy)
