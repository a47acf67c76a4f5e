"""The provider models on the real SDKs against the wire fakes."""

from __future__ import annotations

import pytest
from smolagents import Tool, ToolCallingAgent

from agents.models.anthropic_model import AnthropicModel, to_anthropic
from agents.models.base import parse_retry_after
from agents.models.openai_model import OpenAICompatModel
from agents.routing import RoutedModel
from agents.usage import MemoryLedger
from bot.errors import (
    ContextTooLong,
    MalformedModelResponse,
    ModelRequestRejected,
    ModelTransientError,
)
from tests.unit.models.helpers import ENV, PRICES, UNLIMITED, models_config

HI = [
    {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
    {"role": "user", "content": [{"type": "text", "text": "hello"}]},
]


def openai_model(fake, **kw) -> OpenAICompatModel:
    return OpenAICompatModel(
        provider="openai", model_id="gpt-4.1", api_key="sk-test", base_url=fake.base_url, **kw
    )


def anthropic_model(fake, **kw) -> AnthropicModel:
    return AnthropicModel(
        provider="anthropic",
        model_id="claude-sonnet-4-5",
        api_key="sk-ant-test",
        base_url=fake.base_url,
        **kw,
    )


class Echo(Tool):
    name = "echo"
    description = "Echo a word."
    inputs = {"word": {"type": "string", "description": "the word"}}
    output_type = "string"

    def forward(self, word: str) -> str:
        return word


def test_openai_text_usage_and_wire_request(openai_fake):
    openai_fake.reply("hi there", prompt_tokens=120, completion_tokens=7, cached_tokens=20)
    c = openai_model(openai_fake, temperature=0.3).complete(HI, stop_sequences=["Observation:"])
    assert c.message.content == "hi there"
    assert (c.input_tokens, c.cached_tokens, c.output_tokens) == (100, 20, 7)
    assert c.message.token_usage.input_tokens == 120
    assert c.latency_ms > 0
    sent = openai_fake.requests[0]
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert sent["temperature"] == 0.3 and sent["stop"] == ["Observation:"]
    assert sent["max_tokens"] == 4096


def test_openai_tool_calls_are_parsed_and_tools_sent(openai_fake):
    openai_fake.reply(None, tool_calls=[("echo", {"word": "x"})])
    msg = openai_model(openai_fake).generate(HI, tools_to_call_from=[Echo()])
    assert msg.tool_calls[0].function.name == "echo"
    assert msg.tool_calls[0].function.arguments == {"word": "x"}
    assert openai_fake.requests[0]["tools"][0]["function"]["name"] == "echo"
    assert openai_fake.requests[0]["tool_choice"] == "required"


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (lambda f: f.reply(None, tool_calls=[("echo", "{broken")]), MalformedModelResponse),
        (lambda f: f.reply(None, tool_calls=[("echo", "[1, 2]")]), MalformedModelResponse),
        (lambda f: f.reply(""), MalformedModelResponse),
        (lambda f: f.reply("cut", finish_reason="length"), MalformedModelResponse),
        (lambda f: f.raw("{truncated"), MalformedModelResponse),
        (
            lambda f: f.json_response({"object": "chat.completion", "choices": []}),
            MalformedModelResponse,
        ),
        (lambda f: f.error(401, kind="invalid_api_key"), ModelRequestRejected),
        (lambda f: f.error(400, kind="invalid_request_error"), ModelRequestRejected),
        (lambda f: f.error(400, code="context_length_exceeded"), ContextTooLong),
        (lambda f: f.error(429, retry_after=3), ModelTransientError),
        (lambda f: f.error(503), ModelTransientError),
    ],
)
def test_openai_bad_answers_become_typed_errors(openai_fake, script, error):
    script(openai_fake)
    with pytest.raises(error) as info:
        openai_model(openai_fake).complete(HI)
    assert (info.value.provider, info.value.model) == ("openai", "gpt-4.1")


def test_openai_rate_limit_carries_retry_after(openai_fake):
    openai_fake.error(429, retry_after=3)
    with pytest.raises(ModelTransientError) as info:
        openai_model(openai_fake).complete(HI)
    assert (info.value.status, info.value.retry_after) == (429, 3.0)


