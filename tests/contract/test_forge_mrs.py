"""Forge contract: merge requests, reviews, commit statuses and git access.

Written against the harness only, so it runs unchanged on every forge in
``harnesses.py``.
"""

from __future__ import annotations

import pytest

from bot.errors import Conflict, InvalidRequest, NotFound
from bot.forge import CommitState, ensure_mr
from bot.workspace import Identity, Workspace


def _open(harness, branch="feature/x", draft=True):
    sha = harness.push_branch(branch, {f"{branch.replace('/', '-')}.txt": "hello\n"})
    mr = harness.forge.open_mr(
        harness.repo, head=branch, base="main", title="Add x", body="Adds x.", draft=draft
    )
    return mr, sha


def test_open_mr_from_pushed_branch(harness):
    mr, sha = _open(harness)
    assert mr.state == "open"
    assert mr.draft is True
    assert (mr.head_ref, mr.base_ref) == ("feature/x", "main")
    assert mr.head_sha == sha
    assert mr.author.login == harness.bot_login
    got = harness.forge.get_mr(harness.repo, mr.number)
    assert (got.number, got.title, got.body, got.head_sha) == (mr.number, "Add x", "Adds x.", sha)


def test_mr_for_missing_branch_is_invalid(harness):
    with pytest.raises(InvalidRequest):
        harness.forge.open_mr(harness.repo, head="never-pushed", base="main", title="x")


def test_second_open_mr_for_same_branch_conflicts(harness):
    mr, _ = _open(harness)
    with pytest.raises(Conflict):
        harness.forge.open_mr(harness.repo, head="feature/x", base="main", title="again")
    assert [m.number for m in harness.forge.list_mrs(harness.repo, head="feature/x")] == [mr.number]


def test_ensure_mr_twice_opens_one(harness):
    harness.push_branch("feature/y", {"y.txt": "y\n"})
    a = ensure_mr(harness.forge, harness.repo, head="feature/y", base="main", title="Y")
    b = ensure_mr(harness.forge, harness.repo, head="feature/y", base="main", title="Y")
    assert a.number == b.number
    assert len(harness.forge.list_mrs(harness.repo, state="open", head="feature/y")) == 1


def test_list_mrs_by_head_and_state(harness):
    mr, _ = _open(harness)
    harness.push_branch("other", {"o.txt": "o\n"})
    assert [m.number for m in harness.forge.list_mrs(harness.repo, head="feature/x")] == [mr.number]
    assert harness.forge.list_mrs(harness.repo, head="other") == []
    assert harness.forge.list_mrs(harness.repo, state="closed") == []


def test_missing_mr_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.forge.get_mr(harness.repo, 9999)


def test_issue_number_is_not_an_mr(harness):
    issue = harness.forge.create_issue(harness.repo, "an issue")
    with pytest.raises(NotFound):
        harness.forge.get_mr(harness.repo, issue.number)


def test_update_mark_ready_close_reopen(harness):
    f = harness.forge
    mr, _ = _open(harness)
    updated = f.update_mr(harness.repo, mr.number, title="Add x, better", body="New body")
    assert (updated.title, updated.body) == ("Add x, better", "New body")
    ready = f.mark_ready(harness.repo, mr.number)
    assert ready.draft is False
    assert f.get_mr(harness.repo, mr.number).draft is False
    closed = f.update_mr(harness.repo, mr.number, state="closed")
    assert closed.state == "closed"
    assert [m.number for m in f.list_mrs(harness.repo, state="closed")] == [mr.number]
    assert f.list_mrs(harness.repo, state="open") == []
    assert f.update_mr(harness.repo, mr.number, state="open").state == "open"


def test_mr_comments_and_labels(harness):
    f = harness.forge
    mr, _ = _open(harness)
    f.create_comment(harness.repo, mr.number, "on the MR", is_mr=True)
    assert [c.body for c in f.list_comments(harness.repo, mr.number, is_mr=True)] == ["on the MR"]
    assert f.add_labels(harness.repo, mr.number, ["agentforge"], is_mr=True) == ["agentforge"]
    assert f.get_mr(harness.repo, mr.number).labels == ["agentforge"]


def test_reviews_by_other_users(harness):
    f = harness.forge
    mr, sha = _open(harness, draft=False)
    harness.grant("rita", 30)
    harness.grant("sam", 30)
    harness.review(mr.number, "rita", "changes_requested", "Please add tests.")
    harness.review(mr.number, "sam", "approved")
    reviews = f.list_reviews(harness.repo, mr.number)
    assert [(r.author.login, r.state) for r in reviews] == [
        ("rita", "changes_requested"),
        ("sam", "approved"),
    ]
    assert reviews[0].body == "Please add tests."
    assert {r.commit_id for r in reviews} == {sha}


def test_review_commit_id_tracks_the_head(harness):
    f = harness.forge
    mr, first = _open(harness, draft=False)
    harness.grant("rita", 30)
    harness.review(mr.number, "rita", "approved")
    second = harness.push_branch("feature/x", {"more.txt": "more\n"}, base="feature/x")
    assert f.get_mr(harness.repo, mr.number).head_sha == second
    harness.review(mr.number, "rita", "commented", "Looked again.")
    assert [r.commit_id for r in f.list_reviews(harness.repo, mr.number)] == [first, second]


def test_commit_statuses_latest_per_context(harness):
    f = harness.forge
    sha = harness.push_branch("ci", {"ci.txt": "ci\n"})
    f.set_commit_status(harness.repo, sha, CommitState.PENDING, context="ci/tests")
    f.set_commit_status(
        harness.repo, sha, CommitState.SUCCESS, context="ci/tests", description="42 passed"
    )
    f.set_commit_status(harness.repo, sha, CommitState.FAILURE, context="ci/lint")
    statuses = {s.context: s for s in f.list_commit_statuses(harness.repo, sha)}
    assert set(statuses) == {"ci/tests", "ci/lint"}
    assert statuses["ci/tests"].state == CommitState.SUCCESS
    assert statuses["ci/tests"].description == "42 passed"
    assert statuses["ci/lint"].state == CommitState.FAILURE


def test_clone_url_works_with_the_workspace(harness, tmp_path):
    url = harness.forge.clone_url(harness.repo)
    ws = Workspace.open(url, tmp_path / "contract-clone")
    assert ws.read_file("README.md", "origin/main") is not None
    ws.create_branch("via-workspace", "main")
    ws.write_file("docs/new.md", "# new\n")
    sha = ws.commit(
        "Add docs", author=Identity("Bot", "bot@example.test"), trailers={"Agentforge-Run": "r-1"}
    )
    ws.push()
    mr = harness.forge.open_mr(harness.repo, head="via-workspace", base="main", title="Docs")
    assert mr.head_sha == sha
    again = Workspace.open(url, tmp_path / "second-clone")
    assert again.commit_info("origin/via-workspace").trailer("Agentforge-Run") == "r-1"
