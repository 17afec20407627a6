"""A scripted in-memory LLM server for tests, on ``httpx.MockTransport``.

For parsing and timing tests that need exact control and trio's mock clock;
tests of the real HTTP path use the local emulator in ``tauro.testing``.
Shipped in the package like ``tauro.runtime.testing``::

    server = ScriptedLLMServer()
    server.script(Reply(lines=ollama_lines(["Hel", "lo"]), delay=0.2))
    actor = LLMActor(settings, transport=server.transport())
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import httpx
import trio

__all__ = ["MODELS", "Reply", "ScriptedLLMServer", "ollama_lines", "sse_lines"]

MODELS = ("llama2:latest", "mistral:7b")


def ollama_lines(tokens: Iterable[str], *, done: bool = True, eval_count: int = 0) -> list[str]:
    lines = [
        json.dumps(
            {"model": "llama2", "message": {"role": "assistant", "content": t}, "done": False}
        )
        for t in tokens
    ]
    if done:
        final = {
            "model": "llama2",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 7,
            "eval_count": eval_count,
        }
        lines.append(json.dumps(final))
    return lines


def sse_lines(tokens: Iterable[str], *, done: bool = True) -> list[str]:
    lines: list[str] = []
    for t in tokens:
        chunk = {"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
        lines += [f"data: {json.dumps(chunk)}", ""]
    if done:
        chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        lines += [f"data: {json.dumps(chunk)}", "", "data: [DONE]", ""]
    return lines


@dataclass
class Reply:
    """The fake's answer to one chat request."""

    lines: list[str] = field(default_factory=list)
    status: int = 200
    body: str = ""  # for an error status
    delay: float = 0.0  # seconds before each line
    first_delay: float = 0.0  # seconds before the first line
    cut: bool = False  # the connection breaks after the lines
    connect_error: bool = False
    closed_connection: bool = False  # fails before any response, as a closed keep-alive does


class ScriptedLLMServer:
    """Answers chat requests from a script; counts requests in flight."""

    def __init__(self, models: tuple[str, ...] = MODELS) -> None:
        self.models = models
        self.replies: deque[Reply] = deque()
        self.default = Reply(lines=ollama_lines(["Hel", "lo"]))
        self.chat_bodies: list[dict[str, object]] = []
        self.headers: list[httpx.Headers] = []
        self.paths: list[tuple[float, str]] = []  # (trio time, path) of every request, in order
        self.attempts = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.finished = 0
        self.lines_sent = 0
        self.tags_delay = 0.0

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        path = request.url.path
        self.paths.append((trio.current_time(), path))
        if path in ("/api/tags", "/v1/models"):
            await trio.sleep(self.tags_delay)
            if path == "/api/tags":
                return httpx.Response(200, json={"models": [{"name": m} for m in self.models]})
            return httpx.Response(200, json={"data": [{"id": m} for m in self.models]})
        if path not in ("/api/chat", "/v1/chat/completions"):
            return httpx.Response(404, text="404 page not found")
        return self._chat(request)

    def _chat(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        reply = self.replies.popleft() if self.replies else self.default
        if reply.connect_error:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if reply.closed_connection:
            message = "Server disconnected without sending a response."
            raise httpx.RemoteProtocolError(message, request=request)
        self.chat_bodies.append(json.loads(request.content))
        if reply.status != 200:
            return httpx.Response(reply.status, text=reply.body)
        return httpx.Response(200, content=self._body(reply, request))

    async def _body(self, reply: Reply, request: httpx.Request) -> AsyncIterator[bytes]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await trio.sleep(reply.first_delay)
            for line in reply.lines:
                await trio.sleep(reply.delay)
                self.lines_sent += 1
                yield (line + "\n").encode()
            if reply.cut:
                raise httpx.RemoteProtocolError("peer closed connection", request=request)
            self.finished += 1
        finally:
            self.in_flight -= 1
