"""Forge contract: repositories, issues, comments, labels, reactions, permissions.

Written against the harness only, so it runs unchanged on every forge in
``harnesses.py``.
"""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequest, NotFound
from bot.forge import Forge, Permission, ensure_comment, find_comment


def test_adapter_satisfies_the_protocol(harness):
    assert isinstance(harness.forge, Forge)


def test_repo_info(harness):
    info = harness.forge.get_repo(harness.repo)
    assert info.full_name == harness.repo
    assert info.default_branch == "main"
    assert info.clone_url


def test_missing_repo_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.forge.get_repo("nobody/nothing-here")


def test_create_and_read_issue(harness):
    f = harness.forge
    made = f.create_issue(harness.repo, "Add login", "Users need to log in.", labels=["feature"])
    assert made.title == "Add login"
    assert made.state == "open"
    assert made.author.login == harness.bot_login
    got = f.get_issue(harness.repo, made.number)
    assert (got.number, got.title, got.body) == (made.number, "Add login", "Users need to log in.")
    assert got.labels == ["feature"]


def test_issue_numbers_are_distinct(harness):
    a = harness.forge.create_issue(harness.repo, "first")
    b = harness.forge.create_issue(harness.repo, "second")
    assert b.number > a.number


def test_missing_issue_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.forge.get_issue(harness.repo, 9999)
    with pytest.raises(NotFound):
        harness.forge.list_comments(harness.repo, 9999)


def test_comments_in_order_with_author(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "talk")
    first = f.create_comment(harness.repo, issue.number, "one")
    second = f.create_comment(harness.repo, issue.number, "two")
    listed = f.list_comments(harness.repo, issue.number)
    assert [c.id for c in listed] == [first.id, second.id]
    assert [c.body for c in listed] == ["one", "two"]
    assert {c.author.login for c in listed} == {harness.bot_login}


def test_edit_comment(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "edit me")
    c = f.create_comment(harness.repo, issue.number, "before")
    edited = f.edit_comment(harness.repo, issue.number, c.id, "after")
    assert edited.id == c.id
    assert edited.body == "after"
    assert [x.body for x in f.list_comments(harness.repo, issue.number)] == ["after"]


def test_edit_missing_comment_is_not_found(harness):
    issue = harness.forge.create_issue(harness.repo, "x")
    with pytest.raises(NotFound):
        harness.forge.edit_comment(harness.repo, issue.number, "987654321", "nope")


def test_ensure_comment_twice_leaves_one(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "status")
    ensure_comment(f, harness.repo, issue.number, "status", "Working on it")
    ensure_comment(f, harness.repo, issue.number, "status", "Done")
    comments = f.list_comments(harness.repo, issue.number)
    assert len(comments) == 1
    assert comments[0].body.startswith("Done")
    assert find_comment(f, harness.repo, issue.number, "status").id == comments[0].id


def test_labels_add_remove_idempotent(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "labels")
    assert set(f.add_labels(harness.repo, issue.number, ["a", "b"])) == {"a", "b"}
    assert sorted(f.add_labels(harness.repo, issue.number, ["b"])) == ["a", "b"]
    assert f.remove_label(harness.repo, issue.number, "a") == ["b"]
    assert f.remove_label(harness.repo, issue.number, "never-there") == ["b"]
    assert f.get_issue(harness.repo, issue.number).labels == ["b"]


def test_labels_on_missing_issue_are_not_found(harness):
    with pytest.raises(NotFound):
        harness.forge.add_labels(harness.repo, 9999, ["a"])


def test_reactions(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "react")
    c = f.create_comment(harness.repo, issue.number, "/approve")
    f.add_reaction(harness.repo, issue.number, "eyes")
    f.add_reaction(harness.repo, issue.number, "+1", comment_id=c.id)
    f.add_reaction(harness.repo, issue.number, "+1", comment_id=c.id)
    with pytest.raises(InvalidRequest):
        f.add_reaction(harness.repo, issue.number, "not-an-emoji")
    with pytest.raises(NotFound):
        f.add_reaction(harness.repo, 9999, "eyes")


@pytest.mark.parametrize(
    "level",
    [Permission.READ, Permission.TRIAGE, Permission.WRITE, Permission.MAINTAIN, Permission.ADMIN],
)
def test_permission_levels(harness, level):
    harness.grant("dana", level)
    assert harness.forge.get_permission(harness.repo, "dana") == level


def test_non_member_has_no_permission(harness):
    assert harness.forge.get_permission(harness.repo, "stranger") == Permission.NONE
