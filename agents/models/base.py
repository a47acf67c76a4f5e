"""What every provider model shares: the completion record, token estimates, retry-after.

A provider model is a smolagents :class:`~smolagents.models.Model` that makes exactly one
HTTP request per call (the SDK's own retries are off) and translates every failure into
a :mod:`bot.errors` class, so :class:`agents.routing.RoutedModel` can retry, fall back
and record each attempt.
"""

from __future__ import annotations

import abc
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from smolagents.models import (
    ChatMessage,
    ChatMessageToolCall,
    ChatMessageToolCallFunction,
    MessageRole,
    Model,
    get_clean_message_list,
    tool_role_conversions,
)
from smolagents.monitoring import TokenUsage

from bot.errors import (
    ContextTooLong,
    MalformedModelResponse,
    ModelError,
    ModelRequestRejected,
    ModelTransientError,
)

CHARS_PER_TOKEN = 3.0
"""Conservative characters-per-token ratio for pre-call estimates (real text is ~4)."""

MESSAGE_OVERHEAD_TOKENS = 8


@dataclass(frozen=True)
class Completion:
    """One successful provider call.

    Attributes:
        message: The answer as smolagents expects it.
        input_tokens: Prompt tokens billed at the input rate (cache reads excluded).
        output_tokens: Completion tokens.
        cached_tokens: Prompt tokens served from the provider's cache.
        latency_ms: Wall time of the HTTP call.
        stop_reason: The provider's reason for stopping (``end_turn``, ``stop``...).
    """

    message: ChatMessage
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    latency_ms: float
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate of the tokens in ``text`` (budgets must not be low)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_text(message: ChatMessage | dict) -> str:
    """All text of one message (content blocks joined; tool calls as JSON)."""
    if isinstance(message, dict):
        content = message.get("content")
        tool_calls = message.get("tool_calls")
    else:
        content = message.content
        tool_calls = message.tool_calls
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
    for call in tool_calls or []:
        function = call["function"] if isinstance(call, dict) else call.function
        name = function["name"] if isinstance(function, dict) else function.name
        args = function["arguments"] if isinstance(function, dict) else function.arguments
        parts.append(f"{name} {json.dumps(args, default=str)}")
    return "\n".join(parts)


def estimate_prompt_tokens(
    messages: list[ChatMessage | dict], tools: list[Any] | None = None
) -> int:
    """Estimated prompt tokens of ``messages`` plus the tool schemas sent with them."""
    total = sum(estimate_tokens(message_text(m)) + MESSAGE_OVERHEAD_TOKENS for m in messages)
    for tool in tools or []:
        schema = {"name": tool.name, "description": tool.description, "inputs": tool.inputs}
        total += estimate_tokens(json.dumps(schema, default=str))
    return total


