"""The LanceDB index: full build, incremental updates, bad input, crashes, corruption."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.context.history import GitHistory
from bot.context.index import RepoIndex, chunk_terms
from bot.errors import StoreLocked


def rows(index: RepoIndex) -> list[dict]:
    table = index.open_table()
    return table.to_arrow().select(["path", "start_line", "commit", "blob", "kind"]).to_pylist()


def paths(index: RepoIndex) -> set[str]:
    return {r["path"] for r in rows(index)}


def test_full_build_records_rows_and_state(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    report = index.update(history)
    head = history.resolve()
    assert report.commit == head
    assert report.files_total == 5 and report.files_indexed == 5
    assert report.chunks_total == report.chunks_added == len(rows(index))
    assert paths(index) == {
        "pkg/sessions.py",
        "pkg/models.py",
        "tests/test_sessions.py",
        "README.md",
    }
    assert {r["commit"] for r in rows(index)} == {head}
    kinds = {r["path"]: r["kind"] for r in rows(index)}
    assert kinds["tests/test_sessions.py"] == "test" and kinds["README.md"] == "doc"
    state = index.read_state()
    assert state["commit"] == head and set(state["files"]) == {
        e.path for e in history.list_files()[0]
    }
    again = index.update(history)
    assert again.files_indexed == 0 and again.chunks_added == 0 and not again.repaired


def test_incremental_edit_rename_delete(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    before = {(r["path"], r["start_line"]) for r in rows(index)}
    sample_repo.git("mv", "pkg/models.py", "pkg/model.py")
    sample_repo.commit(
        {"pkg/sessions.py": "def only():\n    return 1\n"}, "edit+rename+delete",
        delete=("README.md",),
    )  # fmt: skip
    report = index.update(history)
    assert report.files_indexed == 2  # the edit and the renamed path
    assert report.files_removed == 2  # README.md and the old name
    now = rows(index)
    assert paths(index) == {"pkg/sessions.py", "pkg/model.py", "tests/test_sessions.py"}
    assert [r["start_line"] for r in now if r["path"] == "pkg/sessions.py"] == [1]
    unchanged = [r for r in now if r["path"] == "tests/test_sessions.py"]
    assert {(r["path"], r["start_line"]) for r in unchanged} <= before
    head = history.resolve()
    assert {r["commit"] for r in now if r["path"] == "pkg/model.py"} == {head}
    # Full-text search sees the new content and no longer the deleted file.
    table = index.open_table()
    hits = table.search("only", query_type="fts").limit(5).to_arrow()["path"].to_pylist()
    assert hits == ["pkg/sessions.py"]
    assert table.search("tiny", query_type="fts").limit(5).to_arrow().num_rows == 0
    # Going back to an older commit is just another diff.
    back = index.update(history, "HEAD~1")
    assert back.files_indexed == 3 and back.files_removed == 1
    assert "README.md" in paths(index) and "pkg/model.py" not in paths(index)


def test_bad_files_are_skipped(git_repo, tmp_path: Path, caplog) -> None:
    os.symlink("/etc/passwd", git_repo.path / "escape.py")
    git_repo.commit(
        {
            "ok.py": "def fine():\n    return 'ok'\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            "huge.txt": "word " * 400,
            "latin.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
            "empty.py": "",
        },
        "bad input",
    )
    index = RepoIndex(tmp_path / "idx", repo="acme/bad", max_file_bytes=1000)
    with caplog.at_level(logging.INFO, logger="bot.context.index"):
        report = index.update(GitHistory(git_repo.path))
    assert dict(report.skipped) == {
        "escape.py": "symlink", "logo.png": "binary", "huge.txt": "too large",
    }  # fmt: skip
    assert "huge.txt" in caplog.text
    assert paths(index) == {"ok.py", "latin.txt"}
    text = index.open_table().to_arrow()["text"].to_pylist()
    assert "café crème" in text


def test_empty_repository_indexes_nothing(git_repo, tmp_path: Path) -> None:
    index = RepoIndex(tmp_path / "idx", repo="acme/empty")
    report = index.update(GitHistory(git_repo.path))
    assert report.commit is None and report.files_total == 0 and report.chunks_total == 0
    assert index.open_table() is None


def test_corrupt_index_is_rebuilt_with_a_warning(sample_repo, tmp_path: Path, caplog) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    table_dir = tmp_path / "idx" / "lance" / "chunks.lance"
    shutil.rmtree(table_dir / "_versions")
    (table_dir / "_versions").write_text("garbage")
    fresh = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    with caplog.at_level(logging.WARNING, logger="bot.context.index"):
        report = fresh.update(history)
    assert report.rebuilt and report.files_indexed == 5
    assert "corrupt" in caplog.text.lower()
    assert paths(fresh) == {
        "pkg/sessions.py",
        "pkg/models.py",
        "tests/test_sessions.py",
        "README.md",
    }


def test_garbage_state_file_is_repaired_from_rows(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    (tmp_path / "idx" / "state.json").write_text("{not json")
    report = index.update(history)
    assert report.repaired and not report.rebuilt
    # Indexed files are recovered from the rows; only files without rows are re-read.
    assert report.files_indexed == 1  # pkg/__init__.py is empty, so it has no rows
    assert len(rows(index)) == report.chunks_total


_KILLER = """
import os, signal, sys
import bot.context.index as m
from bot.context.history import GitHistory
m._BATCH_FILES = 2
index = m.RepoIndex(sys.argv[2], repo="acme/big")
def progress(done, total):
    if done >= 4:
        os.kill(os.getpid(), signal.SIGKILL)
