"""CheckoutGitView: log, diff and blame of a real repository made in the test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agents.roles.changes import ChangeSet
from bot.errors import GitError, RoleToolError
from bot.roles_git import CheckoutGitView, tracked_files

ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(root: Path, *args: str, author: str = "Ada", day: int = 0) -> str:
    stamp = f"{1_700_000_000 + day * 86400} +0000"
    env = {
        **os.environ,
        **ENV,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": f"{author.lower()}@example.com",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    out = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return out.stdout.decode().strip()


def commit(root: Path, files: dict[str, str], message: str, **kw) -> str:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, **kw)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"app.py": "a = 1\nb = 2\n", "README.md": "# App\n"}, "Start", day=0)
    commit(root, {"app.py": "a = 1\nb = 3\nc = 4\n"}, "Change b", author="Bo", day=1)
    commit(root, {"README.md": "# App\nMore.\n"}, "Docs", day=2)
    return root


def view(root: Path) -> CheckoutGitView:
    return CheckoutGitView(root, ChangeSet(root, writes=["**"], protected=[]))


def test_log_lists_newest_first_and_filters_by_path(repo):
    lines = view(repo).log().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["Docs", "Change b", "Start"]
    assert "2023-11-15 Bo" in lines[1]
    only_app = view(repo).log("app.py").splitlines()
    assert [line.split(": ", 1)[1] for line in only_app] == ["Change b", "Start"]
    assert len(view(repo).log(limit=1).splitlines()) == 1


def test_diff_against_a_base_is_a_unified_diff(repo):
    diff = view(repo).diff("HEAD~2")
    assert "--- a/app.py\n+++ b/app.py\n" in diff
    assert "-b = 2\n+b = 3\n+c = 4\n" in diff
    assert "README.md" in diff
    assert "README.md" not in view(repo).diff("HEAD~2", "app.py")


def test_diff_without_base_is_the_staged_change_set(repo):
    changes = ChangeSet(repo, writes=["**"], protected=[])
    changes.write("app.py", "a = 1\n")
    diff = CheckoutGitView(repo, changes).diff()
    assert diff.startswith("diff --git a/app.py b/app.py\n")
    assert "-b = 3\n" in diff


def test_blame_names_who_changed_each_line(repo):
    lines = view(repo).blame("app.py").splitlines()
    assert "(Ada " in lines[0] and lines[0].endswith("1 | a = 1")
    assert "(Bo " in lines[1] and lines[1].endswith("2 | b = 3")
    assert view(repo).blame("app.py", 3, 3).endswith("3 | c = 4")


def test_bad_requests_are_tool_errors(repo):
    v = view(repo)
    with pytest.raises(RoleToolError):
        v.diff("no-such-branch")
    with pytest.raises(RoleToolError):
        v.blame("missing.py")
    with pytest.raises(RoleToolError):
        v.blame("app.py", 10, 12)


def test_not_a_repository_is_a_git_error(tmp_path):
    with pytest.raises(GitError):
        view(tmp_path)
    assert tracked_files(tmp_path) is None


def test_tracked_files_come_from_the_index(repo):
    (repo / "build.log").write_text("x")
    assert tracked_files(repo) == ["README.md", "app.py"]


def test_an_empty_repository_has_no_log(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    assert view(tmp_path).log() == ""
    with pytest.raises(RoleToolError):
        view(tmp_path).blame("x")