def parse_retry_after(headers: Any, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def clean_messages(messages: list[ChatMessage | dict]) -> list[dict[str, Any]]:
    """Messages as role/content dicts; tool-call and tool-response turns become text."""
    return get_clean_message_list(messages, role_conversions=tool_role_conversions)


def parse_arguments(raw: Any, *, provider: str, model: str, tool: str) -> dict[str, Any]:
    """Tool-call arguments as a dict; anything else is a malformed response."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise MalformedModelResponse(
            f"{provider} model {model} called tool {tool!r} with arguments that are not valid JSON",
            provider=provider,
            model=model,
        ) from exc
    if not isinstance(value, dict):
        raise MalformedModelResponse(
            f"{provider} model {model} called tool {tool!r} with arguments that are not "
            f"a JSON object",
            provider=provider,
            model=model,
        )
    return value


class ProviderModel(Model, abc.ABC):
    """A smolagents model bound to one provider, one model id and one set of limits.

    Args:
        provider: The provider's name in config (``anthropic``, ``ollama``...).
        model_id: Model id as the provider knows it.
        max_tokens: Largest completion requested.
        temperature: Sampling temperature, or None for the provider's default.
        timeout_s: Seconds before one request is abandoned.
    """

    def __init__(
        self,
        *,
        provider: str,
        model_id: str,
        max_tokens: int,
        temperature: float | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        super().__init__(model_id=model_id)
        self.provider = provider
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout_s = timeout_s

    @abc.abstractmethod
    def _call(
        self,
        messages: list[ChatMessage | dict],
        *,
        stop_sequences: list[str] | None,
        tools: list[Any] | None,
        max_tokens: int,
        allow_truncated: bool = False,
    ) -> Completion:
        """Make one request; raise :mod:`bot.errors` classes on failure."""

    # --- what every provider's request and response handling shares -----------------

    @property
    def _where(self) -> str:
        return f"{self.provider} model {self.model_id}"

    def _malformed(
        self, what: str, usage: tuple[int, int, int] | None = None
    ) -> MalformedModelResponse:
        """The error for an unusable answer; ``usage`` is what was billed for it."""
        err = MalformedModelResponse(
            f"{self._where}: {what}", provider=self.provider, model=self.model_id or ""
        )
        # (input, output, cached) the provider billed for the unusable answer.
        err.usage = usage
        return err

    def _unreachable(self, *, timed_out: bool, url: str) -> ModelTransientError:
        """The error for a request to ``url`` (the API root) that timed out or never connected.

        The URL is named: a local model server that is down is found by where it was
        expected (``base_url`` in the provider's config).
        """
        if timed_out:
            what = f"request to {url} timed out after {self.timeout_s:g} s"
        else:
            what = f"request could not connect to {url} (is the server running there?)"
        return ModelTransientError(
            f"{self._where}: {what}", provider=self.provider, model=self.model_id or ""
        )

    def _http_error(
        self, status: int, *, code: str, detail: str, headers: Any, too_long: bool
    ) -> ModelError:
        """The error for an HTTP error answer, by what retrying could change.

        Args:
            status: The HTTP status.
            code: The provider's error type or code (may be empty).
            detail: The provider's message, already shortened.
            headers: The response headers (for ``retry-after``).
            too_long: The provider said, in its own words, that the prompt does not fit.
        """
        args = {"provider": self.provider, "model": self.model_id or ""}
        if status in (408, 429) or status >= 500:
            return ModelTransientError(
                f"{self._where}: HTTP {status} {code} {detail}".rstrip(),
                status=status,
                retry_after=parse_retry_after(headers),
                **args,
            )
        if status == 413 or too_long:
            return ContextTooLong(f"{self._where}: the prompt is too long: {detail}", **args)
        return ModelRequestRejected(
            f"{self._where}: HTTP {status} {code} {detail}".rstrip(), **args
        )

    def _tool_call(self, call_id: str, name: str, raw_arguments: Any) -> ChatMessageToolCall:
        """One tool call of an answer, its arguments parsed (or a malformed answer)."""
        arguments = parse_arguments(
            raw_arguments, provider=self.provider, model=self.model_id or "", tool=name
        )
        return ChatMessageToolCall(
            id=call_id,
            type="function",
            function=ChatMessageToolCallFunction(name=name, arguments=arguments),
        )

    def _finish(
        self,
        *,
        content: str | None,
        calls: list[ChatMessageToolCall],
        billed: tuple[int, int, int],
        truncated: bool,
        allow_truncated: bool,
        raw: dict[str, Any],
        latency_ms: float,
        stop_reason: str | None,
        extra: dict[str, Any] | None = None,
    ) -> Completion:
        """The completion of a read answer, unless it is cut off or empty.

        Args:
            content: The answer's text.
            calls: Its tool calls.
            billed: (input, output, cached) tokens as billed.
            truncated: The provider stopped at ``max_tokens``.
            allow_truncated: Accept a cut-off or empty answer (pings).
            raw: The provider's response as JSON.
            latency_ms: Wall time of the request.
            stop_reason: The provider's reason for stopping.
            extra: Provider-specific facts about the call.

        Raises:
            MalformedModelResponse: Cut off or empty, carrying what was billed.
        """
        if truncated and not allow_truncated:
            raise self._malformed(
                "the answer was cut off at max_tokens (raise max_tokens on this route)",
                usage=billed,
            )
        if not calls and not (content and content.strip()) and not allow_truncated:
            raise self._malformed("the completion is empty", usage=billed)
        completion = Completion(
            message=ChatMessage(
                role=MessageRole.ASSISTANT,
                content=content,
                tool_calls=calls or None,
                raw=raw,
            ),
            input_tokens=billed[0],
            output_tokens=billed[1],
            cached_tokens=billed[2],
            latency_ms=latency_ms,
            stop_reason=stop_reason,
            extra=extra or {},
        )
        completion.message.token_usage = usage_of(completion)
        return completion

    # --- entry points -----------------------------------------------------------------

    def complete(
        self,
        messages: list[ChatMessage | dict],
        *,
        stop_sequences: list[str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One request with usage and latency.

        Raises:
            ModelTransientError: 429, 5xx, timeout or connection error.
            ModelRequestRejected: 401, 403, 400 and other errors retrying cannot fix.
            ContextTooLong: The prompt does not fit the model's window.
            MalformedModelResponse: Empty, truncated or unparseable answer.
        """
        return self._call(
            messages,
            stop_sequences=stop_sequences,
            tools=tools_to_call_from,
            max_tokens=max_tokens or self.max_tokens,
        )

    def generate(
        self,
        messages: list[ChatMessage | dict],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        """smolagents entry point: one request, the answer with its token usage."""
        return self.complete(
            messages, stop_sequences=stop_sequences, tools_to_call_from=tools_to_call_from
        ).message

    def ping(self) -> float:
        """Send one tiny request; return its latency in milliseconds.

        Raises:
            ModelError: The exact failure (see :meth:`complete`).
        """
        start = time.perf_counter()
        self._call(
            [{"role": "user", "content": [{"type": "text", "text": "Reply with: ok"}]}],
            stop_sequences=None,
            tools=None,
            max_tokens=5,
            allow_truncated=True,
        )
        return (time.perf_counter() - start) * 1000.0


def usage_of(completion: Completion) -> TokenUsage:
    """smolagents' token usage (all prompt tokens, cached included) of a completion."""
    return TokenUsage(
        input_tokens=completion.input_tokens + completion.cached_tokens,
        output_tokens=completion.output_tokens,
    )
