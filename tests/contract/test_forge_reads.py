"""Forge contract: who the bot is, files at a ref, directories, an MR's files, issue edits
and lists, and every CI check on a commit.

Written against the harness only, so it runs unchanged on every forge in
``harnesses.py``.
"""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequest, NotFound
from bot.forge import CommitState

ROLES = ".agentforge/roles"
TEXT = "version: 2 # ünïcödé, 日本\n"


def test_whoami_is_the_bot(harness):
    me = harness.forge.whoami()
    assert me.login == harness.bot_login
    assert me.id
    # The account is the one that writes: its comments carry the same login.
    issue = harness.forge.create_issue(harness.repo, "who")
    assert harness.forge.create_comment(harness.repo, issue.number, "hi").author.login == me.login


# --- files at a ref


def test_get_file_at_branch_and_sha(harness):
    f = harness.forge
    first = harness.push_branch("cfg", {".agentforge/config.yaml": "version: 1\n"})
    second = harness.push_branch("cfg", {".agentforge/config.yaml": TEXT})
    assert f.get_file(harness.repo, ".agentforge/config.yaml", ref="cfg") == TEXT
    assert f.get_file(harness.repo, ".agentforge/config.yaml", ref=second) == TEXT
    assert f.get_file(harness.repo, ".agentforge/config.yaml", ref=first) == "version: 1\n"
    assert f.get_file(harness.repo, "README.md", ref="main") is not None


def test_get_file_absent_is_none(harness):
    f = harness.forge
    assert f.get_file(harness.repo, "no/such/file.md", ref="main") is None
    assert f.get_file(harness.repo, "README.md", ref="no-such-branch") is None
    assert f.get_file(harness.repo, "README.md", ref="0" * 40) is None


def test_get_file_missing_repo_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.forge.get_file("nobody/nothing-here", "README.md", ref="main")


def test_get_file_refuses_a_directory_and_binary(harness):
    harness.push_branch("bin", {"docs/a.md": "a\n", "logo.png": b"\x89PNG\r\n\x1a\n\xff\xfe\x00"})
    with pytest.raises(InvalidRequest):
        harness.forge.get_file(harness.repo, "docs", ref="bin")
    with pytest.raises(InvalidRequest):
        harness.forge.get_file(harness.repo, "logo.png", ref="bin")


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../secrets", "a/../../b", "a//b"])
def test_get_file_bad_path_is_invalid(harness, path):
    with pytest.raises(InvalidRequest):
        harness.forge.get_file(harness.repo, path, ref="main")


def test_list_dir_lists_files_only(harness):
    sha = harness.push_branch(
        "roles",
        {
            f"{ROLES}/analyst.md": "# analyst\n",
            f"{ROLES}/developer.md": "# developer\n",
            f"{ROLES}/drafts/old.md": "# old\n",
        },
    )
    expected = [f"{ROLES}/analyst.md", f"{ROLES}/developer.md"]
    assert harness.forge.list_dir(harness.repo, ROLES, ref="roles") == expected
    assert harness.forge.list_dir(harness.repo, ROLES + "/", ref=sha) == expected
    assert harness.forge.list_dir(harness.repo, "", ref="roles") == ["README.md"]


def test_list_dir_absent_is_empty(harness):
    f = harness.forge
    assert f.list_dir(harness.repo, ROLES, ref="main") == []
    assert f.list_dir(harness.repo, "README.md", ref="main") == []  # a file is no directory
    assert f.list_dir(harness.repo, "", ref="no-such-branch") == []
    with pytest.raises(NotFound):
        f.list_dir("nobody/nothing-here", "", ref="main")
    with pytest.raises(InvalidRequest):
        f.list_dir(harness.repo, "../up", ref="main")


# --- merge request files


def test_list_mr_files(harness):
    harness.push_branch("base-files", {"old.txt": "old\n", "gone.txt": "bye\n"})
    harness.push_branch(
        "mr-files",
        {"src/new.py": "print(1)\n", "README.md": "# changed\n", "gone.txt": None},
        base="base-files",
    )
    mr = harness.forge.open_mr(harness.repo, head="mr-files", base="base-files", title="files")
    assert harness.forge.list_mr_files(harness.repo, mr.number) == [
        "README.md",
        "gone.txt",
        "src/new.py",
    ]