index.update(GitHistory(sys.argv[1]), progress=progress)
"""


def test_kill_mid_build_is_repaired_by_next_run(git_repo, tmp_path: Path) -> None:
    files = {f"mod{i}.py": f"def func_{i}():\n    return {i}\n" for i in range(10)}
    git_repo.commit(files, "ten files")
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, str(git_repo.path), str(tmp_path / "idx")],
        capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == -9
    index = RepoIndex(tmp_path / "idx", repo="acme/big")
    assert index.read_state() is None  # the killed run never recorded completion
    survived = paths(index)
    assert 0 < len(survived) < 10
    report = index.update(GitHistory(git_repo.path))
    assert report.repaired
    assert report.files_indexed == 10 - len(survived)  # only what the kill lost
    assert sorted(r["path"] for r in rows(index)) == sorted(files)
    state = json.loads((tmp_path / "idx" / "state.json").read_text())
    assert set(state["files"]) == set(files)


def test_second_writer_is_refused(sample_repo, tmp_path: Path) -> None:
    import fcntl

    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    (tmp_path / "idx").mkdir()
    with open(tmp_path / "idx" / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(StoreLocked):
            index.update(GitHistory(sample_repo.path))


def test_discussions_are_indexed_and_survive_code_updates(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg")
    index.update(history)
    assert index.add_discussion(7, "Timeouts ignored", "Session ignores timeout", ["me too"]) == 1
    sample_repo.commit({"pkg/models.py": "X = 1\n"}, "edit")
    report = index.update(history)
    assert not report.repaired and report.files_indexed == 1
    found = [r for r in rows(index) if r["kind"] == "discussion"]
    assert [r["path"] for r in found] == ["#7"]
    assert index.add_discussion(7, "Timeouts ignored", "edited", []) == 1
    assert [r["path"] for r in rows(index) if r["kind"] == "discussion"] == ["#7"]


def test_chunk_terms_include_path_and_symbols() -> None:
    from bot.context.chunking import Chunk

    terms = chunk_terms(Chunk("src/http_client.py", 1, 2, "code", "py", ("getPage",), "x = 1"))
    assert terms.split().count("getpage") == 2
    assert "http" in terms.split() and "client" in terms.split()


def test_include_and_exclude_choose_the_files(sample_repo, tmp_path: Path) -> None:
    history = GitHistory(sample_repo.path)
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg", include=["pkg/**", "README.md"])
    report = index.update(history)
    assert paths(index) == {"pkg/sessions.py", "pkg/models.py", "README.md"}
    assert ("tests/test_sessions.py", "not in index.include") in report.skipped

    # A narrower selection on the next update removes what no longer matches.
    narrower = RepoIndex(
        tmp_path / "idx", repo="acme/pkg", include=["pkg/**", "README.md"], exclude=["*.md"]
    )
    again = narrower.update(history)
    assert paths(narrower) == {"pkg/sessions.py", "pkg/models.py"}
    assert again.files_removed == 1 and ("README.md", "in index.exclude") in again.skipped


def test_max_file_bytes_from_the_selection_is_honoured(sample_repo, tmp_path: Path) -> None:
    from bot.repoconfig.schema import IndexConfig
    from bot.roles_context import index_options

    options = index_options(IndexConfig(max_file_bytes=10), operator_max=1_000)
    assert options["max_file_bytes"] == 10
    # The operator's cap wins over a repository asking for more.
    assert (
        index_options(IndexConfig(max_file_bytes=10_000), operator_max=1_000)["max_file_bytes"]
        == 1_000
    )
    index = RepoIndex(tmp_path / "idx", repo="acme/pkg", **options)
    report = index.update(GitHistory(sample_repo.path))
    assert {reason for _, reason in report.skipped} == {"too large"}
