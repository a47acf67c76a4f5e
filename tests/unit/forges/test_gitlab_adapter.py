"""The GitLab adapter against the GitLab REST fake: faults, tokens, GitLab's sharp edges."""

from __future__ import annotations

import pytest

from bot.errors import (
    AuthenticationError,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    SettingsError,
    Unavailable,
)
from bot.forge import CommitState, Permission
from bot.forges.gitlab import GitLabForge, permission_for
from bot.forges.resilience import RetryPolicy
from bot.settings import Settings
from tests.fakes import Fault
from tests.unit.forges.conftest import GL_TOKEN

REPO = "group/sub/app"
NOTES = r"/api/v4/projects/group%2Fsub%2Fapp/(issues|merge_requests)/\d+/notes"


def _notes(fake) -> list[str]:
    return [n["body"] for n in fake.projects[REPO]["notes"].values() if not n["system"]]


def _branch(fake, name="feature"):
    return fake.projects[REPO]["git"].commit(name, {f"{name}.txt": name})


def test_project_is_addressed_by_its_encoded_path(gitlab, gitlab_fake):
    assert gitlab.get_repo(REPO).full_name == REPO
    (call,) = gitlab_fake.calls
    assert call.headers["Private-Token"] == GL_TOKEN
    assert gitlab_fake.unexpected == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=502, method="POST", after_apply=True),
        Fault(status=None, delay=1.0, method="POST", after_apply=True),
    ],
    ids=["502-after-write", "timeout-after-write"],
)
def test_note_is_not_duplicated_when_the_write_landed(gitlab, gitlab_fake, fault):
    issue = gitlab.create_issue(REPO, "retry me")
    gitlab_fake.inject(fault)
    note = gitlab.create_comment(REPO, issue.number, "exactly once")
    assert _notes(gitlab_fake) == ["exactly once"]
    assert note.body == "exactly once"
    assert len(gitlab_fake.calls_to("POST", NOTES)) == 1


def test_merge_request_is_not_duplicated_when_the_write_landed(gitlab, gitlab_fake):
    _branch(gitlab_fake)
    gitlab_fake.inject(
        Fault(status=None, delay=1.0, method="POST", path="/merge_requests", after_apply=True)
    )
    mr = gitlab.open_mr(REPO, head="feature", base="main", title="Feature")
    assert list(gitlab_fake.projects[REPO]["mrs"]) == [mr.number]


def test_rate_limit_with_ratelimit_reset_waits_then_succeeds(gitlab, gitlab_fake, sleeps):
    gitlab_fake.inject(gitlab_fake.rate_limit_fault(reset_in=2))
    assert gitlab.get_repo(REPO).full_name == REPO
    assert len(sleeps.waits) == 1
    assert 0 < sleeps.waits[0] <= 3


def test_rate_limit_beyond_the_bound_is_raised(gitlab_fake, sleeps):
    forge = GitLabForge(
        token=GL_TOKEN,
        base_url=gitlab_fake.url,
        policy=RetryPolicy(max_total_wait=1.0, timeout=1.0, sleep=sleeps),
    )
    gitlab_fake.inject(gitlab_fake.rate_limit_fault(reset_in=600))
    with pytest.raises(RateLimited) as info:
        forge.get_repo(REPO)
    assert info.value.forge == "gitlab"
    assert info.value.retry_after > 500
    assert sleeps.waits == []


def test_persistent_502s_end_in_unavailable(gitlab, gitlab_fake, policy):
    gitlab_fake.inject(Fault(status=502), times=10)
    with pytest.raises(Unavailable):
        gitlab.get_repo(REPO)
    assert len(gitlab_fake.calls) == policy.attempts


def test_bad_token_is_an_authentication_error(gitlab_fake, policy):
    forge = GitLabForge(token="glpat-wrong", base_url=gitlab_fake.url, policy=policy)
    with pytest.raises(AuthenticationError) as info:
        forge.get_repo(REPO)
    assert "glpat-wrong" not in str(info.value)


