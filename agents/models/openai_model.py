"""OpenAI chat completions (and every OpenAI-compatible server) as a smolagents model.

The same class serves api.openai.com and local servers (Ollama, vLLM, llama.cpp server,
LM Studio) through ``base_url``. The SDK's own retries are off: one call is one HTTP
request, and every failure becomes a :mod:`bot.errors` class.
"""

from __future__ import annotations

import time
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from smolagents.models import (
    ChatMessage,
    ChatMessageToolCall,
    MessageRole,
    get_tool_json_schema,
    supports_stop_parameter,
)

from agents.models.base import (
    Completion,
    ProviderModel,
    clean_messages,
    estimate_prompt_tokens,
    estimate_tokens,
)
from agents.models.clients import shared_client
from bot.errors import ModelError

_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length"}
# Compatible servers have no stable error code; these phrases are what vLLM, llama.cpp
# and OpenAI put in a context-overflow message.
_CONTEXT_PHRASES = ("context length", "context_length", "maximum context", "too many tokens")


def _flatten(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        role = m["role"].value if isinstance(m["role"], MessageRole) else str(m["role"])
        content = m.get("content")
        if isinstance(content, list) and all(
            isinstance(b, dict) and b.get("type") == "text" for b in content
        ):
            # Plain strings are understood by every compatible server; block lists are not.
            content = "\n".join(b.get("text", "") for b in content)
        out.append({"role": role, "content": content})
    return out


class OpenAICompatModel(ProviderModel):
    """A model behind an OpenAI chat-completions endpoint.

    Args:
        provider: Provider name in config.
        model_id: Model id.
        api_key: The key, or None for servers that need none.
        base_url: API root (``http://localhost:11434/v1``); None for api.openai.com.
        max_tokens: Largest completion requested.
        temperature: Sampling temperature or None.
        timeout_s: Seconds before one request is abandoned.
    """

    def __init__(
        self,
        *,
        provider: str,
        model_id: str,
        api_key: str | None,
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
        # Local servers ignore the key, but the SDK refuses to start without one.
        key = api_key or "no-key-needed"
        self.client = shared_client(
            "openai",
            lambda: openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout_s, max_retries=0),
            api_key=key,
            base_url=base_url,
            timeout=timeout_s,
        )
        # Newer OpenAI models accept only max_completion_tokens; compatible servers
        # mostly know only max_tokens.
        self._token_param = "max_completion_tokens" if base_url is None else "max_tokens"

    def _call(
        self,
        messages: list[ChatMessage | dict],
        *,
        stop_sequences: list[str] | None,
        tools: list[Any] | None,
        max_tokens: int,
        allow_truncated: bool = False,
    ) -> Completion:
        request: dict[str, Any] = {
            "model": self.model_id,
            "messages": _flatten(clean_messages(messages)),
            self._token_param: max_tokens,
        }
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if stop_sequences and supports_stop_parameter(self.model_id or ""):
            request["stop"] = stop_sequences[:4]
        if tools:
            request["tools"] = [get_tool_json_schema(t) for t in tools]
            request["tool_choice"] = "required"
        start = time.perf_counter()
        try:
            response = self.client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except openai.APIConnectionError as exc:
            # Includes timeouts (APITimeoutError is a subclass).
            timed_out = isinstance(exc, openai.APITimeoutError)
            raise self._unreachable(timed_out=timed_out, url=str(self.client.base_url)) from exc
        except (openai.OpenAIError, ValueError) as exc:
            raise self._malformed("the response could not be read") from exc
        latency_ms = (time.perf_counter() - start) * 1000.0
        return self._completion(response, messages, tools, latency_ms, allow_truncated)

    def _completion(
        self,
        response: Any,
        messages: list[ChatMessage | dict],
        tools: list[Any] | None,
        latency_ms: float,
        allow_truncated: bool,
    ) -> Completion:
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise self._malformed("the response has no choices")
        choice = response.choices[0]
        message = choice.message
        if message is None:
            raise self._malformed("the response's choice has no message")
        content = message.content
        calls: list[ChatMessageToolCall] = []
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is None or not function.name:
                raise self._malformed("a tool call has no function name")
            call_id = call.id or f"call_{len(calls)}"
            calls.append(self._tool_call(call_id, function.name, function.arguments))
        usage = response.usage
        extra: dict[str, Any] = {}
        if usage is not None:
            details = usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details is not None else 0
            prompt = usage.prompt_tokens or 0
            output = usage.completion_tokens or 0
        else:
            # Some compatible servers omit usage; a high estimate keeps budgets honest.
            cached = 0
            prompt = estimate_prompt_tokens(messages, tools)
            output = estimate_tokens(content or "") + sum(
                estimate_tokens(str(c.function.arguments)) for c in calls
            )
            extra["usage_estimated"] = True
        return self._finish(
            content=content,
            calls=calls,
            billed=(max(0, prompt - cached), output, cached),
            truncated=choice.finish_reason == "length",
            allow_truncated=allow_truncated,
            raw=response.model_dump(mode="json"),
            latency_ms=latency_ms,
            stop_reason=choice.finish_reason,
            extra=extra,
        )

    def _status_error(self, exc: openai.APIStatusError) -> ModelError:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        detail = str(error.get("message") or "")[:300] if isinstance(error, dict) else ""
        lowered = detail.lower()
        return self._http_error(
            exc.status_code,
            code=code,
            detail=detail,
            headers=exc.response.headers,
            too_long=code in _CONTEXT_CODES
            or (exc.status_code == 400 and any(p in lowered for p in _CONTEXT_PHRASES)),
        )
