"""The git workspace: clone/reuse, branches, safe writes, commits with trailers, push."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest

from bot.errors import GitError, UnsafePath, WorkspaceError
from bot.workspace import (
    Identity,
    Workspace,
    add_trailers,
    cache_path,
    parse_trailers,
    split_credentials,
)

ME = Identity("Dev Bot", "bot@example.test")


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with README.md on main and a `dev` branch."""
    src = tmp_path / "src"
    src.mkdir()
    _git(src, "init", "-q", "-b", "main")
    (src / "README.md").write_text("# hello\n")
    _git(src, "add", ".")
    _git(src, "commit", "-qm", "init")
    _git(src, "branch", "dev")
    bare = tmp_path / "remote.git"
    _git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    return bare


@pytest.fixture
def ws(remote: Path, tmp_path: Path) -> Workspace:
    return Workspace.open(remote, tmp_path / "work")


def test_clone_checks_out_default_branch(ws):
    assert ws.branch == "main"
    assert ws.read_file("README.md") == b"# hello\n"


def test_reopen_fetches_instead_of_recloning(remote, tmp_path):
    path = tmp_path / "cached"
    first = Workspace.open(remote.as_uri(), path)
    marker = path / ".git" / "agentforge-marker"
    marker.write_text("kept")
    other = Workspace.open(remote, tmp_path / "other")
    other.create_branch("new-remote-branch", "main")
    other.write_file("n.txt", "n")
    other.commit("n", author=ME)
    other.push()
    again = Workspace.open(remote, path)
    assert marker.read_text() == "kept"  # same clone, not a fresh one
    assert again.path == first.path
    assert again.read_file("n.txt", "origin/new-remote-branch") == b"n"


