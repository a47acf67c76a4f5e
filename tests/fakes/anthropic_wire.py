"""A strict fake of Anthropic's messages wire API on pytest-httpserver.

The real ``anthropic`` SDK talks to it through ``base_url``. Answers are scripted in
order (text and ``tool_use`` blocks, ``stop_reason``, usage with cache reads, errors as
``{"type": "error", "error": {...}}`` with ``retry-after``); unexpected or unused
requests fail the test (see :class:`tests.fakes.openai_wire.WireFake`).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.openai_wire import WireFake

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class AnthropicWireFake(WireFake):
    """``POST /v1/messages`` as Anthropic speaks it.

    Args:
        api_key: The key every request must carry (``x-api-key`` or, as SDK 2.x sends
            it, a bearer token).
    """

    def __init__(self, api_key: str = "sk-ant-test") -> None:
        super().__init__("/v1/messages", api_key)

    @property
    def base_url(self) -> str:
        """What to configure as the provider's ``base_url`` (the SDK appends ``/v1``)."""
        return self.server.url_for("").rstrip("/")

    def reply(
        self,
        text: str | None = "ok",
        *,
        tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
        input_tokens: int = 100,
        output_tokens: int = 20,
        cache_read_input_tokens: int = 0,
        stop_reason: str | None = None,
    ) -> None:
        """Script one message.

        Args:
            text: Text block content (None for no text block).
            tool_calls: ``(name, input)`` pairs sent as ``tool_use`` blocks.
            input_tokens: Usage: uncached prompt tokens (as Anthropic counts).
            output_tokens: Usage: completion tokens.
            cache_read_input_tokens: Usage: prompt tokens read from the cache.
            stop_reason: Defaults to ``tool_use`` or ``end_turn``.
        """
        content: list[dict[str, Any]] = []
        if text is not None:
            content.append({"type": "text", "text": text})
        for i, (name, args) in enumerate(tool_calls or []):
            content.append({"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args})
        self.json_response(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": "fake",
                "content": content,
                "stop_reason": stop_reason or ("tool_use" if tool_calls else "end_turn"),
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cache_read_input_tokens": cache_read_input_tokens,
                    "cache_creation_input_tokens": 0,
                },
            }
        )

    def error(
        self,
        status: int,
        *,
        kind: str | None = None,
        message: str = "scripted failure",
        retry_after: float | None = None,
    ) -> None:
        """Script one error answer in Anthropic's error shape."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.json_response(
            {
                "type": "error",
                "error": {"type": kind or ERROR_TYPES.get(status, "api_error"), "message": message},
            },
            status=status,
            headers=headers,
        )
