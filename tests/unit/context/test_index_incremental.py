"""Index updates diff the indexed commit against the new one: only changed files are
listed and re-chunked, the result equals a full build, and anything the diff cannot
vouch for falls back to listing the whole tree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.context.history import SKIP_SYMLINK, GitHistory
from bot.context.index import FOLD_FRAGMENTS, RepoIndex


def _rows(index: RepoIndex) -> set[tuple]:
    table = index.open_table()
    data = table.to_arrow().select(["path", "start_line", "blob", "text"]).to_pylist()
    return {(r["path"], r["start_line"], r["blob"], r["text"]) for r in data}


@pytest.fixture
def no_full_listing(monkeypatch):
    """Make a walk of the whole tree fail the test."""

    def refuse(self, rev="HEAD"):
        raise AssertionError("the whole tree was listed")

    def arm():
        monkeypatch.setattr(GitHistory, "list_files", refuse)

    return arm


def test_an_update_lists_only_what_changed_and_equals_a_full_build(
    sample_repo, tmp_path: Path, no_full_listing
) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    sample_repo.write("pkg/new.py", "def fresh():\n    return 2\n")
    os.remove(sample_repo.path / "README.md")
    os.symlink("pkg/models.py", sample_repo.path / "README.md")  # a file becomes a link
    sample_repo.commit({"pkg/sessions.py": "def only():\n    return 1\n"}, "mixed")
    no_full_listing()
    report = index.update(history)
    assert report.files_indexed == 2  # sessions.py and new.py; nothing else re-read
    assert report.files_removed == 1  # README.md is a link now
    assert ("README.md", SKIP_SYMLINK) in report.skipped
    assert report.files_total == len(index.read_state()["files"]) == 5
    assert index.read_state()["files_at"] == history.resolve()
    hits = index.open_table().search("fresh", query_type="fts").limit(3).to_arrow()
    assert hits["path"].to_pylist() == ["pkg/new.py"]


def test_a_full_build_and_an_update_agree(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    sample_repo.write("docs/guide.md", "# Guide\n\nHow to merge hooks.\n")
    sample_repo.commit(
        {"pkg/sessions.py": "def only():\n    return 1\n"}, "edit", delete=("README.md",)
    )
    index.update(history)
    fresh = RepoIndex(tmp_path / "fresh", repo="acme/pkg")
    fresh.update(history)
    assert _rows(index) == _rows(fresh)
    assert index.read_state()["files"] == fresh.read_state()["files"]
    assert index.read_state()["skipped"] == fresh.read_state()["skipped"]


def test_an_unreadable_indexed_commit_falls_back_to_listing(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    state_path = tmp_path / "idx" / "state.json"
    state = json.loads(state_path.read_text())
    state["files_at"] = "0" * 40  # e.g. indexed from another clone, since gc'd here
    state_path.write_text(json.dumps(state))
    sample_repo.commit({"pkg/sessions.py": "def only():\n    return 1\n"}, "edit")
    report = index.update(history)
    assert report.files_indexed == 1 and report.files_total == 5
    assert index.read_state()["files_at"] == history.resolve()


def test_the_fts_index_is_folded_only_once_enough_is_pending(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    table = index.open_table()
    name = next(i.name for i in table.list_indices() if i.index_type == "FTS")
    words = ["zebra", "yak", "wombat"]
    for n, word in enumerate(words):
        sample_repo.commit({"pkg/sessions.py": f"def {word}():\n    return {n}\n"}, word)
        index.update(history)
        # Not folded yet, and still found: searches cover rows outside the index.
        table = index.open_table()
        assert table.index_stats(name).num_unindexed_rows > 0
        hits = table.search(word, query_type="fts").limit(3).to_arrow()
        assert hits["path"].to_pylist() == ["pkg/sessions.py"]
        old = table.search(words[n - 1], query_type="fts").limit(3).to_arrow()
        assert n == 0 or old.num_rows == 0  # the replaced rows are gone from results
    # Writes pile up fragments until one write folds everything in; they never pile
    # up beyond the limit.
    unindexed, fragments = [], []
    for n in range(FOLD_FRAGMENTS + 2):
        index.add_discussion(n + 1, f"issue {n}", "body", [])
        table = index.open_table()
        unindexed.append(table.index_stats(name).num_unindexed_rows)
        fragments.append(table.stats()["fragment_stats"]["num_fragments"])
    assert 0 in unindexed and unindexed[0] > 0
    assert max(fragments) <= FOLD_FRAGMENTS
    assert table.search("wombat", query_type="fts").limit(3).to_arrow().num_rows == 1


def test_the_file_catalog_reads_only_new_contents_and_matches_a_scan(
    sample_repo, tmp_path: Path
) -> None:
    from bot.context import catalog
    from bot.context.retrieval import Retriever

    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    Retriever(index)._catalog()
    sample_repo.commit({"pkg/sessions.py": "class Fresh:\n    pass\n"}, "edit")
    index.update(history)
    index.add_discussion(3, "About Fresh", "where is it", [])
    before = set(catalog._entries)
    symbols, kinds = Retriever(index)._catalog()
    blob = index.read_state()["files"]["pkg/sessions.py"]
    assert set(catalog._entries) - before == {("pkg/sessions.py", blob)}
    assert symbols["Fresh"] == {"pkg/sessions.py"} and "Session" not in symbols
    assert "#3" not in kinds  # discussions are not files
    # The same as reading every row, with nothing cached and no state to go by.
    catalog._entries.clear()
    (tmp_path / "idx" / "state.json").unlink()
    assert Retriever(index)._catalog() == (symbols, kinds)
