"""Forge-specific sides of the workflow reads: GitHub check runs and App identity, big
files through the git blob, GitLab pipelines and job states, and the checks' mapping
tables."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.errors import AuthenticationError
from bot.forge import CommitState
from bot.forges import github_convert, gitlab_convert
from bot.forges.github import GitHubForge

GH_REPO = "acme/app"
GL_REPO = "group/sub/app"


@pytest.mark.parametrize(
    ("status", "conclusion", "state"),
    [
        ("queued", None, CommitState.PENDING),
        ("in_progress", None, CommitState.RUNNING),
        ("waiting", None, CommitState.PENDING),
        ("completed", "success", CommitState.SUCCESS),
        ("completed", "neutral", CommitState.SUCCESS),
        ("completed", "skipped", CommitState.SUCCESS),
        ("completed", "failure", CommitState.FAILURE),
        ("completed", "timed_out", CommitState.FAILURE),
        ("completed", "action_required", CommitState.FAILURE),
        ("completed", "cancelled", CommitState.CANCELLED),
        ("completed", "stale", CommitState.PENDING),
        ("completed", "something-new", CommitState.ERROR),  # never passes a gate
        ("mystery", None, CommitState.PENDING),
    ],
)
def test_check_run_states(status, conclusion, state):
    run = {"name": "tests", "status": status, "conclusion": conclusion}
    assert github_convert.check_run("abc", run).state == state


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("created", CommitState.PENDING),
        ("manual", CommitState.PENDING),
        ("running", CommitState.RUNNING),
        ("success", CommitState.SUCCESS),
        ("failed", CommitState.FAILURE),
        ("canceled", CommitState.CANCELLED),
        ("unheard-of", CommitState.ERROR),
    ],
)
def test_pipeline_states(status, state):
    pipeline = {"id": 7, "status": status, "source": "push", "ref": "main", "web_url": "u"}
    made = gitlab_convert.pipeline("abc", pipeline)
    assert (made.context, made.state, made.target_url) == ("pipeline", state, "u")


def test_github_actions_check_runs_count_and_the_newest_wins(github, github_fake):
    git = github_fake.repos[GH_REPO]["git"]
    sha = git.head("main")
    github.set_commit_status(GH_REPO, sha, CommitState.SUCCESS, context="agentforge")
    github_fake.add_check_run(GH_REPO, sha, "tests", status="in_progress", conclusion=None)
    github_fake.add_check_run(GH_REPO, sha, "tests", conclusion="failure", title="2 failed")
    checks = {c.context: c for c in github.list_checks(GH_REPO, sha)}
    assert checks["tests"].state == CommitState.FAILURE
    assert checks["tests"].description == "2 failed"
    assert "/actions/runs/" in checks["tests"].target_url  # where Actions shows it
    assert checks["agentforge"].state == CommitState.SUCCESS
    # Statuses alone (the old reading) would have missed the failing Actions job.
    assert [s.context for s in github.list_commit_statuses(GH_REPO, sha)] == ["agentforge"]


def test_github_check_runs_are_paginated(github, github_fake):
    sha = github_fake.repos[GH_REPO]["git"].head("main")
    for i in range(105):
        github_fake.add_check_run(GH_REPO, sha, f"job-{i:03d}")
    assert len(github.list_checks(GH_REPO, sha)) == 105
    assert len(github_fake.calls_to("GET", r".*/check-runs")) == 2


def test_github_file_over_the_inline_limit_is_read_through_the_blob(github, github_fake):
    github_fake.contents_inline_limit = 10
    github_fake.repos[GH_REPO]["git"].commit("main", {"big.txt": "x" * 50})
    assert github.get_file(GH_REPO, "big.txt", ref="main") == "x" * 50
    assert len(github_fake.calls_to("GET", r".*/git/blobs/[0-9a-f]{40}")) == 1


def test_github_issue_list_leaves_out_pull_requests(github, github_fake):
    git = github_fake.repos[GH_REPO]["git"]
    git.commit("feature", {"f.txt": "f\n"})
    github.open_mr(GH_REPO, head="feature", base="main", title="pr")
    issue = github.create_issue(GH_REPO, "real issue")
    assert [i.number for i in github.list_issues(GH_REPO, state="all")] == [issue.number]


@pytest.fixture(scope="module")
def app_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def test_github_app_whoami_is_its_bot_user(github_fake, app_key, policy):
    private, public = app_key
    github_fake.set_app("123", public, 42, "my-app[bot]")
    forge = GitHubForge(
        app_id="123",
        private_key=private,
        installation_id=42,
        base_url=github_fake.url,
        policy=policy,
    )
    me = forge.whoami()
    assert (me.login, me.is_bot) == ("my-app[bot]", True)
    app_call = github_fake.calls_to("GET", r"/app")[0]
    assert app_call.headers["Authorization"].startswith("Bearer ")  # the JWT, not a token
    assert forge.whoami() is me  # asked once


def test_github_app_whoami_with_a_key_github_rejects(github_fake, app_key, policy):
    _private, public = app_key
    github_fake.set_app("123", public, 42, "my-app[bot]")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    forge = GitHubForge(
        app_id="123",
        private_key=other,
        installation_id=42,
        base_url=github_fake.url,
        policy=policy,
    )
    with pytest.raises(AuthenticationError):
        forge.whoami()


def test_gitlab_checks_take_the_newest_pipeline_and_the_jobs(gitlab, gitlab_fake):
    sha = gitlab_fake.projects[GL_REPO]["git"].head("main")
    gitlab_fake.add_pipeline(GL_REPO, sha, "failed", source="push")
    gitlab_fake.add_pipeline(GL_REPO, sha, "running", source="merge_request_event")
    gitlab_fake.add_job(GL_REPO, sha, "rspec", "manual")
    checks = {c.context: c for c in gitlab.list_checks(GL_REPO, sha)}
    assert checks["pipeline"].state == CommitState.RUNNING
    assert "merge_request_event" in checks["pipeline"].description
    assert checks["rspec"].state == CommitState.PENDING
    other = gitlab_fake.projects[GL_REPO]["git"].commit("main", {"b.txt": "b\n"})
    assert gitlab.list_checks(GL_REPO, other) == []


def test_gitlab_whoami_reads_the_bot_flag(gitlab, gitlab_fake):
    gitlab_fake.users["agentforge-bot"]["bot"] = True
    me = gitlab.whoami()
    assert (me.login, me.is_bot) == ("agentforge-bot", True)