def test_read_only_token_names_the_missing_scope(gitlab_fake, policy):
    gitlab_fake.add_token("glpat-read", "reader", scopes=("read_api",))
    forge = GitLabForge(token="glpat-read", base_url=gitlab_fake.url, policy=policy)
    with pytest.raises(Forbidden) as info:
        forge.create_issue(REPO, "x")
    assert "api" in str(info.value)


def test_missing_project_and_issue_are_not_found(gitlab):
    with pytest.raises(NotFound):
        gitlab.get_repo("group/none")
    with pytest.raises(NotFound):
        gitlab.get_issue(REPO, 77)
    with pytest.raises(NotFound):
        gitlab.get_permission("group/none", "agentforge-bot")


@pytest.mark.parametrize("path", ["", "app", "group/../app", "group/app?x", "group//app"])
def test_malformed_project_paths_never_reach_the_forge(gitlab, gitlab_fake, path):
    with pytest.raises(InvalidRequest):
        gitlab.get_repo(path)
    assert gitlab_fake.calls == []


def test_draft_is_a_title_prefix(gitlab, gitlab_fake):
    _branch(gitlab_fake)
    mr = gitlab.open_mr(REPO, head="feature", base="main", title="Feature", draft=True)
    stored = gitlab_fake.projects[REPO]["mrs"][mr.number]
    assert stored["title"] == "Draft: Feature"
    assert (mr.title, mr.draft) == ("Feature", True)
    renamed = gitlab.update_mr(REPO, mr.number, title="Better")
    assert (renamed.title, renamed.draft) == ("Better", True)
    ready = gitlab.mark_ready(REPO, mr.number)
    assert (ready.title, ready.draft) == ("Better", False)
    assert stored["title"] == "Better"


def test_quick_action_only_note_is_not_stored_but_acted_on(gitlab, gitlab_fake):
    _branch(gitlab_fake)
    mr = gitlab.open_mr(REPO, head="feature", base="main", title="F")
    with pytest.raises(InvalidRequest):
        gitlab.create_comment(REPO, mr.number, "/approve", is_mr=True)
    assert _notes(gitlab_fake) == []
    assert [(r.author.login, r.state) for r in gitlab.list_reviews(REPO, mr.number)] == [
        ("agentforge-bot", "approved")
    ]


def test_approving_twice_is_not_a_bad_token(gitlab, gitlab_fake):
    _branch(gitlab_fake)
    mr = gitlab.open_mr(REPO, head="feature", base="main", title="F")
    gitlab.approve_mr(REPO, mr.number)
    gitlab.approve_mr(REPO, mr.number)  # GitLab answers 401 here
    assert len(gitlab_fake.calls_to("POST", r".*/approve")) == 2
    approvals = gitlab_fake.projects[REPO]["mrs"][mr.number]["_approved_by"]
    assert [a["user"]["username"] for a in approvals] == ["agentforge-bot"]


def test_approve_with_a_revoked_token_is_still_an_authentication_error(gitlab, gitlab_fake):
    _branch(gitlab_fake)
    mr = gitlab.open_mr(REPO, head="feature", base="main", title="F")
    del gitlab_fake.tokens[GL_TOKEN]
    with pytest.raises(AuthenticationError):
        gitlab.approve_mr(REPO, mr.number)


def test_reactions_use_gitlab_emoji_names_once(gitlab, gitlab_fake):
    issue = gitlab.create_issue(REPO, "react")
    gitlab.add_reaction(REPO, issue.number, "+1")
    gitlab.add_reaction(REPO, issue.number, "+1")
    awards = [a for awards in gitlab_fake.projects[REPO]["awards"].values() for a in awards]
    assert [a["name"] for a in awards] == ["thumbsup"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (None, Permission.NONE),
        (5, Permission.NONE),
        (10, Permission.READ),
        (15, Permission.TRIAGE),
        (20, Permission.TRIAGE),
        (30, Permission.WRITE),
        (40, Permission.MAINTAIN),
        (50, Permission.ADMIN),
    ],
)
def test_access_levels_map_onto_the_permission_scale(level, expected):
    assert permission_for(level) is expected


