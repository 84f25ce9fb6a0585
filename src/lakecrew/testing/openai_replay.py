"""A local OpenAI-compatible chat-completions server replaying recorded responses, in order.

    with OpenAIReplay(responses) as server:      # responses: chat.completion JSON objects
        runtime = SmolRuntime(ModelSettings("openai", "replay-model", server.url + "/v1"))

The real openai client (inside smolagents' OpenAIServerModel) talks HTTP to it: each POST
`/v1/chat/completions` gets the next response; the request bodies are kept in `requests`, so a
test can check what reached the model (the masked tool results, the tools offered). After the
last response every request gets a 500, so a model asked more than recorded fails loudly.
`status` answers every request with that HTTP status instead (a failing endpoint). A response
may also be a function of the request body (the model's reply to what it was sent: e.g. a tool
call naming the finding fingerprint that the task message gives, unknown when recording).

`chat_response(...)`, `tool_call(...)` and `final(...)` write responses in the API's shape.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from lakecrew.demo.local_http import LocalHttpServer

Response = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


def chat_response(
    content: str | None = None,
    tool_calls: Sequence[dict[str, Any]] = (),
    *,
    prompt_tokens: int = 900,
    completion_tokens: int = 60,
    model: str = "replay-model",
    n: int = 1,
) -> dict[str, Any]:
    """One `chat.completion` object as the OpenAI API returns it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    return {
        "id": f"chatcmpl-replay-{n}",
        "object": "chat.completion",
        "created": 1772452800 + n,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def tool_call(name: str, arguments: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {
        "id": f"call_{n}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def final(answer: str, n: int = 99) -> dict[str, Any]:
    """A response calling smolagents' `final_answer` tool."""
    return chat_response(None, [tool_call("final_answer", {"answer": answer}, n)], n=n)


def script(calls: Sequence[tuple[str, dict[str, Any]]], answer: str) -> list[dict[str, Any]]:
    """One response per tool call (in order), then the final answer."""
    out = [
        chat_response(None, [tool_call(name, args, i)], n=i)
        for i, (name, args) in enumerate(calls, 1)
    ]
    return [*out, final(answer, n=len(calls) + 1)]


class OpenAIReplay(LocalHttpServer):
    """POST /v1/chat/completions → the next recorded response."""

    def __init__(self, responses: Sequence[Response], *, status: int | None = None) -> None:
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []
        self.status = status
        self._lock = threading.Lock()
        self._listen(_handler(self))

    def next_response(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            if self.status is not None:
                return self.status, {"error": {"message": "replay: failing on purpose"}}
            if not self.responses:
                return 500, {"error": {"message": "replay: no recorded response left"}}
            response = self.responses.pop(0)
            return 200, response(body) if callable(response) else response


def _handler(server: OpenAIReplay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            status, payload = server.next_response(body)
            self._send(status, payload)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