def test_openai_missing_usage_is_estimated_not_zero(openai_fake):
    openai_fake.reply("fine", usage=False)
    c = openai_model(openai_fake).complete(HI)
    assert c.input_tokens > 0 and c.output_tokens > 0 and c.extra["usage_estimated"]


def test_connection_refused_is_transient():
    model = OpenAICompatModel(
        provider="local", model_id="m", api_key=None, base_url="http://127.0.0.1:9/v1"
    )
    with pytest.raises(ModelTransientError) as info:
        model.complete(HI)
    assert "could not connect to http://127.0.0.1:9/v1" in str(info.value)


def test_anthropic_connection_refused_names_the_url():
    from agents.models.anthropic_model import AnthropicModel

    model = AnthropicModel(
        provider="anthropic", model_id="m", api_key="k", base_url="http://127.0.0.1:9"
    )
    with pytest.raises(ModelTransientError) as info:
        model.complete(HI)
    assert "http://127.0.0.1:9" in str(info.value)


def test_anthropic_text_usage_and_wire_request(anthropic_fake):
    anthropic_fake.reply("hey", input_tokens=90, output_tokens=4, cache_read_input_tokens=30)
    c = anthropic_model(anthropic_fake, temperature=0.5).complete(HI, stop_sequences=["Obs:", " "])
    assert c.message.content == "hey"
    assert (c.input_tokens, c.cached_tokens, c.output_tokens) == (90, 30, 4)
    sent = anthropic_fake.requests[0]
    assert sent["system"] == "be brief"
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert sent["stop_sequences"] == ["Obs:"]  # whitespace-only stops are rejected by the API
    assert sent["temperature"] == 0.5


def test_anthropic_tool_use(anthropic_fake):
    anthropic_fake.reply(None, tool_calls=[("echo", {"word": "y"})])
    msg = anthropic_model(anthropic_fake).generate(HI, tools_to_call_from=[Echo()])
    assert msg.tool_calls[0].function.arguments == {"word": "y"}
    sent = anthropic_fake.requests[0]
    assert sent["tools"][0]["name"] == "echo"
    assert sent["tools"][0]["input_schema"]["required"] == ["word"]
    assert sent["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (lambda f: f.error(429, retry_after=2), ModelTransientError),
        (lambda f: f.error(529), ModelTransientError),
        (lambda f: f.error(401), ModelRequestRejected),
        (
            lambda f: f.error(400, message="prompt is too long: 9 tokens > 8 maximum"),
            ContextTooLong,
        ),
        (lambda f: f.error(413), ContextTooLong),
        (lambda f: f.reply(None), MalformedModelResponse),
        (lambda f: f.reply("cut", stop_reason="max_tokens"), MalformedModelResponse),
        (lambda f: f.raw("<html>oops</html>", content_type="text/html"), MalformedModelResponse),
    ],
)
def test_anthropic_bad_answers_become_typed_errors(anthropic_fake, script, error):
    script(anthropic_fake)
    with pytest.raises(error):
        anthropic_model(anthropic_fake).complete(HI)


def test_to_anthropic_merges_turns_and_opens_with_user():
    system, turns = to_anthropic(
        [
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            {"role": "tool-call", "content": [{"type": "text", "text": "called"}]},
            {"role": "tool-response", "content": [{"type": "text", "text": "obs"}]},
            {"role": "user", "content": [{"type": "text", "text": "more"}]},
        ]
    )
    assert system == "s"
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["text"] for b in turns[2]["content"]] == ["obs\nmore"]


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "4"}) == 4.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_tool_calling_agent_runs_on_a_routed_model(anthropic_fake):
    anthropic_fake.reply(None, tool_calls=[("echo", {"word": "pong"})], input_tokens=50)
    anthropic_fake.reply(None, tool_calls=[("final_answer", {"answer": "done: pong"})])
    cfg = models_config(
        {"developer": [{"provider": "anthropic", "model": "claude-sonnet-4-5", "max_tokens": 200}]},
        anthropic_url=anthropic_fake.base_url,
    )
    ledger = MemoryLedger()
    model = RoutedModel(
        role="developer", models=cfg, prices=PRICES, budgets=UNLIMITED, ledger=ledger, env=ENV
    )
    agent = ToolCallingAgent(tools=[Echo()], model=model, max_steps=3, verbosity_level=0)
    assert agent.run("say pong") == "done: pong"
    assert len(ledger.records) == 2 and all(r.ok for r in ledger.records)
