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
    ChatMessageToolCallFunction,
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
        self.client = openai.OpenAI(
            api_key=api_key or "no-key-needed",
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
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
            kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "could not connect"
            raise ModelTransientError(
                f"{self.provider} model {self.model_id}: request {kind}",
                provider=self.provider,
                model=self.model_id or "",
            ) from exc
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
            arguments = parse_arguments(
                function.arguments,
                provider=self.provider,
                model=self.model_id or "",
                tool=function.name,
            )
            calls.append(
                ChatMessageToolCall(
                    id=call.id or f"call_{len(calls)}",
                    type="function",
                    function=ChatMessageToolCallFunction(name=function.name, arguments=arguments),
                )
            )
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
        if choice.finish_reason == "length" and not allow_truncated:
            raise self._malformed(
                "the answer was cut off at max_tokens (raise max_tokens on this route)",
                usage=(max(0, prompt - cached), output, cached),
            )
        if not calls and not (content and content.strip()) and not allow_truncated:
            raise self._malformed(
                "the completion is empty", usage=(max(0, prompt - cached), output, cached)
            )
        completion = Completion(
            message=ChatMessage(
                role=MessageRole.ASSISTANT,
                content=content,
                tool_calls=calls or None,
                raw=response.model_dump(mode="json"),
            ),
            input_tokens=max(0, prompt - cached),
            output_tokens=output,
            cached_tokens=cached,
            latency_ms=latency_ms,
            stop_reason=choice.finish_reason,
            extra=extra,
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

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        detail = str(error.get("message") or "")[:300] if isinstance(error, dict) else ""
        where = f"{self.provider} model {self.model_id}"
        args = {"provider": self.provider, "model": self.model_id or ""}
        if status == 429 or status >= 500 or status == 408:
            return ModelTransientError(
                f"{where}: HTTP {status} {detail}".rstrip(),
                status=status,
                retry_after=parse_retry_after(exc.response.headers),
                **args,
            )
        lowered = detail.lower()
        if (
            status == 413
            or code in _CONTEXT_CODES
            or (status == 400 and any(p in lowered for p in _CONTEXT_PHRASES))
        ):
            return ContextTooLong(f"{where}: the prompt is too long: {detail}", **args)
        return ModelRequestRejected(f"{where}: HTTP {status} {code} {detail}".rstrip(), **args)
