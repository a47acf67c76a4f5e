"""Pure helpers of the forge adapters: endpoints, review notes, paths, credentials."""

from __future__ import annotations

import re

import pytest

from bot.errors import InvalidRequest
from bot.forge import Comment, MergeRequest, User
from bot.forges._common import (
    LIST_STATES,
    check_path,
    open_mr_between,
    own_comment,
    require_state,
    with_credentials,
)
from bot.forges.github_http import graphql_url
from bot.forges.gitlab_reviews import reviews_from, verdict

# --- GitHub GraphQL endpoint


@pytest.mark.parametrize(
    ("rest", "graphql"),
    [
        ("https://api.github.com", "https://api.github.com/graphql"),
        ("https://api.github.com/", "https://api.github.com/graphql"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com:8443/api/v3", "https://ghe.example.com:8443/api/graphql"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/graphql"),
        # Only a trailing /api/v3 is the Enterprise REST root.
        ("https://ghe.example.com/api/v3x", "https://ghe.example.com/api/v3x/graphql"),
        (
            "https://proxy.example.com/api/v3/extra",
            "https://proxy.example.com/api/v3/extra/graphql",
        ),
    ],
)
def test_graphql_endpoint_follows_the_rest_root(rest, graphql):
    assert graphql_url(rest) == graphql


def test_adapter_sends_graphql_to_the_enterprise_endpoint():
    from bot.forges.github import GitHubForge

    forge = GitHubForge(token="ghp_x", base_url="https://ghe.example.com/api/v3/")
    assert forge.graphql_url == "https://ghe.example.com/api/graphql"
    assert forge.base_url == "https://ghe.example.com/api/v3"


# --- GitLab review system notes


def _note(nid, body, *, login="rev", system=True, at="2026-01-01T00:00:10.000Z"):
    return {
        "id": nid,
        "body": body,
        "system": system,
        "author": {"username": login, "id": 7},
        "created_at": at,
    }


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ("approved this merge request", "approved"),
        ("unapproved this merge request", "dismissed"),
        ("requested changes", "changes_requested"),
        ("left review comments", "commented"),
        ("left review comments without approving or requesting changes", "commented"),
        ("  requested changes\n", "changes_requested"),
        # Not verdicts: other system notes, and the wording the adapter used to guess.
        ("left a review", None),
        ("requested review from @rev", None),
        ("added 1 commit", None),
        ("", None),
    ],
)
def test_system_note_wording_maps_to_a_verdict(body, state):
    assert verdict(_note(1, body)) == state


def test_a_user_typing_a_verdict_is_only_a_comment():
    assert verdict(_note(1, "approved this merge request", system=False)) is None
    assert verdict({"id": 1, "body": None, "system": True}) is None


def test_reviews_take_the_head_current_when_the_verdict_was_written():
    versions = [
        {"head_commit_sha": "b" * 40, "created_at": "2026-01-01T00:00:20.000Z"},
        {"head_commit_sha": "a" * 40, "created_at": "2026-01-01T00:00:01.000Z"},
    ]
    notes = [
        _note(1, "looks off", system=False, at="2026-01-01T00:00:09.000Z"),
        _note(2, "requested changes", at="2026-01-01T00:00:10.000Z"),
        _note(3, "approved this merge request", login="other", at="2026-01-01T00:00:30.000Z"),
    ]
    reviews = reviews_from(notes, versions)
    assert [(r.id, r.state, r.commit_id, r.body) for r in reviews] == [
        ("2", "changes_requested", "a" * 40, "looks off"),
        ("3", "approved", "b" * 40, ""),
    ]
    assert reviews[1].author.login == "other"


def test_review_summary_is_only_the_same_reviewers_note():
    notes = [
        _note(1, "someone else's remark", login="author", system=False),
        _note(2, "left review comments"),
    ]
    (review,) = reviews_from(notes, [])
    assert review.body == ""
    assert review.commit_id is None  # no diff version yet


def test_no_verdict_notes_mean_no_reviews():
    assert reviews_from([_note(1, "added 1 commit"), _note(2, "lgtm", system=False)], []) == []


# --- shared adapter rules

_OWNER_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@pytest.mark.parametrize("repo", ["", "acme", "acme/app/x", "../app", "acme/..", "a b/c"])
def test_malformed_paths_are_refused(repo):
    with pytest.raises(InvalidRequest) as info:
        check_path(repo, _OWNER_NAME, forge="github", what="an owner/name repository")
    assert info.value.forge == "github"


def test_well_formed_path_is_returned():
    assert check_path("acme/app.js", _OWNER_NAME, forge="github", what="x") == "acme/app.js"


def test_unknown_state_is_refused_with_the_operation():
    assert require_state("merged", LIST_STATES, forge="gitlab", operation="listing") == "merged"
    with pytest.raises(InvalidRequest) as info:
        require_state("draft", LIST_STATES, forge="gitlab", operation="listing")
    assert info.value.operation == "listing"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/app.git", "https://u:t%2Fk@github.com/acme/app.git"),
        ("http://gl.example:8080/g/p.git", "http://u:t%2Fk@gl.example:8080/g/p.git"),
        ("file:///tmp/app.git", "file:///tmp/app.git"),
        ("git@github.com:acme/app.git", "git@github.com:acme/app.git"),
    ],
)
def test_credentials_go_into_http_urls_only(url, expected):
    assert with_credentials(url, "u", "t/k") == expected


def _comment(cid: str, body: str, login: str) -> Comment:
    return Comment(id=cid, body=body, author=User(login=login))


def test_own_comment_is_the_newest_match_by_the_bot():
    comments = [
        _comment("1", "hello", "bot"),
        _comment("2", "hello", "someone"),
        _comment("3", "hello", "bot"),
        _comment("4", "other", "bot"),
    ]
    assert own_comment(comments, "hello", "bot").id == "3"
    assert own_comment(comments, "hello", None).id == "3"
    assert own_comment(comments, "hello", "nobody") is None
    assert own_comment(comments, "absent", "bot") is None


def _mr(number: int, base: str) -> MergeRequest:
    return MergeRequest(
        number=number,
        title="t",
        state="open",
        head_ref="feature",
        base_ref=base,
        author=User(login="bot"),
    )


def test_open_mr_between_matches_the_base_branch():
    mrs = [_mr(1, "release"), _mr(2, "main"), _mr(3, "main")]
    assert open_mr_between(mrs, "main").number == 2
    assert open_mr_between(mrs, "dev") is None
