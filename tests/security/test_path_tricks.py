"""Path traversal, symlink tricks and look-alike names in proposed pushes.

Each hostile path is refused twice over: by the judge (the protected-paths policy,
before anything is written) and, with a judge that allows everything, by the git
workspace itself. Either way nothing lands on the forge and ``main`` is unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from bot.actions import FileChange, PushCommit
from bot.events import Actor, Event, EventKind, ForgeKind, RepoRef
from bot.executor import Executor, OutcomeStatus
from bot.forge import Permission
from bot.forges.local import LocalForge
from bot.judging import judge_factory
from policies.verdict import allow_all

REPO = "acme/app"
BOT = "agentforge-bot"
BRANCH = "agentforge/issue-1"

HOSTILE = [
    "../outside.txt",
    "src/../../outside.txt",
    "/tmp/agentforge-absolute.txt",
    ".git/hooks/post-checkout",
    "src/.GIT/config",
    "linked/passwd",  # ``linked`` is a symbolic link to /etc on main
    "linked",  # replacing the link itself
    "sub\\..\\..\\x.txt",
    "docs/read\u200bme.md",  # zero-width space
    "docs/\u202egnp.exe",  # right-to-left override
    "\uff0egithub/workflows/ci.yml",  # full-width dot
    ".github/workflows/\u0441i.yml",  # Cyrillic es
]
WORKSPACE_REFUSES = HOSTILE[:8]
"""The ones git itself refuses too (the look-alikes are valid names to git)."""


@pytest.fixture
def site(tmp_path: Path):
    seed = tmp_path / "seed"
    seed.mkdir()
    repo = pygit2.init_repository(str(seed), initial_head="main")
    (seed / "README.md").write_text("# app\n", encoding="utf-8")
    os.symlink("/etc", seed / "linked")
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("owner", "owner@localhost")
    repo.create_commit("HEAD", sig, sig, "seed", repo.index.write_tree(), [])
    owner = LocalForge(tmp_path / "forge", "owner")
    owner.init_project(REPO, seed)
    owner.grant(REPO, BOT, Permission.WRITE)
    return LocalForge(tmp_path / "forge", BOT, is_bot=True), tmp_path


def snapshot_of_forge(forge: LocalForge) -> dict[str, str]:
    bare = pygit2.Repository(str(forge.bare_path(REPO)))
    return {ref: str(bare.references[ref].target) for ref in bare.references}


def push(path: str) -> PushCommit:
    return PushCommit(
        repo=REPO,
        branch=BRANCH,
        base="main",
        message="hostile",
        changes=[FileChange(path="ok.txt", content="fine\n"), FileChange(path=path, content="x\n")],
        trailers={"Agentforge-Role": "devops"},
    )


def event() -> Event:
    return Event(
        forge=ForgeKind.LOCAL,
        kind=EventKind.ISSUE_COMMENT,
        repo=RepoRef(full_name=REPO, default_branch="main"),
        actor=Actor(login="owner"),
        number=1,
    )


@pytest.mark.parametrize("path", HOSTILE)
def test_the_judge_refuses_before_anything_is_written(site, path) -> None:
    forge, tmp = site
    before = snapshot_of_forge(forge)
    judge = judge_factory(tmp / "clones", bot_login=BOT)(event(), forge)
    [out] = Executor(forge, judge=judge, clones_dir=tmp / "clones").apply([push(path)])
    assert out.status == OutcomeStatus.DENIED, out.detail
    assert out.verdict is not None and out.verdict.policy == "protected_paths"
    assert snapshot_of_forge(forge) == before
    assert not Path("/tmp/agentforge-absolute.txt").exists()


@pytest.mark.parametrize("path", WORKSPACE_REFUSES)
def test_the_workspace_refuses_even_when_the_judge_allows(site, path) -> None:
    forge, tmp = site
    before = snapshot_of_forge(forge)
    [out] = Executor(forge, judge=allow_all, clones_dir=tmp / "clones").apply([push(path)])
    assert out.status == OutcomeStatus.FAILED, out.detail
    assert snapshot_of_forge(forge) == before
    assert not (tmp / "outside.txt").exists()
    assert not Path("/tmp/agentforge-absolute.txt").exists()
