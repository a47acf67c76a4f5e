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
    ChatMessageToolCallFunction,
    MessageRole,
    get_tool_json_schema,
)

from agents.models.base import (
    Completion,
    ProviderModel,
    clean_messages,
    parse_arguments,
    parse_retry_after,
    usage_of,
)
from bot.errors import (
    ContextTooLong,
    MalformedModelResponse,
    ModelRequestRejected,
    ModelTransientError,
)

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
        self.client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
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
            kind = (
                "timed out" if isinstance(exc, anthropic.APITimeoutError) else "could not connect"
            )
            raise ModelTransientError(
                f"{self.provider} model {self.model_id}: request {kind}",
                provider=self.provider,
                model=self.model_id or "",
            ) from exc
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
                arguments = parse_arguments(
                    getattr(block, "input", None),
                    provider=self.provider,
                    model=self.model_id or "",
                    tool=name,
                )
                calls.append(
                    ChatMessageToolCall(
                        id=getattr(block, "id", None) or f"toolu_{len(calls)}",
                        type="function",
                        function=ChatMessageToolCallFunction(name=name, arguments=arguments),
                    )
                )
        usage = response.usage
        if usage is None or usage.input_tokens is None or usage.output_tokens is None:
            raise self._malformed("the response carries no token usage")
        cached = usage.cache_read_input_tokens or 0
        billed = (
            usage.input_tokens + (usage.cache_creation_input_tokens or 0),
            usage.output_tokens,
            cached,
        )
        content = "".join(texts)
        stop = response.stop_reason
        if stop == "model_context_window_exceeded":
            raise ContextTooLong(
                f"{self.provider} model {self.model_id}: the context window was exceeded",
                provider=self.provider,
                model=self.model_id or "",
            )
        if stop == "max_tokens" and not allow_truncated:
            raise self._malformed(
                "the answer was cut off at max_tokens (raise max_tokens on this route)",
                usage=billed,
            )
        if not calls and not content.strip() and not allow_truncated:
            raise self._malformed("the completion is empty", usage=billed)
        completion = Completion(
            message=ChatMessage(
                role=MessageRole.ASSISTANT,
                content=content or None,
                tool_calls=calls or None,
                raw=response.model_dump(mode="json"),
            ),
            # Cache writes are billed at (about) the input rate; we never request them.
            input_tokens=billed[0],
            output_tokens=billed[1],
            cached_tokens=billed[2],
            latency_ms=latency_ms,
            stop_reason=stop,
        )
        completion.message.token_usage = usage_of(completion)
        return completion

    def _malformed(
        self, what: str, usage: tuple[int, int, int] | None = None
    ) -> MalformedModelResponse:
        err = MalformedModelResponse(
            f"{self.provider} model {self.model_id}: {what}",
            provider=self.provider,
            model=self.model_id or "",
        )
        # (input, output, cached) the provider billed for the unusable answer.
        err.usage = usage
        return err

    def _status_error(self, exc: anthropic.APIStatusError) -> Exception:
        status = exc.status_code
        kind = str(getattr(exc, "type", None) or "")
        detail = str(getattr(exc, "api_message", None) or "")[:300]
        where = f"{self.provider} model {self.model_id}"
        args = {"provider": self.provider, "model": self.model_id or ""}
        if status in (408, 429) or status >= 500:
            return ModelTransientError(
                f"{where}: HTTP {status} {kind} {detail}".rstrip(),
                status=status,
                retry_after=parse_retry_after(exc.response.headers),
                **args,
            )
        if status == 413 or (status == 400 and any(p in detail.lower() for p in _CONTEXT_PHRASES)):
            return ContextTooLong(f"{where}: the prompt is too long: {detail}", **args)
        return ModelRequestRejected(f"{where}: HTTP {status} {kind} {detail}".rstrip(), **args)
