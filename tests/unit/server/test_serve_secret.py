"""The webhook secret the forge needs: kept by the README command, its source named by serve."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.commands.serve import secret_sources
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
SECRET = "serve-secret-0123456789abcdef-not-for-logs"


def _readme_serve_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # The serve one-liner lives in "Running the webhook server" (Set up leads with the demo).
    setup = readme.split("### Running the webhook server", 1)[1]
    block = re.search(r"```bash\n(.+?)\n```", setup, re.S)
    assert block is not None
    return block.group(1).strip()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_readme_serve_command_keeps_the_secret_where_the_user_can_read_it(tmp_path) -> None:
    command = _readme_serve_command()
    assert command.startswith("pip install . && ") and command.endswith(" agentforge serve")
    # Everything between installing and serving, with the server replaced by a print.
    keep = command.removeprefix("pip install . && ").removesuffix(" agentforge serve")
    probe = keep + " sh -c 'printf %s \"$AGENTFORGE_GITHUB_WEBHOOK_SECRET\"'"
    runs = [
        subprocess.run(
            ["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert len(files) == 1
    kept = files[0].read_text().strip()
    assert len(kept) >= 32
    assert runs == [kept, kept]  # generated once, the same value on the next start
    assert stat.S_IMODE(files[0].stat().st_mode) & 0o077 == 0  # only the user reads it
    assert files[0].name in (ROOT / "README.md").read_text(encoding="utf-8")


def test_secret_sources_name_the_variable_and_never_the_value(monkeypatch) -> None:
    monkeypatch.setenv("AGENTFORGE_GITHUB_WEBHOOK_SECRET", f"{SECRET},{SECRET}-old")
    settings = load_settings()
    lines = secret_sources(settings, os.environ)
    assert len(lines) == 1
    line = lines[0]
    assert line["forge"] == "github"
    assert line["setting"] == "AGENTFORGE_GITHUB_WEBHOOK_SECRET"
    assert (line["source"], line["count"]) == ("environment", 2)
    assert "AGENTFORGE_GITHUB_WEBHOOK_SECRET" in line["hint"]
    assert SECRET not in json.dumps(lines)


def test_secret_from_the_settings_file_names_the_file(tmp_path, monkeypatch) -> None:
    file = tmp_path / "settings.yaml"
    file.write_text(f"gitlab_webhook_token: {SECRET}\n")
    monkeypatch.setenv("AGENTFORGE_SETTINGS_FILE", str(file))
    lines = secret_sources(load_settings(), os.environ)
    assert [(x["forge"], x["source"]) for x in lines] == [("gitlab", f"settings file {file}")]
    assert "gitlab_webhook_token" in lines[0]["hint"]
    assert SECRET not in json.dumps(lines)


def test_serve_logs_where_the_secret_comes_from_at_start(monkeypatch) -> None:
    import uvicorn

    import bot.logs

    monkeypatch.setenv("AGENTFORGE_GITHUB_WEBHOOK_SECRET", SECRET)
    stream = io.StringIO()
    configure = bot.logs.configure_logging
    monkeypatch.setattr(
        bot.logs, "configure_logging", lambda level, fmt: configure(level, fmt, stream)
    )
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)  # start-up only
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    finally:
        configure("WARNING", "json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in stream.getvalue().splitlines() if x.strip()]
    secret = [x for x in lines if x.get("event") == "webhook secret"]
    assert [(x["forge"], x["source"]) for x in secret] == [("github", "environment")]
    assert SECRET not in stream.getvalue() and SECRET not in result.output