def test_list_mr_files_counts_both_sides_of_a_rename(harness):
    body = "a fairly long file body so that git sees a rename\n" * 20
    harness.push_branch("ren-base", {"docs/before.md": body})
    harness.push_branch("ren", {"docs/before.md": None, "docs/after.md": body}, base="ren-base")
    mr = harness.forge.open_mr(harness.repo, head="ren", base="ren-base", title="rename")
    assert harness.forge.list_mr_files(harness.repo, mr.number) == [
        "docs/after.md",
        "docs/before.md",
    ]


def test_list_mr_files_missing_mr_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.forge.list_mr_files(harness.repo, 9999)


# --- issues


def test_update_issue_edits_and_closes(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "draft title", "draft body")
    edited = f.update_issue(harness.repo, issue.number, title="Final title", body="Final body")
    assert (edited.title, edited.body, edited.state) == ("Final title", "Final body", "open")
    closed = f.update_issue(harness.repo, issue.number, state="closed")
    assert (closed.state, closed.title) == ("closed", "Final title")
    assert f.get_issue(harness.repo, issue.number).state == "closed"
    assert f.update_issue(harness.repo, issue.number, state="open").state == "open"


def test_update_issue_bad_cases(harness):
    f = harness.forge
    issue = f.create_issue(harness.repo, "keep me")
    with pytest.raises(InvalidRequest):
        f.update_issue(harness.repo, issue.number, state="merged")
    with pytest.raises(NotFound):
        f.update_issue(harness.repo, 9999, title="nope")
    assert f.get_issue(harness.repo, issue.number).title == "keep me"


def test_list_issues_filters_and_leaves_out_mrs(harness):
    f = harness.forge
    a = f.create_issue(harness.repo, "a", labels=["agentforge", "bug"])
    b = f.create_issue(harness.repo, "b", labels=["agentforge"])
    c = f.create_issue(harness.repo, "c")
    f.update_issue(harness.repo, b.number, state="closed")
    harness.push_branch("feature", {"x.txt": "x\n"})
    mr = f.open_mr(harness.repo, head="feature", base="main", title="an MR")
    f.add_labels(harness.repo, mr.number, ["agentforge"], is_mr=True)

    def numbers(**kw):
        return [i.number for i in f.list_issues(harness.repo, **kw)]

    assert numbers() == [a.number, c.number]
    assert numbers(state="closed") == [b.number]
    assert numbers(state="all") == [a.number, b.number, c.number]
    assert numbers(state="all", labels=["agentforge"]) == [a.number, b.number]
    assert numbers(labels=["agentforge", "bug"]) == [a.number]
    assert numbers(labels=["nothing-has-this"]) == []
    with pytest.raises(InvalidRequest):
        f.list_issues(harness.repo, state="merged")
    with pytest.raises(NotFound):
        f.list_issues("nobody/nothing-here")


# --- checks


def test_list_checks_sees_ci_and_statuses_latest_per_context(harness):
    f = harness.forge
    sha = harness.push_branch("checked", {"a.txt": "a\n"})
    assert f.list_checks(harness.repo, sha) == []
    f.set_commit_status(harness.repo, sha, CommitState.PENDING, context="agentforge")
    harness.report_check(sha, "tests", CommitState.RUNNING)
    harness.report_check(sha, "tests", CommitState.SUCCESS)
    harness.report_check(sha, "lint", CommitState.FAILURE)
    checks = f.list_checks(harness.repo, sha)
    assert [(c.context, c.state) for c in checks if c.context != "pipeline"] == [
        ("agentforge", CommitState.PENDING),
        ("lint", CommitState.FAILURE),
        ("tests", CommitState.SUCCESS),
    ]
    assert {c.sha for c in checks} == {sha}


def test_list_checks_of_another_commit_are_separate(harness):
    f = harness.forge
    first = harness.push_branch("two", {"a.txt": "1\n"})
    second = harness.push_branch("two", {"a.txt": "2\n"})
    harness.report_check(first, "tests", CommitState.FAILURE)
    assert f.list_checks(harness.repo, second) == []
    assert [c.state for c in f.list_checks(harness.repo, first)] == [CommitState.FAILURE]
