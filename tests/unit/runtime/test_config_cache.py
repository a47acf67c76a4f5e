"""Validated configs cached by what names their content: invalidated when the default
branch moves, never served stale, never cached when invalid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2
import pytest

import bot.config_cache
from bot.config_cache import ConfigCache
from bot.errors import RepoConfigError
from bot.judging_git import GitFacts
from bot.services import ClonedHeads, ForgeConfigSource
from bot.workspace import Identity, Workspace

from .test_services import LOOSE, STRICT, FakeForge

REPO = "acme/app"
ME = Identity("t", "t@example.invalid")


@pytest.fixture
def validations(monkeypatch):
    """How many times a config was validated (``load_files`` calls)."""
    calls: list[dict] = []
    real = bot.config_cache.load_files

    def counting(files):
        calls.append(dict(files))
        return real(files)

    monkeypatch.setattr(bot.config_cache, "load_files", counting)
    return calls


def test_load_tree_reads_and_validates_once_per_id_and_never_caches_errors(validations):
    cache = ConfigCache()
    reads: list[str] = []

    def read(text):
        def reader():
            reads.append(text)
            return {".agentforge/config.yaml": text}

        return reader

    first = cache.load_tree("a" * 40, read(STRICT))
    assert cache.load_tree("a" * 40, read(LOOSE)) is first  # same id: not read again
    assert reads == [STRICT] and len(validations) == 1
    assert cache.load_tree("b" * 40, read(LOOSE)).config.approvers.users == ["mallory"]
    broken = "approvers: [not, a, mapping]\n"
    for _ in range(2):  # an invalid config is reported by every job, never remembered
        with pytest.raises(RepoConfigError):
            cache.load_tree("c" * 40, read(broken))
    assert reads == [STRICT, LOOSE, broken, broken]


def test_load_tree_evicts_the_least_recently_used():
    cache = ConfigCache(size=1)
    files = {".agentforge/config.yaml": STRICT}
    first = cache.load_tree("a" * 40, lambda: files)
    for n in "bcd":
        cache.load_tree(n * 40, lambda: files)
    calls: list[int] = []
    cache.load_tree("a" * 40, lambda: calls.append(1) or files)
    assert calls == [1]  # evicted, read again (the content digest still finds the config)
    assert cache.load_tree("a" * 40, lambda: files) is first


def test_the_source_reads_at_the_head_sha_and_again_only_when_it_moves(validations):
    forge = FakeForge()
    heads = {"main": "1" * 40}
    forge.files["1" * 40] = dict(forge.files["main"])
    cache = ConfigCache()

    def job():
        return ForgeConfigSource(forge, cache, lambda repo, branch: heads.get(branch))

    first = job().load(REPO, "main")
    assert set(forge.refs_read) == {"1" * 40}  # read at the sha the lookup gave
    forge.refs_read.clear()
    assert job().load(REPO, "main") is first  # a later job, same head: no reads
    assert forge.refs_read == [] and len(validations) == 1
    # The default branch moves: the new head's files are read and validated.
    heads["main"] = "2" * 40
    forge.files["2" * 40] = {".agentforge/config.yaml": LOOSE}
    moved = job().load(REPO, "main")
    assert moved.config.approvers.users == ["mallory"]
    assert set(forge.refs_read) == {"2" * 40}
    # No head known (the lookup failed): read by branch name, as without a lookup.
    forge.refs_read.clear()
    heads.clear()
    assert job().load(REPO, "main").config.approvers.min_permission.value == "admin"
    assert set(forge.refs_read) == {"main"}


def _origin(tmp_path: Path, config: str) -> tuple[Path, Workspace]:
    """A bare origin whose default branch (the seed's, pushed as ``main``) holds
    ``config``; ``seed.push("main")`` after each commit moves it."""
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    seed = Workspace.open(origin, tmp_path / "seed")
    seed.write_file(".agentforge/config.yaml", config)
    seed.write_file("app.py", "x = 1\n")
    seed.commit("initial", author=ME)
    if seed.branch != "main":
        seed.create_branch("main", seed.head_sha())
    seed.push("main")
    return origin, seed


def test_cloned_heads_follow_the_default_branch(tmp_path):
    origin, seed = _origin(tmp_path, STRICT)
    forge = FakeForge(origin)
    heads = ClonedHeads(forge, tmp_path / "clones")
    assert heads(REPO, "main") is None  # no clone yet: not made for a config read
    assert not (tmp_path / "clones" / "github").exists()
    Workspace.open(origin, tmp_path / "clones" / "github" / "acme" / "app")  # the executor's
    assert heads(REPO, "main") == seed.head_sha()
    seed.write_file("app.py", "x = 2\n")
    seed.commit("second", author=ME)
    seed.push("main")
    assert heads(REPO, "main") == seed.head_sha()  # fetched, not remembered
    assert heads(REPO, "no-such-branch") is None
    shutil.rmtree(origin)  # the forge cannot be reached: no head, the forge is read instead
    assert heads(REPO, "main") is None


def test_the_judge_revalidates_only_when_the_config_tree_changes(tmp_path, validations):
    origin, seed = _origin(tmp_path, STRICT)
    forge = FakeForge(origin)
    cache = ConfigCache()

    def judge_facts():  # one per event, sharing the cache, as judge_factory does
        return GitFacts(forge, tmp_path / "clones", cache)

    first = judge_facts().load_config(REPO, "main")
    assert first.config.approvers.min_permission.value == "admin"
    seed.write_file("app.py", "x = 2\n")  # the default branch moves, .agentforge/ does not
    seed.commit("code only", author=ME)
    seed.push("main")
    assert judge_facts().load_config(REPO, "main") is first
    assert len(validations) == 1
    seed.write_file(".agentforge/config.yaml", LOOSE)
    seed.commit("loosen", author=ME)
    seed.push("main")
    loosened = judge_facts().load_config(REPO, "main")
    assert loosened.config.approvers.users == ["mallory"]
    assert len(validations) == 2
