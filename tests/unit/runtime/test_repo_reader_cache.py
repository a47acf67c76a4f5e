"""Reads at the default branch are pinned to its head commit and kept; reads at the
run's own branch always go to the forge; a job looks each head up once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import Unavailable
from bot.services import CommitFiles, ForgeRepoReader, JobHeads

from .test_services import FakeForge

REPO = "acme/app"
CODEOWNERS = ".github/CODEOWNERS"


@pytest.fixture
def forge() -> FakeForge:
    forge = FakeForge()
    forge.files["1" * 40] = {CODEOWNERS: "* @ann\n"}
    forge.files["2" * 40] = {CODEOWNERS: "* @bob\n"}
    forge.files["agentforge/issue-7"][CODEOWNERS] = "* @mallory\n"
    return forge


def test_default_branch_reads_are_kept_by_head_commit_until_it_moves(forge, tmp_path: Path):
    files = CommitFiles()
    heads = {"main": "1" * 40}

    def job() -> ForgeRepoReader:
        return ForgeRepoReader(forge, tmp_path, JobHeads(lambda r, b: heads[b]), files)

    assert job().file_at(REPO, "main", CODEOWNERS) == "* @ann\n"
    assert job().file_at(REPO, "main", CODEOWNERS) == "* @ann\n"
    assert forge.refs_read == ["1" * 40]  # read once, at the commit, not by branch name
    # An absent file is remembered too: it is absent at that commit for good.
    assert job().file_at(REPO, "main", "CODEOWNERS") is None
    assert job().file_at(REPO, "main", "CODEOWNERS") is None
    assert forge.refs_read == ["1" * 40, "1" * 40]

    heads["main"] = "2" * 40  # the default branch moved: the new head is read
    assert job().file_at(REPO, "main", CODEOWNERS) == "* @bob\n"
    assert forge.refs_read[-1] == "2" * 40


def test_other_branches_always_read_the_forge(forge, tmp_path: Path):
    reader = ForgeRepoReader(forge, tmp_path, JobHeads(lambda r, b: "1" * 40), CommitFiles())
    for _ in range(2):
        assert reader.file_at(REPO, "agentforge/issue-7", CODEOWNERS) == "* @mallory\n"
    assert forge.refs_read == ["agentforge/issue-7", "agentforge/issue-7"]


def test_without_a_head_the_branch_is_read_by_name(forge, tmp_path: Path):
    forge.files["main"][CODEOWNERS] = "* @carol\n"
    reader = ForgeRepoReader(forge, tmp_path, JobHeads(lambda r, b: None), CommitFiles())
    assert reader.file_at(REPO, "main", CODEOWNERS) == "* @carol\n"
    assert reader.file_at(REPO, "main", CODEOWNERS) == "* @carol\n"
    assert forge.refs_read == ["main", "main"]


def test_a_failed_read_is_not_kept(forge, tmp_path: Path):
    files = CommitFiles()
    calls: list[int] = []

    def failing() -> str | None:
        calls.append(1)
        raise Unavailable("forge down")

    key = ("github", REPO, "1" * 40, CODEOWNERS)
    with pytest.raises(Unavailable):
        files.get(key, failing)
    assert files.get(key, lambda: "* @ann\n") == "* @ann\n"
    assert calls == [1]


def test_commit_files_evicts_the_least_recently_used():
    files = CommitFiles(size=2)
    for n in "abc":
        files.get(("github", REPO, n * 40, "f"), lambda n=n: n)
    reads: list[str] = []
    assert files.get(("github", REPO, "a" * 40, "f"), lambda: reads.append("a") or "a") == "a"
    assert reads == ["a"]  # evicted, read again


def test_job_heads_looks_each_branch_up_once():
    asked: list[tuple[str, str]] = []

    def heads(repo: str, branch: str) -> str:
        asked.append((repo, branch))
        return "1" * 40

    job = JobHeads(heads)
    assert job(REPO, "main") == job(REPO, "main") == "1" * 40
    job("acme/other", "main")
    assert asked == [(REPO, "main"), ("acme/other", "main")]
