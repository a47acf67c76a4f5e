"""Anthropic's messages API (with tool use) as a smolagents model.

One call is one HTTP request (the SDK's retries are off); every failure becomes a
:mod:`bot.errors` class so the router can retry, fall back and record each attempt.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic
from smolagents.models import (
    ChatMessage,
    ChatMessageToolCall,
    MessageRole,
    get_tool_json_schema,
)

from agents.models.base import Completion, ProviderModel, clean_messages
from agents.models.clients import shared_client
from bot.errors import ContextTooLong, ModelError

# Anthropic names no stable code for an over-long prompt; its 400 message says this.
_CONTEXT_PHRASES = ("prompt is too long", "context window", "too many tokens")


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    out = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
            out.append({"type": "text", "text": block["text"]})
    return out


def to_anthropic(messages: list[ChatMessage | dict]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system prompt, alternating user/assistant turns) for the messages API."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in clean_messages(messages):
        role = m["role"].value if isinstance(m["role"], MessageRole) else str(m["role"])
        blocks = _blocks(m.get("content"))
        if role == "system":
            system.extend(b["text"] for b in blocks)
            continue
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] != "user":
        # The API requires the conversation to open with a user turn.
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "Continue."}]})
    return ("\n\n".join(system) or None), turns


class AnthropicModel(ProviderModel):
    """A Claude model behind Anthropic's messages API.

    Args:
        provider: Provider name in config.
        model_id: Model id (``claude-sonnet-4-5``...).
        api_key: The API key.
        base_url: API root; None for api.anthropic.com.
        max_tokens: Largest completion requested.
        temperature: Sampling temperature (0-1) or None.
        timeout_s: Seconds before one request is abandoned.
    """

    def __init__(
        self,
        *,
        provider: str,
        model_id: str,
        api_key: str,
        base_url: str | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        super().__init__(
            provider=provider,
            model_id=model_id,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout_s=timeout_s,
        )
        self.base_url = base_url
        self.client = shared_client(
            "anthropic",
            lambda: anthropic.Anthropic(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
            ),
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
        )

    def _call(
        self,
        messages: list[ChatMessage | dict],
        *,
        stop_sequences: list[str] | None,
        tools: list[Any] | None,
        max_tokens: int,
        allow_truncated: bool = False,
    ) -> Completion:
        system, turns = to_anthropic(messages)
        request: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": max_tokens,
            "messages": turns,
        }
        if system:
            request["system"] = system
        stops = [s for s in (stop_sequences or []) if s.strip()]
        if stops:
            request["stop_sequences"] = stops
        if tools:
            request["tools"] = [
                {
                    "name": schema["function"]["name"],
                    "description": schema["function"]["description"],
                    "input_schema": schema["function"]["parameters"],
                }
                for schema in (get_tool_json_schema(t) for t in tools)
            ]
            request["tool_choice"] = {"type": "any"}
        if self.temperature is not None:
            # This SDK release no longer lists temperature; the API still accepts it.
            request["extra_body"] = {"temperature": self.temperature}
        start = time.perf_counter()
        try:
            response = self.client.messages.create(**request)
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except anthropic.APIConnectionError as exc:
            timed_out = isinstance(exc, anthropic.APITimeoutError)
            raise self._unreachable(timed_out=timed_out, url=str(self.client.base_url)) from exc
        except (anthropic.AnthropicError, ValueError) as exc:
            raise self._malformed("the response could not be read") from exc
        latency_ms = (time.perf_counter() - start) * 1000.0
        return self._completion(response, latency_ms, allow_truncated)

    def _completion(self, response: Any, latency_ms: float, allow_truncated: bool) -> Completion:
        if not isinstance(response, anthropic.types.Message):
            raise self._malformed("the response is not a message")
        texts: list[str] = []
        calls: list[ChatMessageToolCall] = []
        for block in response.content or []:
            kind = getattr(block, "type", None)
            if kind == "text":
                texts.append(getattr(block, "text", "") or "")
            elif kind == "tool_use":
                name = getattr(block, "name", None)
                if not name:
                    raise self._malformed("a tool_use block has no name")
                call_id = getattr(block, "id", None) or f"toolu_{len(calls)}"
                calls.append(self._tool_call(call_id, name, getattr(block, "input", None)))
        usage = response.usage
        if usage is None or usage.input_tokens is None or usage.output_tokens is None:
            raise self._malformed("the response carries no token usage")
        cached = usage.cache_read_input_tokens or 0
        # Cache writes are billed at (about) the input rate; we never request them.
        billed = (
            usage.input_tokens + (usage.cache_creation_input_tokens or 0),
            usage.output_tokens,
            cached,
        )
        content = "".join(texts)
        stop = response.stop_reason
        if stop == "model_context_window_exceeded":
            raise ContextTooLong(
                f"{self._where}: the context window was exceeded",
                provider=self.provider,
                model=self.model_id or "",
            )
        return self._finish(
            content=content or None,
            calls=calls,
            billed=billed,
            truncated=stop == "max_tokens",
            allow_truncated=allow_truncated,
            raw=response.model_dump(mode="json"),
            latency_ms=latency_ms,
            stop_reason=stop,
        )

    def _status_error(self, exc: anthropic.APIStatusError) -> ModelError:
        detail = str(getattr(exc, "api_message", None) or "")[:300]
        return self._http_error(
            exc.status_code,
            code=str(getattr(exc, "type", None) or ""),
            detail=detail,
            headers=exc.response.headers,
            too_long=exc.status_code == 400 and any(p in detail.lower() for p in _CONTEXT_PHRASES),
        )
