"""`agentforge index` and `agentforge search` end to end on a tiny repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.cli import main


def test_index_then_search_json(sample_repo, data_dir: Path, capsys) -> None:
    assert main(["index", str(sample_repo.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"] == 5 and result["chunks"] > 0 and result["seconds"] >= 0
    assert Path(result["index_dir"]).is_relative_to(data_dir / "index" / "local")

    assert main(["search", str(sample_repo.path), "Session.merge_hooks", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["results"][0]["path"] == "pkg/sessions.py"
    assert found["results"][0]["spans"]


def test_plain_output_and_incremental_rerun(sample_repo, data_dir: Path, capsys) -> None:
    assert main(["index", str(sample_repo.path), "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert "5 files" in first and "chunks" in first
    sample_repo.commit({"pkg/models.py": "def renamed_thing():\n    pass\n"}, "edit")
    assert main(["index", str(sample_repo.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files_indexed"] == 1
    assert main(["search", str(sample_repo.path), "renamed thing", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) <= 2 and lines[0].split()[1] == "pkg/models.py" and "lines 1-2" in lines[0]


def test_search_pack_output(sample_repo, data_dir: Path, capsys, tmp_path: Path) -> None:
    idx = tmp_path / "custom-index"
    assert main(["index", str(sample_repo.path), "--index-dir", str(idx), "--json"]) == 0
    capsys.readouterr()
    argv = ["search", str(sample_repo.path), "multipart body", "--index-dir", str(idx)]
    assert main([*argv, "--pack", "500", "--json"]) == 0
    pack = json.loads(capsys.readouterr().out)
    assert pack["tokens"] <= 500 and pack["items"][0]["path"] == "pkg/models.py"


def test_search_without_index_is_a_usage_error(sample_repo, data_dir: Path, capsys) -> None:
    assert main(["search", str(sample_repo.path), "anything"]) == 2
    assert "agentforge index" in capsys.readouterr().err


def test_index_of_a_non_repository_fails_cleanly(tmp_path: Path, data_dir: Path, capsys) -> None:
    assert main(["index", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("error:")


def test_help_does_not_import_lancedb_or_pygit2() -> None:
    code = (
        "import sys\nfrom bot.cli import main\n"
        "try:\n    main(['index', '--help'])\nexcept SystemExit:\n    pass\n"
        "main(['search', '--help'])\n"
        "print('lancedb' in sys.modules, 'pygit2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_index_reads_the_repository_index_config(sample_repo, data_dir: Path, capsys) -> None:
    sample_repo.commit({".agentforge/config.yaml": "index:\n  exclude: ['tests/**']\n"}, "cfg")
    assert main(["index", str(sample_repo.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"] == 5  # six committed files, the excluded test left out


def test_index_with_a_broken_config_names_file_and_field(
    sample_repo, data_dir: Path, capsys
) -> None:
    sample_repo.commit({".agentforge/config.yaml": "index:\n  exclud: ['tests/**']\n"}, "cfg")
    assert main(["index", str(sample_repo.path), "--json"]) != 0
    err = capsys.readouterr().err
    assert "config.yaml" in err and "exclud" in err
