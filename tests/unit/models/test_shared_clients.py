"""SDK clients are built once per distinct provider settings and shared."""

from __future__ import annotations

from agents.models import clients
from agents.models.anthropic_model import AnthropicModel
from agents.models.openai_model import OpenAICompatModel


def _openai(**changes):
    settings = {
        "provider": "local",
        "model_id": "m",
        "api_key": "k1",
        "base_url": "http://127.0.0.1:9/v1",
    }
    return OpenAICompatModel(**{**settings, **changes})


def test_models_with_the_same_settings_share_one_client():
    first, second = _openai(), _openai(model_id="other", max_tokens=10)
    assert first.client is second.client  # model and token limit are per request
    assert _openai(api_key="k2").client is not first.client
    assert _openai(base_url="http://127.0.0.1:8/v1").client is not first.client
    assert _openai(timeout_s=5.0).client is not first.client
    a = AnthropicModel(provider="a", model_id="c", api_key="k1", base_url="http://127.0.0.1:9")
    assert a.client is not first.client
    assert (
        AnthropicModel(
            provider="a", model_id="d", api_key="k1", base_url="http://127.0.0.1:9"
        ).client
        is a.client
    )


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(clients, "MAX_CLIENTS", 2)
    built: list[int] = []

    def client(n):
        return clients.shared_client("t", lambda: built.append(n) or object(), api_key=str(n))

    one = client(1)
    client(2)
    client(3)  # evicts 1, the least recently used
    assert client(3) is client(3) and built == [1, 2, 3]
    assert client(1) is not one and built == [1, 2, 3, 1]
