"""The GitHub adapter against the GitHub REST fake: faults, auth, GitHub's sharp edges."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.errors import (
    AuthenticationError,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    SettingsError,
    Unavailable,
)
from bot.forge import Permission
from bot.forges.github import GitHubForge
from bot.forges.resilience import RetryPolicy
from bot.settings import Settings
from tests.fakes import Fault
from tests.fakes.github_api import GitHubFake
from tests.unit.forges.conftest import GH_TOKEN

REPO = "acme/app"


def _comments(fake: GitHubFake, number: int) -> list[dict]:
    return [
        c for c in fake.repos[REPO]["comments"].values() if c["issue_url"].endswith(f"/{number}")
    ]


def test_a_502_is_retried(github, github_fake, sleeps):
    github_fake.inject(Fault(status=502, method="GET"))
    assert github.get_repo(REPO).full_name == REPO
    assert len(github_fake.calls_to("GET", "/repos/acme/app")) == 2
    assert len(sleeps.waits) == 1
    assert github_fake.unexpected == []


def test_persistent_500s_end_in_unavailable(github, github_fake, policy):
    github_fake.inject(Fault(status=500), times=10)
    with pytest.raises(Unavailable) as info:
        github.get_issue(REPO, 1)
    assert info.value.forge == "github"
    assert len(github_fake.calls) == policy.attempts


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=502, method="POST", after_apply=True),
        Fault(status=None, delay=1.0, method="POST", after_apply=True),  # times out
    ],
    ids=["502-after-write", "timeout-after-write"],
)
def test_comment_is_not_duplicated_when_the_write_landed(github, github_fake, fault):
    issue = github.create_issue(REPO, "retry me")
    github_fake.inject(fault)
    comment = github.create_comment(REPO, issue.number, "exactly once")
    stored = _comments(github_fake, issue.number)
    assert [c["body"] for c in stored] == ["exactly once"]
    assert comment.id == str(stored[0]["id"])
    assert len(github_fake.calls_to("POST", r"/repos/acme/app/issues/\d+/comments")) == 1


def test_comment_is_written_when_the_first_try_never_landed(github, github_fake):
    issue = github.create_issue(REPO, "retry me")
    github_fake.inject(Fault(status=503, method="POST"))
    github.create_comment(REPO, issue.number, "second try")
    assert [c["body"] for c in _comments(github_fake, issue.number)] == ["second try"]


def test_pull_request_is_not_duplicated_when_the_write_landed(github, github_fake):
    github_fake.repos[REPO]["git"].commit("feature", {"f.txt": "f"})
    github_fake.inject(Fault(status=502, method="POST", path="/pulls", after_apply=True))
    mr = github.open_mr(REPO, head="feature", base="main", title="Feature")
    pulls = [p for p in github_fake.repos[REPO]["items"].values() if "head" in p]
    assert [p["number"] for p in pulls] == [mr.number]


@pytest.mark.parametrize("secondary", [False, True], ids=["primary-403", "secondary-429"])
def test_rate_limit_waits_then_succeeds(github, github_fake, sleeps, secondary):
    github_fake.inject(github_fake.rate_limit_fault(secondary=secondary, reset_in=2))
    assert github.get_repo(REPO).full_name == REPO
    assert len(sleeps.waits) == 1
    assert 0 < sleeps.waits[0] <= 3


def test_rate_limit_beyond_the_bound_is_raised(github_fake, sleeps):
    forge = GitHubForge(
        token=GH_TOKEN,
        base_url=github_fake.url,
        policy=RetryPolicy(max_total_wait=1.0, timeout=1.0, sleep=sleeps),
    )
    github_fake.inject(github_fake.rate_limit_fault(reset_in=600))
    with pytest.raises(RateLimited) as info:
        forge.get_repo(REPO)
    assert info.value.retry_after > 500
    assert sleeps.waits == []


def test_bad_token_is_an_authentication_error(github_fake, policy):
    forge = GitHubForge(token="ghp_wrong", base_url=github_fake.url, policy=policy)
    with pytest.raises(AuthenticationError) as info:
        forge.get_repo(REPO)
    assert info.value.forge == "github"
    assert "ghp_wrong" not in str(info.value)
    assert len(github_fake.calls) == 1


def test_missing_scope_is_named(github, github_fake):
    github_fake.inject(
        Fault(
            status=403,
            headers={"X-Accepted-OAuth-Scopes": "repo", "X-OAuth-Scopes": "read:user"},
            body={"message": "Resource not accessible by personal access token"},
        )
    )
    with pytest.raises(Forbidden) as info:
        github.create_issue(REPO, "x")
    assert "repo" in str(info.value)


def test_missing_repository_and_issue_are_not_found(github):
    with pytest.raises(NotFound):
        github.get_repo("acme/none")
    with pytest.raises(NotFound):
        github.get_issue(REPO, 42)
    with pytest.raises(NotFound):
        github.get_permission("acme/none", "agentforge-bot")


@pytest.mark.parametrize("name", ["", "acme", "acme/app/extra", "../etc", "acme/app?x=1"])
def test_malformed_repository_names_never_reach_the_forge(github, github_fake, name):
    with pytest.raises(InvalidRequest):
        github.get_issue(name, 1)
    assert github_fake.calls == []


def test_draft_is_undone_through_graphql_only(github, github_fake):
    github_fake.repos[REPO]["git"].commit("feature", {"f.txt": "f"})
    mr = github.open_mr(REPO, head="feature", base="main", title="F", draft=True)
    assert mr.draft is True
    assert github.mark_ready(REPO, mr.number).draft is False
    assert len(github_fake.calls_to("POST", "/graphql")) == 1
    assert github_fake.calls_to("PATCH", r"/repos/acme/app/pulls/\d+") == []
    # Already ready: no second mutation.
    github.mark_ready(REPO, mr.number)
    assert len(github_fake.calls_to("POST", "/graphql")) == 1


def test_list_mrs_filters_head_with_the_owner_prefix(github, github_fake):
    github_fake.repos[REPO]["git"].commit("feature", {"f.txt": "f"})
    github.list_mrs(REPO, head="feature")
    (call,) = github_fake.calls_to("GET", "/repos/acme/app/pulls")
    assert call.query["head"] == "acme:feature"


def test_comments_are_read_across_pages(github, github_fake):
    issue = github.create_issue(REPO, "long thread")
    for i in range(105):
        github.create_comment(REPO, issue.number, f"c{i}")
    bodies = [c.body for c in github.list_comments(REPO, issue.number)]
    assert bodies == [f"c{i}" for i in range(105)]
    assert len(github_fake.calls_to("GET", r"/repos/acme/app/issues/\d+/comments")) == 2


def test_reviews_keep_the_commit_they_were_made_on(github, github_fake):
    git = github_fake.repos[REPO]["git"]
    first = git.commit("feature", {"f.txt": "1"})
    mr = github.open_mr(REPO, head="feature", base="main", title="F")
    github_fake.add_review(REPO, mr.number, "rita", "APPROVED")
    github_fake.add_review(REPO, mr.number, "sam", "PENDING")
    second = git.commit("feature", {"f.txt": "2"})
    (review,) = github.list_reviews(REPO, mr.number)
    assert review.commit_id == first
    assert github.get_mr(REPO, mr.number).head_sha == second


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", Permission.ADMIN),
        ("maintain", Permission.MAINTAIN),
        ("write", Permission.WRITE),
        ("triage", Permission.TRIAGE),
        ("read", Permission.READ),
        ("none", Permission.NONE),
    ],
)
def test_roles_map_onto_the_permission_scale(github, github_fake, role, expected):
    github_fake.grant(REPO, "dana", role)
    assert github.get_permission(REPO, "dana") is expected


def test_clone_url_embeds_the_token_for_https_only(github, github_fake):
    assert github.clone_url(REPO).startswith("file://")
    github_fake.repos[REPO]["info"]["clone_url"] = "https://github.example/acme/app.git"
    assert (
        github.clone_url(REPO) == f"https://x-access-token:{GH_TOKEN}@github.example/acme/app.git"
    )


def test_update_mr_rejects_unknown_states(github, github_fake):
    with pytest.raises(InvalidRequest):
        github.update_mr(REPO, 1, state="merged")
    with pytest.raises(InvalidRequest):
        github.list_mrs(REPO, state="draft")
    assert github_fake.calls == []


# --- GitHub App authentication ------------------------------------------------------


@pytest.fixture(scope="module")
def app_key() -> tuple[bytes, bytes]:
    """A fresh RSA key pair (private PEM, public PEM) for a test App."""
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


class Clock:
    """A clock tests move forward by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _app_forge(fake, key, policy, clock, installation=42):
    return GitHubForge(
        app_id="123",
        private_key=key,
        installation_id=installation,
        base_url=fake.url,
        bot_login="agentforge[bot]",
        policy=policy,
        clock=clock,
    )


