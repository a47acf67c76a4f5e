"""``agentforge parse-event``: output, error exits, and start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli, main
from tests.conftest import webhook_path


def issue_opened() -> Path:
    """The recorded payload file (skips the test without the shared payloads)."""
    return webhook_path("github", "issues.opened.json")


def mr_note() -> Path:
    """The recorded payload file (skips the test without the shared payloads)."""
    return webhook_path("gitlab", "note_hook.merge_request.go-scm.json")


def test_prints_one_json_summary() -> None:
    result = CliRunner().invoke(
        cli,
        ["parse-event", "--forge", "github", "--event", "issues", "--delivery-id", "d-42",
         str(issue_opened())],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["forge"], out["kind"], out["action"]) == ("github", "issue", "opened")
    assert out["delivery_id"] == "d-42"
    assert out["repo"]["full_name"] == "Codertocat/Hello-World"
    assert out["actor"]["login"] == "Codertocat"
    assert out["number"] == 1
    assert "raw" not in out
    for key in ("comment", "head_sha"):
        assert key in out


def test_raw_flag_adds_the_payload() -> None:
    result = CliRunner().invoke(
        cli, ["parse-event", "--forge", "gitlab", "--event", "Note Hook", "--raw", str(mr_note())]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["raw"] == json.loads(mr_note().read_text(encoding="utf-8"))
    assert (out["kind"], out["comment"], out["number"]) == ("mr_comment", "lgtm", 1)
    assert out["head_sha"] == "c4c79227ed610f1151f05bbc5be33b4f340d39c8"


def test_reads_stdin() -> None:
    result = CliRunner().invoke(
        cli,
        ["parse-event", "--forge", "github", "--event", "issues", "-"],
        input=issue_opened().read_bytes(),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["title"] == "Spelling error in the README file"


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "truncated": b'{"action": "opened", "issue": {"number": 1',
        "not-utf8": b'{"action": "\xff\xfe"}',
        "array": b"[1, 2, 3]",
        "shape": json.dumps({"action": "opened", "repository": {"full_name": "a/b"}}).encode(),
    }
    out = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        out[name] = path
    out["missing"] = tmp_path / "does-not-exist.json"
    return out


@pytest.mark.parametrize("case", ["truncated", "not-utf8", "array", "shape", "missing"])
def test_bad_input_exits_2_naming_the_file(
    case: str, bad_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = bad_files[case]
    code = main(["parse-event", "--forge", "github", "--event", "issues", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert path.name in captured.err


def test_bad_stdin_names_stdin(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{oops")))
    code = main(["parse-event", "--forge", "gitlab", "--event", "Issue Hook", "-"])
    assert code == 2
    assert "<stdin>" in capsys.readouterr().err


def test_unknown_forge_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["parse-event", "--forge", "bitbucket", "--event", "x", str(issue_opened())])
    assert code == 2
    assert "bitbucket" in capsys.readouterr().err


def test_unknown_event_is_printed_as_ignored() -> None:
    result = CliRunner().invoke(
        cli, ["parse-event", "--forge", "github", "--event", "star", str(issue_opened())]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "ignored"
    assert out["reason"]


def _console_script() -> str:
    script = Path(sys.executable).with_name("agentforge")
    if not script.exists():
        pytest.fail(f"console script not installed next to {sys.executable}")
    return str(script)


def test_console_script_end_to_end(tmp_path: Path) -> None:
    ok = subprocess.run(
        [_console_script(), "parse-event", "--forge", "gitlab", "--event", "Push Hook",
         str(webhook_path("gitlab", "push_hook.docs.json"))],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert (out["kind"], out["action"], out["head_ref"]) == ("push", "pushed", "master")
    assert out["head_sha"] == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"

    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{")
    failed = subprocess.run(
        [_console_script(), "parse-event", "--forge", "github", "--event", "issues", str(bad)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert failed.returncode == 2
    assert "bad.json" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_parse_event_imports_no_heavy_library() -> None:
    heavy = ["fastapi", "uvicorn", "github3", "gitlab", "pygit2", "git", "duckdb", "lancedb",
             "smolagents", "anthropic", "openai"]  # fmt: skip
    argv = ["parse-event", "--forge", "github", "--event", "issues", str(issue_opened())]
    code = (
        "import sys, contextlib, io\n"
        "from bot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({argv!r})\n"
        f"print(rc, sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "[]"]
