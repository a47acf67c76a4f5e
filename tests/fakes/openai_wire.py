"""A strict fake of OpenAI's chat-completions wire API on pytest-httpserver.

The real ``openai`` SDK talks to it through ``base_url``. Each test scripts the answers
in order (text, tool calls, usage numbers, HTTP errors with ``retry-after``, malformed
bodies, a stalled answer that trips the client's timeout); a request nobody scripted,
or one with the wrong key, fails the test, and so does a scripted answer never asked
for (:meth:`WireFake.verify`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class _QuickServer(HTTPServer):
    """An HTTPServer that stops in milliseconds (the default polls every half second)."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.01)


class WireFake:
    """Shared machinery: a private server, an ordered script, the requests received.

    Args:
        path: The endpoint (``/v1/chat/completions``).
        api_key: The key every request must carry (see :meth:`authorized`).
    """

    def __init__(self, path: str, api_key: str) -> None:
        self.path = path
        self.api_key = api_key
        # Local servers (Ollama, vLLM) take requests without a key.
        self.keyless_ok = False
        self.server = _QuickServer(host="127.0.0.1", port=0, threaded=True)
        self.server.start()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _expect(self, respond: Callable[[dict[str, Any]], Response]) -> None:
        def handler(request: Request) -> Response:
            if not self.authorized(request):
                self.server.add_assertion(f"request to {self.path} without the expected key")
                return Response("{}", status=401, content_type="application/json")
            body = json.loads(request.get_data(as_text=True) or "null")
            with self._lock:
                self.requests.append(body)
            return respond(body)

        self.server.expect_ordered_request(self.path, method="POST").respond_with_handler(handler)

    def authorized(self, request: Request) -> bool:
        """Whether the request carries the key (as a bearer token or ``x-api-key``)."""
        if self.keyless_ok:
            return True
        bearer = request.headers.get("Authorization", "")
        return (
            bearer == f"Bearer {self.api_key}" or request.headers.get("x-api-key") == self.api_key
        )

    def json_response(self, body: Any, status: int = 200, headers: dict | None = None) -> None:
        """Script one answer with a JSON body."""
        data = json.dumps(body)
        self._expect(
            lambda _req: Response(
                data, status=status, headers=headers or {}, content_type="application/json"
            )
        )

    def raw(self, data: str, status: int = 200, content_type: str = "application/json") -> None:
        """Script one answer with a body given verbatim (malformed JSON, HTML...)."""
        self._expect(lambda _req: Response(data, status=status, content_type=content_type))

    def stall(self, seconds: float) -> None:
        """Script one answer that arrives only after ``seconds`` (a client timeout)."""

        def respond(_req: dict[str, Any]) -> Response:
            time.sleep(seconds)
            return Response("{}", status=500, content_type="application/json")

        self._expect(respond)

    def unused(self) -> int:
        """How many scripted answers were never asked for."""
        return len(self.server.ordered_handlers)

    def verify(self) -> None:
        """Fail on any unexpected request, any handler error or any unused answer."""
        self.server.check_assertions()
        self.server.check_handler_errors()
        if self.unused():
            raise AssertionError(f"{self.unused()} scripted answer(s) were never requested")

    def close(self) -> None:
        """Stop the server."""
        if self.server.is_running():
            self.server.stop()


class OpenAIWireFake(WireFake):
    """``POST /v1/chat/completions`` as OpenAI (and compatible servers) speak it.

    Args:
        api_key: The bearer token every request must carry.
    """

    def __init__(self, api_key: str = "sk-test") -> None:
        super().__init__("/v1/chat/completions", api_key)

    @property
    def base_url(self) -> str:
        """What to configure as the provider's ``base_url``."""
        return self.server.url_for("/v1")

    def reply(
        self,
        text: str | None = "ok",
        *,
        tool_calls: list[tuple[str, Any]] | None = None,
        prompt_tokens: int = 100,
        completion_tokens: int = 20,
        cached_tokens: int = 0,
        finish_reason: str | None = None,
        usage: bool = True,
    ) -> None:
        """Script one completion.

        Args:
            text: The assistant's text (None for tool calls only).
            tool_calls: ``(name, arguments)``; a ``str`` argument is sent verbatim (to
                test invalid JSON), anything else is JSON-encoded.
            prompt_tokens: Usage: prompt tokens, cached ones included (as OpenAI counts).
            completion_tokens: Usage: completion tokens.
            cached_tokens: Usage: ``prompt_tokens_details.cached_tokens``.
            finish_reason: Defaults to ``tool_calls`` or ``stop``.
            usage: False to omit the usage object (some compatible servers do).
        """
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(tool_calls)
            ]
        body: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
                    "logprobs": None,
                }
            ],
        }
        if usage:
            body["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached_tokens},
            }
        self.json_response(body)

    def error(
        self,
        status: int,
        *,
        kind: str = "server_error",
        code: str | None = None,
        message: str = "scripted failure",
        retry_after: float | None = None,
    ) -> None:
        """Script one error answer in OpenAI's ``{"error": {...}}`` shape."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.json_response(
            {"error": {"message": message, "type": kind, "param": None, "code": code}},
            status=status,
            headers=headers,
        )
