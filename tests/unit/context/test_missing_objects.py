"""A repository that lacks some objects (partial clone, mirror without large files).

`git clone --filter=blob:none` or a mirror that dropped its large files leaves blobs
(or trees) out of the object database. Listing and indexing read what is there and say
what was skipped; one missing object never aborts the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.context.history import SKIP_MISSING, GitHistory
from bot.context.index import RepoIndex
from bot.errors import GitError


def drop_object(repo_path: Path, object_id: str) -> None:
    """Delete one loose object file, as a partial clone would never have fetched it."""
    loose = repo_path / ".git" / "objects" / object_id[:2] / object_id[2:]
    assert loose.is_file(), "expected a loose object (no gc has run)"
    loose.unlink()


@pytest.fixture
def partial_repo(git_repo):
    git_repo.commit(
        {
            "app/core.py": "def handle_request(timeout):\n    return timeout\n",
            "app/lost.py": "def vanished_function():\n    return 1\n",
            "data/big.csv": "id,value\n" + "1,2\n" * 50,
            "assets/sub/blob.json": '{"a": 1}\n',
            "README.md": "# Demo\n\nHandles requests.\n",
        },
        "init",
    )
    for rel in ("app/lost.py", "data/big.csv"):
        drop_object(git_repo.path, git_repo.git("rev-parse", f"HEAD:{rel}"))
    # A whole directory's tree object gone too.
    drop_object(git_repo.path, git_repo.git("rev-parse", "HEAD:assets/sub"))
    return git_repo


def test_list_files_lists_what_can_be_read_and_why_the_rest_was_skipped(partial_repo) -> None:
    history = GitHistory(partial_repo.path)
    files, skipped = history.list_files("HEAD")
    assert [f.path for f in files] == ["README.md", "app/core.py"]
    assert skipped == [
        ("app/lost.py", SKIP_MISSING),
        ("assets/sub/", SKIP_MISSING),
        ("data/big.csv", SKIP_MISSING),
    ]


def test_file_at_a_missing_object_is_a_git_error(partial_repo) -> None:
    with pytest.raises(GitError):
        GitHistory(partial_repo.path).file_at("app/lost.py")


def test_index_keeps_going_and_reports_missing_code_by_name(partial_repo, tmp_path) -> None:
    index = RepoIndex(tmp_path / "idx", repo="acme/partial")
    report = index.update(GitHistory(partial_repo.path))
    rows = index.open_table().to_arrow()["path"].to_pylist()
    assert set(rows) == {"README.md", "app/core.py"}
    code, data = report.missing()
    assert code == ["app/lost.py", "assets/sub/"]
    assert data == ["data/big.csv"]


def test_index_command_succeeds_and_names_the_missing_code_file(
    partial_repo, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("AGENTFORGE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = runner.invoke(cli, ["index", str(partial_repo.path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "app/lost.py" in result.stderr  # a code file: reported by name
    assert "data/big.csv" not in result.stderr  # data: counted, not listed
    assert "1 data file" in result.stderr
    as_json = runner.invoke(cli, ["index", str(partial_repo.path), "--json"])
    assert as_json.exit_code == 0, as_json.output
    out = json.loads(as_json.stdout)
    assert out["missing_code"] == ["app/lost.py", "assets/sub/"]
    assert out["missing_data"] == ["data/big.csv"]
    found = runner.invoke(
        cli, ["search", "handle_request timeout", "--repo", str(partial_repo.path)]
    )
    assert found.exit_code == 0, found.output
    assert "app/core.py" in found.stdout