def test_open_refuses_a_non_clone_directory(remote, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(GitError):
        Workspace.open(remote, busy)


def test_clone_of_missing_remote_is_git_error(tmp_path):
    with pytest.raises(GitError):
        Workspace.open(tmp_path / "nope.git", tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_branch_commit_trailers_and_log(ws):
    start = ws.create_branch("feature", "main")
    ws.write_file("src/app.py", "print('hi')\n")
    sha = ws.commit(
        "Add app\n\nThe first module.",
        author=ME,
        committer=Identity("Committer", "c@example.test"),
        trailers={"Agentforge-Run": "run-7", "Agentforge-Phase": "build", "Agentforge-Role": "dev"},
    )
    info = ws.commit_info(sha)
    assert info.parents == (start,)
    assert info.subject == "Add app"
    assert info.author == ME
    assert info.committer.name == "Committer"
    assert info.trailer("agentforge-run") == "run-7"
    assert dict(info.trailers) == {
        "Agentforge-Run": "run-7",
        "Agentforge-Phase": "build",
        "Agentforge-Role": "dev",
    }
    assert [c.sha for c in ws.log("feature")] == [sha, start]
    assert ws.log("feature", limit=1)[0].sha == sha
    assert ws.changed_files("main", "feature") == ["src/app.py"]


def test_git_reads_our_trailers(ws):
    ws.create_branch("t", "main")
    ws.write_file("a.txt", "a")
    sha = ws.commit("Msg", author=ME, trailers={"Agentforge-Run": "r1"})
    parsed = subprocess.run(
        ["git", "log", "-1", "--format=%(trailers:key=Agentforge-Run,valueonly)", sha],
        cwd=ws.path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert parsed == "r1"


def test_empty_commit_is_skipped(ws):
    ws.create_branch("noop", "main")
    assert ws.commit("nothing", author=ME) is None
    ws.write_file("README.md", "# hello\n")  # same content
    assert ws.commit("same", author=ME) is None


def test_delete_file(ws):
    ws.create_branch("del", "main")
    assert ws.delete_file("README.md") is True
    assert ws.delete_file("README.md") is False
    sha = ws.commit("Remove readme", author=ME)
    assert ws.read_file("README.md", sha) is None
    assert ws.changed_files("main", sha) == ["README.md"]


def test_executable_bit(ws):
    ws.create_branch("x", "main")
    ws.write_file("run.sh", "#!/bin/sh\n", executable=True)
    ws.commit("script", author=ME)
    assert ws.is_executable("run.sh") is True
    assert ws.is_executable("README.md") is False


@pytest.mark.parametrize(
    "bad",
    [
        "/etc/passwd",
        "../outside",
        "a/../../b",
        ".git/config",
        "sub/.git/hooks/x",
        ".GIT/x",
        "",
        "a\\b",
        "C:/x",
        "nul\x00byte",
    ],
)
def test_unsafe_paths_are_refused(ws, bad):
    with pytest.raises(UnsafePath):
        ws.write_file(bad, "x")
    with pytest.raises(UnsafePath):
        ws.delete_file(bad)


def test_symlink_escaping_the_tree_is_refused(ws, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.path / "link").symlink_to(outside)
    (ws.path / "gitlink").symlink_to(ws.path / ".git")
    with pytest.raises(UnsafePath):
        ws.write_file("link/evil.txt", "x")
    with pytest.raises(UnsafePath):
        ws.write_file("gitlink/config", "x")
    assert not (outside / "evil.txt").exists()


def test_nested_dot_dot_inside_tree_is_still_refused(ws):
    with pytest.raises(UnsafePath):
        ws.safe_path("docs/../README.md")


def test_push_and_non_fast_forward_rejection(remote, tmp_path):
    a = Workspace.open(remote, tmp_path / "a")
    b = Workspace.open(remote, tmp_path / "b")
    for w, text in ((a, "from a"), (b, "from b")):
        w.create_branch("shared", "main")
        w.write_file("f.txt", text)
        w.commit(text, author=ME)
    a.push()
    with pytest.raises(GitError):
        b.push()
    bare = pygit2.Repository(str(remote))
    assert str(bare.references["refs/heads/shared"].target) == a.head_sha()
    b.push(force=True)
    assert str(bare.references["refs/heads/shared"].target) == b.head_sha()


def test_push_without_a_branch_is_git_error(ws):
    ws._repo.set_head(ws._repo.head.target)  # detach HEAD
    with pytest.raises(GitError):
        ws.push()


def test_create_existing_branch_needs_reset(ws):
    ws.create_branch("twice", "main")
    with pytest.raises(GitError):
        ws.create_branch("twice", "main")
    ws.write_file("t.txt", "t")
    ws.commit("t", author=ME)
    assert ws.create_branch("twice", "main", reset=True) == ws.commit_info("main").sha
    assert ws.read_file("t.txt") is None


def test_unknown_base_and_branch(ws):
    with pytest.raises(GitError):
        ws.create_branch("x", "no-such-base")
    with pytest.raises(GitError):
        ws.checkout("no-such-branch")
    with pytest.raises(GitError):
        ws.read_file("README.md", "no-such-rev")


def test_checkout_remote_branch(ws):
    ws.checkout("dev")
    assert ws.branch == "dev"
    assert ws.read_file("README.md") == b"# hello\n"


def test_trailer_helpers():
    assert add_trailers("Subject", {"Agentforge-Run": "1"}) == "Subject\n\nAgentforge-Run: 1\n"
    joined = add_trailers("Subject\n\nSigned-off-by: a <a@a>", {"Agentforge-Role": "qa"})
    assert parse_trailers(joined) == [("Signed-off-by", "a <a@a>"), ("Agentforge-Role", "qa")]
    assert parse_trailers("Only: a subject line") == []
    assert parse_trailers("Subject\n\nbody text\nKey: v") == []
    assert parse_trailers("S\n\nKey: first\n  continued") == [("Key", "first continued")]
    with pytest.raises(WorkspaceError):
        add_trailers("S", {"bad key": "v"})
    with pytest.raises(WorkspaceError):
        add_trailers("S", {"Key": "two\nlines"})
    with pytest.raises(WorkspaceError):
        add_trailers("   ", None)


def test_split_credentials_keeps_tokens_out_of_urls():
    assert split_credentials("https://x-access-token:s3cret@github.com/a/b.git") == (
        "https://github.com/a/b.git",
        "x-access-token",
        "s3cret",
    )
    assert split_credentials("https://oauth2:t%40k@gitlab.example/g/p.git")[2] == "t@k"
    assert split_credentials("/srv/repo.git") == ("/srv/repo.git", None, None)
    assert split_credentials("https://github.com/a/b.git") == (
        "https://github.com/a/b.git",
        None,
        None,
    )


def test_clone_url_credentials_are_not_stored(remote, tmp_path):
    w = Workspace.open(remote, tmp_path / "w", token="s3cret")
    assert "s3cret" not in (w.path / ".git" / "config").read_text()


def test_cache_path(tmp_path):
    assert cache_path(tmp_path, "github", "acme/app") == tmp_path / "github" / "acme" / "app"
    assert cache_path(tmp_path, "gitlab", "g/sub/p") == tmp_path / "gitlab" / "g" / "sub" / "p"
    for bad in ("../x", "a/../b", "a//b", "a\\b"):
        with pytest.raises(UnsafePath):
            cache_path(tmp_path, "github", bad)
