"""Git history read through pygit2 on tiny repositories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.context.history import GitHistory
from bot.errors import GitError


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError):
        GitHistory(tmp_path / "missing")


def test_empty_repository_has_no_files_or_history(git_repo) -> None:
    history = GitHistory(git_repo.path)
    assert history.is_empty
    assert history.list_files() == ([], [])
    assert history.commits_touching("a.py") == []
    assert history.change_stats().commits == 0
    with pytest.raises(GitError):
        history.resolve("HEAD")


def test_list_files_skips_symlinks_and_reads_blobs(sample_repo) -> None:
    os.symlink("/etc/passwd", sample_repo.path / "escape")
    os.symlink("pkg/models.py", sample_repo.path / "inside")
    sample_repo.commit(message="links")
    history = GitHistory(sample_repo.path)
    files, skipped = history.list_files("HEAD")
    paths = [f.path for f in files]
    assert "pkg/sessions.py" in paths and "README.md" in paths
    assert skipped == [("escape", "symlink"), ("inside", "symlink")]
    entry = next(f for f in files if f.path == "pkg/sessions.py")
    assert history.read_blob(entry.blob_id).startswith(b'"""Sessions."""')
    with pytest.raises(GitError):
        history.file_at("escape")  # a link is never followed
    with pytest.raises(GitError):
        history.file_at("nope.py")
    with pytest.raises(GitError):
        history.read_blob("0" * 40)


def test_file_at_old_revision_and_commits_touching(sample_repo) -> None:
    first = sample_repo.git("rev-parse", "HEAD")
    second = sample_repo.commit({"pkg/models.py": "X = 2\n"}, "change models")
    sample_repo.commit({"README.md": "# Pkg\n"}, "docs")
    history = GitHistory(sample_repo.path)
    assert history.file_at("pkg/models.py", first).startswith(b'"""Models."""')
    assert history.file_at("pkg/models.py") == b"X = 2\n"
    touching = history.commits_touching("pkg/models.py")
    assert [c.sha for c in touching] == [second, first]
    assert touching[0].summary == "change models" and touching[0].author == "Ada"
    assert history.commits_touching("pkg/models.py", limit=1)[0].sha == second
    with pytest.raises(GitError):
        history.resolve("no-such-branch")


def test_commit_diff_detects_rename_and_counts_lines(sample_repo) -> None:
    sample_repo.git("mv", "pkg/models.py", "pkg/model.py")
    sha = sample_repo.commit({"pkg/sessions.py": "changed = True\n"}, "rename")
    diff = GitHistory(sample_repo.path).commit_diff(sha)
    by_path = {f.path: f for f in diff.files}
    assert by_path["pkg/model.py"].status == "R"
    assert by_path["pkg/model.py"].old_path == "pkg/models.py"
    assert by_path["pkg/sessions.py"].status == "M"
    assert by_path["pkg/sessions.py"].additions == 1
    assert "changed = True" in diff.patch
    root = GitHistory(sample_repo.path).commit_diff("HEAD~1")
    assert {f.status for f in root.files} == {"A"}


def test_blame_summary_counts_lines_per_author(git_repo) -> None:
    git_repo.commit({"a.py": "one\ntwo\nthree\n"}, "first", author="Ada")
    git_repo.commit({"a.py": "one\ntwo\nTHREE\nfour\n"}, "second", author="Bob")
    blame = GitHistory(git_repo.path).blame_summary("a.py")
    assert [(b.author, b.lines) for b in blame] == [("Ada", 2), ("Bob", 2)]
    with pytest.raises(GitError):
        GitHistory(git_repo.path).blame_summary("missing.py")


def test_change_stats_co_change_and_recency(git_repo) -> None:
    git_repo.commit({"a.py": "1", "b.py": "1", "c.py": "1"}, "all")
    git_repo.commit({"a.py": "2", "b.py": "2"}, "a+b")
    git_repo.commit({"a.py": "3", "b.py": "3"}, "a+b again")
    git_repo.commit({"c.py": "2"}, "c alone")
    stats = GitHistory(git_repo.path).change_stats()
    assert stats.commits == 4
    assert stats.counts["a.py"] == 3 and stats.counts["c.py"] == 2
    co = stats.co_changed_with(["a.py"])
    assert co["b.py"] == 1.0 and co["c.py"] == pytest.approx(1 / 3)
    assert stats.recency("c.py") == 1.0
    assert 0 < stats.recency("a.py") < 1.0
    assert stats.recency("never.py") == 0.0
    bounded = GitHistory(git_repo.path).change_stats(max_commits=1)
    assert bounded.commits == 1 and "a.py" not in bounded.counts
