"""Which model the demo picks, from the environment and what servers answer."""

from __future__ import annotations

import pytest

from bot.demo.model import (
    OLLAMA_URL,
    ModelChoice,
    NotConfigured,
    ProbeFailed,
    choose_model,
    ollama_url,
)


def probe_of(answers: dict[str, list[str] | None]):
    """A probe that knows some servers; others refuse the connection."""

    def probe(base_url: str) -> list[str] | None:
        if base_url not in answers:
            raise ProbeFailed(f"nothing answers at {base_url}/models (connection refused)")
        return answers[base_url]

    return probe


def test_nothing_configured_lists_each_place_looked_at_and_the_settings():
    choice = choose_model({}, probe=probe_of({}))
    assert isinstance(choice, NotConfigured)
    assert [line.split(":")[0] for line in choice.looked] == [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        f"Ollama at {OLLAMA_URL}".split(":")[0],
    ]
    settings = " ".join(s for s, _ in choice.settings())
    for needed in ("ANTHROPIC_API_KEY=", "OPENAI_API_KEY=", "ollama pull", "--model-url"):
        assert needed in settings


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({"ANTHROPIC_API_KEY": "k"}, "anthropic"),
        ({"OPENAI_API_KEY": "k"}, "openai"),
        ({"ANTHROPIC_API_KEY": "  ", "OPENAI_API_KEY": "k"}, "openai"),
        ({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "k"}, "anthropic"),
    ],
)
def test_a_key_picks_the_shipped_routes(env, provider):
    choice = choose_model(env, probe=probe_of({OLLAMA_URL: ["llama3"]}))
    assert isinstance(choice, ModelChoice) and choice.provider == provider
    import yaml

    data = yaml.safe_load(choice.config_yaml("agentforge"))
    assert "models" not in data  # the shipped routes, untouched


def test_ollama_first_listed_model_or_the_one_asked_for():
    probe = probe_of({OLLAMA_URL: ["qwen2.5-coder:7b", "llama3"]})
    assert choose_model({}, probe=probe).model == "qwen2.5-coder:7b"
    assert choose_model({}, model="llama3", probe=probe).model == "llama3"
    missing = choose_model({}, model="mistral", probe=probe)
    assert isinstance(missing, NotConfigured) and "llama3" in missing.looked[-1]
    empty = choose_model({}, probe=probe_of({OLLAMA_URL: []}))
    assert isinstance(empty, NotConfigured) and "ollama pull" in empty.looked[-1]


def test_ollama_host_moves_the_probe():
    assert ollama_url({"OLLAMA_HOST": "10.0.0.5:1234"}) == "http://10.0.0.5:1234/v1"
    assert ollama_url({"OLLAMA_HOST": "https://box/v1/"}) == "https://box/v1"
    probe = probe_of({"http://10.0.0.5:1234/v1": ["m"]})
    assert choose_model({"OLLAMA_HOST": "10.0.0.5:1234"}, probe=probe).model == "m"


def test_an_explicit_server_wins_and_never_falls_back():
    url = "http://127.0.0.1:9/v1"
    env = {"ANTHROPIC_API_KEY": "k", "AGENTFORGE_DEMO_MODEL_URL": url}
    down = choose_model(env, probe=probe_of({}))
    assert isinstance(down, NotConfigured) and url in down.looked[0]
    up = choose_model(env, model="m", probe=probe_of({url: None}))  # no /models endpoint
    assert isinstance(up, ModelChoice) and (up.base_url, up.model) == (url, "m")


def test_a_local_server_becomes_the_config_a_user_writes():
    import yaml

    from bot.repoconfig import validate_files

    choice = ModelChoice("local", "x", "http://127.0.0.1:8000/v1", "m:1")
    text = choice.config_yaml("agentforge")
    data = yaml.safe_load(text)
    assert data["models"]["use_shipped_defaults"] is False
    assert data["models"]["providers"]["local"] == {
        "kind": "openai",
        "base_url": "http://127.0.0.1:8000/v1",
        "local": True,
    }
    assert data["models"]["routes"]["default"][0]["model"] == "m:1"
    config, issues = validate_files({".agentforge/config.yaml": text})
    assert issues == [] and config is not None