def test_app_installation_token_is_refreshed_before_it_expires(github_fake, app_key, policy):
    private, public = app_key
    github_fake.set_app("123", public, 42, "agentforge[bot]")
    github_fake.grant(REPO, "agentforge[bot]", "write")
    clock = Clock()
    forge = _app_forge(github_fake, private, policy, clock)

    issue = forge.create_issue(REPO, "from the app")
    assert issue.author.login == "agentforge[bot]"
    assert github_fake.installation_tokens_issued == ["ghs_fake1"]

    clock.now += 30 * 60  # half-way through the hour: token still good
    forge.get_issue(REPO, issue.number)
    assert len(github_fake.installation_tokens_issued) == 1

    clock.now += 28 * 60  # inside the refresh margin before expiry
    github_fake.revoke("ghs_fake1")  # the old token stops working at GitHub
    forge.get_issue(REPO, issue.number)
    assert github_fake.installation_tokens_issued == ["ghs_fake1", "ghs_fake2"]
    last = github_fake.calls[-1]
    assert last.headers["Authorization"] == "token ghs_fake2"


def test_revoked_installation_token_is_replaced_once(github_fake, app_key, policy):
    private, public = app_key
    github_fake.set_app("123", public, 42, "agentforge[bot]")
    forge = _app_forge(github_fake, private, policy, Clock())
    forge.get_repo(REPO)
    github_fake.revoke("ghs_fake1")
    assert forge.get_repo(REPO).full_name == REPO
    assert len(github_fake.installation_tokens_issued) == 2


