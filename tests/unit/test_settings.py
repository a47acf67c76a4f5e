"""Settings: environment, optional file, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("AGENTFORGE_"):
            monkeypatch.delenv(key)


def test_defaults():
    s = load_settings()
    assert s.data_dir == Path(".agentforge-data")
    assert s.db_path == Path(".agentforge-data/agentforge.duckdb")
    assert s.github_webhook_secret == []
    assert s.github_url == "https://api.github.com"


def test_comma_separated_secrets_for_rotation(monkeypatch):
    monkeypatch.setenv("AGENTFORGE_GITHUB_WEBHOOK_SECRET", "old-secret, new-secret")
    monkeypatch.setenv("AGENTFORGE_GITLAB_WEBHOOK_TOKEN", "only-one")
    s = load_settings()
    assert [x.get_secret_value() for x in s.github_webhook_secret] == ["old-secret", "new-secret"]
    assert [x.get_secret_value() for x in s.gitlab_webhook_token] == ["only-one"]


def test_secrets_never_appear_in_repr(monkeypatch):
    monkeypatch.setenv("AGENTFORGE_GITHUB_TOKEN", "ghp_supersecretvalue")
    s = load_settings()
    assert "ghp_supersecretvalue" not in repr(s)
    assert "ghp_supersecretvalue" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENTFORGE_WORKERS", "many"),
        ("AGENTFORGE_WORKERS", "0"),
        ("AGENTFORGE_GITHUB_URL", "api.github.com"),
        ("AGENTFORGE_LOG_LEVEL", "LOUD"),
        ("AGENTFORGE_MAX_BODY_BYTES", "-1"),
    ],
)
def test_bad_value_names_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert info.value.variable == name
    assert name in str(info.value)


def test_settings_file_yaml_and_env_precedence(monkeypatch, tmp_path):
    f = tmp_path / "agentforge.yaml"
    f.write_text("data_dir: /srv/af\nworkers: 7\ngitlab_url: https://gitlab.example.com/\n")
    monkeypatch.setenv("AGENTFORGE_SETTINGS_FILE", str(f))
    monkeypatch.setenv("AGENTFORGE_WORKERS", "3")
    s = load_settings()
    assert s.data_dir == Path("/srv/af")
    assert s.workers == 3  # the environment beats the file
    assert s.gitlab_url == "https://gitlab.example.com"


def test_settings_file_toml(monkeypatch, tmp_path):
    f = tmp_path / "agentforge.toml"
    f.write_text('repo_allowlist = "acme/*, other/one"\n')
    monkeypatch.setenv("AGENTFORGE_SETTINGS_FILE", str(f))
    assert load_settings().repo_allowlist == ["acme/*", "other/one"]


@pytest.mark.parametrize(
    "content", ["workers: [1, 2\n", "- a\n- b\n", "wrokers: 3\n"], ids=["syntax", "list", "typo"]
)
def test_bad_settings_file(monkeypatch, tmp_path, content):
    f = tmp_path / "s.yaml"
    f.write_text(content)
    monkeypatch.setenv("AGENTFORGE_SETTINGS_FILE", str(f))
    with pytest.raises(SettingsError):
        load_settings()


def test_missing_settings_file(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTFORGE_SETTINGS_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert info.value.variable == "AGENTFORGE_SETTINGS_FILE"