def test_member_permission_comes_from_the_access_level(gitlab, gitlab_fake):
    gitlab_fake.grant(REPO, "mia", 40)
    gitlab_fake.add_user("outsider")
    assert gitlab.get_permission(REPO, "mia") is Permission.MAINTAIN
    assert gitlab.get_permission(REPO, "outsider") is Permission.NONE
    assert gitlab.get_permission(REPO, "no-such-user") is Permission.NONE


def test_commit_states_round_trip(gitlab, gitlab_fake):
    sha = _branch(gitlab_fake)
    for i, state in enumerate([CommitState.RUNNING, CommitState.CANCELLED, CommitState.ERROR]):
        gitlab.set_commit_status(REPO, sha, state, context=f"c{i}")
    got = {s.context: s.state for s in gitlab.list_commit_statuses(REPO, sha)}
    # GitLab has no "error": it is stored as failed.
    assert got == {
        "c0": CommitState.RUNNING,
        "c1": CommitState.CANCELLED,
        "c2": CommitState.FAILURE,
    }


def test_notes_are_read_across_pages_without_system_notes(gitlab, gitlab_fake):
    _branch(gitlab_fake)
    mr = gitlab.open_mr(REPO, head="feature", base="main", title="F")
    for i in range(103):
        gitlab.create_comment(REPO, mr.number, f"n{i}", is_mr=True)
    gitlab_fake.approve(REPO, mr.number, "rita")  # adds a system note
    bodies = [c.body for c in gitlab.list_comments(REPO, mr.number, is_mr=True)]
    assert bodies == [f"n{i}" for i in range(103)]


def test_clone_url_embeds_the_token_for_https_only(gitlab, gitlab_fake):
    assert gitlab.clone_url(REPO).startswith("file://")
    gitlab_fake.projects[REPO]["info"]["http_url_to_repo"] = "https://gl.example:8443/g/app.git"
    assert gitlab.clone_url(REPO) == f"https://oauth2:{GL_TOKEN}@gl.example:8443/g/app.git"


def test_from_settings(gitlab_fake):
    settings = Settings(gitlab_token=GL_TOKEN, gitlab_url=gitlab_fake.url)
    forge = GitLabForge.from_settings(settings, policy=RetryPolicy(timeout=2))
    assert forge.get_repo(REPO).full_name == REPO
    with pytest.raises(SettingsError) as info:
        GitLabForge.from_settings(Settings(gitlab_token=None))
    assert info.value.variable == "AGENTFORGE_GITLAB_TOKEN"


def test_the_fake_is_strict_about_unknown_routes(gitlab_fake):
    import requests

    resp = requests.get(f"{gitlab_fake.url}/api/v4/projects/1/wikis", timeout=5)
    assert resp.status_code == 404
    assert [c.path for c in gitlab_fake.unexpected] == ["/api/v4/projects/1/wikis"]
    gitlab_fake.unexpected.clear()  # the fixture would fail the test otherwise


def test_registry_builds_both_adapters(gitlab_fake, github_fake):
    from bot.forges import make_forge
    from tests.unit.forges.conftest import GH_TOKEN

    settings = Settings(
        gitlab_token=GL_TOKEN,
        gitlab_url=gitlab_fake.url,
        github_token=GH_TOKEN,
        github_url=github_fake.url,
    )
    policy = RetryPolicy(timeout=2)
    assert make_forge("gitlab", settings, policy=policy).get_repo(REPO).full_name == REPO
    assert (
        make_forge("github", settings, policy=policy).get_repo("acme/app").full_name == "acme/app"
    )