def test_app_with_the_wrong_key_is_an_authentication_error(github_fake, app_key, policy):
    _, public = app_key
    github_fake.set_app("123", public, 42, "agentforge[bot]")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(AuthenticationError):
        _app_forge(github_fake, other, policy, Clock()).get_repo(REPO)


def test_app_with_an_unknown_installation_is_not_found(github_fake, app_key, policy):
    private, public = app_key
    github_fake.set_app("123", public, 42, "agentforge[bot]")
    with pytest.raises(NotFound):
        _app_forge(github_fake, private, policy, Clock(), installation=7).get_repo(REPO)


def test_app_with_a_garbage_key_is_an_authentication_error(github_fake, app_key, policy):
    _, public = app_key
    github_fake.set_app("123", public, 42, "agentforge[bot]")
    with pytest.raises(AuthenticationError):
        _app_forge(github_fake, b"not a pem", policy, Clock()).get_repo(REPO)


# --- settings ---------------------------------------------------------------------------


def test_from_settings_with_a_token(github_fake):
    settings = Settings(github_token=GH_TOKEN, github_url=github_fake.url)
    forge = GitHubForge.from_settings(settings, policy=RetryPolicy(timeout=2))
    assert forge.get_repo(REPO).full_name == REPO


def test_from_settings_without_credentials_names_the_variable():
    with pytest.raises(SettingsError) as info:
        GitHubForge.from_settings(Settings(github_token=None, github_app_id=None))
    assert info.value.variable == "AGENTFORGE_GITHUB_TOKEN"


def test_from_settings_with_an_unreadable_key_file(tmp_path):
    settings = Settings(
        github_app_id="1",
        github_app_private_key_path=tmp_path / "missing.pem",
        github_app_installation_id=2,
    )
    with pytest.raises(SettingsError) as info:
        GitHubForge.from_settings(settings)
    assert info.value.variable == "AGENTFORGE_GITHUB_APP_PRIVATE_KEY_PATH"


def test_installation_token_lifetime_follows_the_forge(github_fake, app_key, policy):
    private, public = app_key
    github_fake.set_app(
        "123", public, 42, "agentforge[bot]", token_lifetime=dt.timedelta(minutes=10)
    )
    clock = Clock()
    forge = _app_forge(github_fake, private, policy, clock)
    forge.get_repo(REPO)
    clock.now += 6 * 60  # 10-minute token, 5-minute margin: refresh now
    forge.get_repo(REPO)
    assert len(github_fake.installation_tokens_issued) == 2
