"""`agentforge models`: listing routes, the no-provider message, --check against fakes."""

from __future__ import annotations

import textwrap

from bot.cli import main


def write_config(tmp_path, anthropic_url: str, openai_url: str):
    cfg = tmp_path / ".agentforge" / "config.yaml"
    cfg.parent.mkdir()
    cfg.write_text(
        textwrap.dedent(
            f"""\
            models:
              use_shipped_defaults: false
              providers:
                anthropic:
                  {{kind: anthropic, base_url: "{anthropic_url}", api_key_env: ANTHROPIC_API_KEY}}
                openai: {{kind: openai, base_url: "{openai_url}", api_key_env: OPENAI_API_KEY}}
              routes:
                default:
                  - {{provider: anthropic, model: claude-sonnet-4-5}}
                  - {{provider: openai, model: gpt-4.1}}
            """
        ),
        encoding="utf-8",
    )
    return cfg


def test_lists_shipped_routes_and_names_missing_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["models", "--config", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "developer:" in out and "claude-sonnet-4-5" in out
    assert "ANTHROPIC_API_KEY" in out and "OPENAI_API_KEY" in out and "base_url" in out


def test_check_reports_latency_and_exact_failure(
    tmp_path, monkeypatch, capsys, anthropic_fake, openai_fake
):
    monkeypatch.setenv("ANTHROPIC_API_KEY", anthropic_fake.api_key)
    monkeypatch.setenv("OPENAI_API_KEY", openai_fake.api_key)
    anthropic_fake.reply("ok", stop_reason="max_tokens")
    openai_fake.error(401, kind="invalid_api_key")
    cfg = write_config(tmp_path, anthropic_fake.base_url, openai_fake.base_url)
    assert main(["models", "--config", str(cfg), "--check"]) == 1
    out = capsys.readouterr().out
    assert "anthropic (claude-sonnet-4-5): ok" in out
    assert "openai (gpt-4.1): FAILED ModelRequestRejected" in out
    assert anthropic_fake.requests[0]["max_tokens"] == 5


def test_check_all_ok_exits_zero(tmp_path, monkeypatch, anthropic_fake, openai_fake):
    monkeypatch.setenv("ANTHROPIC_API_KEY", anthropic_fake.api_key)
    monkeypatch.setenv("OPENAI_API_KEY", openai_fake.api_key)
    anthropic_fake.reply("ok")
    openai_fake.reply("ok")
    cfg = write_config(tmp_path, anthropic_fake.base_url, openai_fake.base_url)
    assert main(["models", "--config", str(cfg), "--check"]) == 0


def test_invalid_config_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("models:\n  routes:\n    qa:\n      - {provider: nope, model: x}\n")
    assert main(["models", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "config.yaml:4: models.routes.qa[0].provider" in err


def test_check_names_the_url_of_a_local_server_that_is_down(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "models:\n"
        "  use_shipped_defaults: false\n"
        "  providers:\n"
        "    ollama: {kind: openai, base_url: 'http://127.0.0.1:9/v1', local: true}\n"
        "  routes:\n"
        "    default: [{provider: ollama, model: qwen2.5-coder}]\n"
    )
    assert main(["models", "--config", str(cfg), "--check"]) == 1
    out = capsys.readouterr().out
    assert "ollama (qwen2.5-coder): FAILED" in out
    assert "http://127.0.0.1:9/v1" in out
