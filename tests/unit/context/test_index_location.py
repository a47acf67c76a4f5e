"""Where `agentforge index` keeps an index, how `search` finds it, and what it holds.

The index is keyed by the repository's top directory and kept in the user's data
directory (or under AGENTFORGE_DATA_DIR): never in the repository or the current
directory, so `search --repo PATH` works from anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from platformdirs import user_data_path

from bot.cli import cli
from bot.settings import load_settings


@pytest.fixture
def user_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AGENTFORGE_DATA_DIR: the platform's user data directory, redirected to tmp."""
    for name in ("AGENTFORGE_DATA_DIR", "AGENTFORGE_SETTINGS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # Linux reads XDG_DATA_HOME, macOS derives its path from HOME: both point into tmp.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    where = user_data_path("agentforge", appauthor=False)
    assert where.is_relative_to(tmp_path)
    return where


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_index_dir_is_the_user_data_dir_unless_data_dir_is_set(user_data, monkeypatch) -> None:
    assert load_settings().index_dir == user_data / "index"
    monkeypatch.setenv("AGENTFORGE_DATA_DIR", "/srv/agentforge")
    assert load_settings().index_dir == Path("/srv/agentforge/index")


def test_index_inside_a_repository_leaves_nothing_there(
    sample_repo, user_data, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(sample_repo.path)
    result = invoke("index", ".", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert Path(out["index_dir"]).is_relative_to(user_data / "index" / "local")
    assert not (sample_repo.path / ".agentforge-data").exists()
    assert sample_repo.git("status", "--porcelain") == ""  # nothing untracked appeared


def test_search_with_repo_works_from_another_directory(
    sample_repo, user_data, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(sample_repo.path / "pkg")  # a sub-directory: same repository
    assert invoke("index", "--no-progress").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    found = invoke("search", "Session.merge_hooks", "--repo", str(sample_repo.path), "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["results"][0]["path"] == "pkg/sessions.py"
    # The older `search PATH QUERY` form finds the same index.
    legacy = invoke("search", str(sample_repo.path), "Session.merge_hooks")
    assert legacy.exit_code == 0 and "pkg/sessions.py" in legacy.stdout
    assert not (elsewhere / ".agentforge-data").exists()


def test_search_inside_the_repository_needs_only_the_query(
    sample_repo, user_data, monkeypatch
) -> None:
    assert invoke("index", str(sample_repo.path), "--no-progress").exit_code == 0
    monkeypatch.chdir(sample_repo.path / "pkg")
    found = invoke("search", "multipart body")
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines()[0].split()[1] == "pkg/models.py"


def test_search_without_hits_says_no_matches(sample_repo, data_dir) -> None:
    assert invoke("index", str(sample_repo.path), "--no-progress").exit_code == 0
    for extra in ([], ["--pack", "200"]):
        result = invoke("search", "zyzzogeton quux", "--repo", str(sample_repo.path), *extra)
        assert result.exit_code == 0, result.output
        assert "no matches" in result.stdout
    as_json = invoke("search", "zyzzogeton", "--repo", str(sample_repo.path), "--json")
    assert json.loads(as_json.stdout)["results"] == []


def test_search_with_repo_and_path_is_a_usage_error(sample_repo, data_dir) -> None:
    result = invoke("search", str(sample_repo.path), "q", "--repo", str(sample_repo.path))
    assert result.exit_code == 2
    assert "--repo" in result.stderr


def test_search_without_index_names_the_repository(sample_repo, data_dir) -> None:
    result = invoke("search", "anything", "--repo", str(sample_repo.path / "pkg"))
    assert result.exit_code == 2
    assert f"agentforge index {sample_repo.path.resolve()}" in result.stderr


def test_committed_files_only_by_default_and_said_so(sample_repo, data_dir) -> None:
    sample_repo.write("pkg/draft.py", "def uncommitted_wonder():\n    return 1\n")
    result = invoke("index", str(sample_repo.path), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "committed files" in result.stdout
    assert "1 uncommitted change" in result.stderr and "--worktree" in result.stderr
    miss = invoke("search", "uncommitted_wonder", "--repo", str(sample_repo.path), "--json")
    assert "pkg/draft.py" not in [r["path"] for r in json.loads(miss.stdout)["results"]]


def test_worktree_indexes_edits_and_untracked_files_but_not_ignored_ones(
    sample_repo, data_dir
) -> None:
    sample_repo.write(".gitignore", "secret_*.py\n")
    sample_repo.commit(message="ignore")
    sample_repo.write("pkg/draft.py", "def uncommitted_wonder():\n    return 1\n")
    sample_repo.write("secret_notes.py", "def uncommitted_wonder_secret():\n    pass\n")
    sample_repo.write("pkg/models.py", "def edited_on_disk_only():\n    pass\n")
    (sample_repo.path / "README.md").unlink()
    result = invoke("index", str(sample_repo.path), "--worktree", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["source"] == "worktree"
    found = invoke("search", "uncommitted_wonder", "--repo", str(sample_repo.path), "--json")
    paths = [r["path"] for r in json.loads(found.stdout)["results"]]
    assert "pkg/draft.py" in paths
    assert "secret_notes.py" not in paths
    edited = invoke("search", "edited_on_disk_only", "--repo", str(sample_repo.path), "--json")
    assert json.loads(edited.stdout)["results"][0]["path"] == "pkg/models.py"
    readme = invoke("search", "tiny HTTP library", "--repo", str(sample_repo.path), "--json")
    assert "README.md" not in [r["path"] for r in json.loads(readme.stdout)["results"]]
    # Indexing the commit again brings the committed contents back (incrementally).
    again = invoke("index", str(sample_repo.path), "--json")
    assert json.loads(again.stdout)["source"] == "commit"
    back = invoke("search", "tiny HTTP library", "--repo", str(sample_repo.path), "--json")
    assert "README.md" in [r["path"] for r in json.loads(back.stdout)["results"]]


def test_worktree_takes_no_rev(sample_repo, data_dir) -> None:
    result = invoke("index", str(sample_repo.path), "--worktree", "--rev", "HEAD~1")
    assert result.exit_code == 2
