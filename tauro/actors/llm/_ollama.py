"""Ollama's native API: ``POST /api/chat`` streaming NDJSON, ``GET /api/tags``.

Each line of the chat stream is one JSON object::

    {"message": {"role": "assistant", "content": "Hel"}, "done": false}
    {"message": {"role": "assistant", "content": ""}, "done": true,
     "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 298}

An answer is complete only when the ``"done": true`` line arrived with its
``done_reason``; a line ``{"error": "..."}`` is the server failing mid-answer.

Ollama tells neither its parallelism (``OLLAMA_NUM_PARALLEL`` is the server's
environment) nor token counts (no tokenize endpoint in released versions), and the
context window is ours to set (``num_ctx`` = LLM_CONTEXT_WINDOW): ``server_info``
is empty and ``count_tokens`` None, so the bot estimates and adapts.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio

from tauro.actors.llm._http import (
    DRAIN_TIMEOUT,
    HTTPProvider,
    LineBuffer,
    body_chunks,
    cut,
    garbage,
    read_error_body,
    status_error,
)
from tauro.actors.llm._provider import ChatEnd, ChatRequest, DeltaSink, ServerInfo
from tauro.errors import LLMError, LLMResponseError, ModelNotFoundError
from tauro.i18n import N_, lazy


class OllamaProvider(HTTPProvider):
    """Talks to one Ollama server through the actor's pooled client."""

    name = "ollama"

    def __init__(self, client: httpx.AsyncClient, host: str) -> None:
        super().__init__(client, host.strip().rstrip("/"), "/api/chat", _chat_body)

    async def list_models(self) -> tuple[str, ...]:
        response = await self._get("/api/tags")
        return self._model_names(response.text)

    async def server_info(self) -> ServerInfo:
        return ServerInfo()

    async def count_tokens(self, model: str, text: str) -> int | None:
        return None

    async def _read_answer(self, response: httpx.Response, on_delta: DeltaSink) -> ChatEnd:
        """Parse the lines as they arrive; after "done", read to the end so the
        connection is reused. The text of all lines in one piece of the body
        goes to ``on_delta`` at once.
        """
        lines = LineBuffer()
        end: ChatEnd | None = None
        with trio.CancelScope() as drain:
            async for data in body_chunks(response):
                if end is None:
                    end = await self._take(lines.feed(data), on_delta)
                    if end is not None:
                        drain.deadline = trio.current_time() + DRAIN_TIMEOUT
            if end is None:
                end = await self._take(lines.rest(), on_delta)
        if end is None:
            raise cut(self._url, 'the stream ended without a "done" line')
        return end

    async def _take(self, lines: list[bytes], on_delta: DeltaSink) -> ChatEnd | None:
        """Hand the text of ``lines`` to ``on_delta`` in one piece; the end if it came.

        Text before a bad line is handed over before its error is raised.
        """
        pieces: list[str] = []
        error: LLMError | None = None
        try:
            end = self._parse_lines(lines, pieces)
        except LLMError as exc:
            end, error = None, exc
        if pieces:
            await on_delta("".join(pieces))
        if error is not None:
            raise error
        return end

    def _parse_lines(self, lines: list[bytes], pieces: list[str]) -> ChatEnd | None:
        """Append the text of each line to ``pieces``, up to the "done" line."""
        for line in lines:
            if not line.strip():
                continue
            chunk = self._parse(line)
            content = _content(chunk)
            if content is None:
                raise garbage(self._url, "a line without message.content", line)
            if content:
                pieces.append(content)
            if chunk.get("done") is True:
                if not isinstance(chunk.get("done_reason"), str):
                    raise cut(self._url, 'the "done" line does not say why (no done_reason)')
                return _chat_end(chunk)
        return None

    def _parse(self, line: bytes) -> dict[str, Any]:
        try:
            chunk = json.loads(line)
        except ValueError:
            raise garbage(self._url, "a line that is not JSON", line) from None
        if not isinstance(chunk, dict):
            raise garbage(self._url, "a line that is not a JSON object", line)
        if "error" in chunk:
            raise LLMResponseError(
                f"the LLM server at {self._url} failed mid-answer: {chunk['error']!r}",
                user_message=N_("the LLM server failed while answering; please try again"),
            )
        return chunk

    def _model_names(self, body: str) -> tuple[str, ...]:
        try:
            models = json.loads(body)["models"]
            return tuple(sorted(str(m["name"]) for m in models))
        except (ValueError, KeyError, TypeError):
            raise garbage(self._url, "a model list that is not /api/tags JSON", body) from None

    async def _status_error(self, response: httpx.Response, model: str | None) -> LLMError:
        body = await read_error_body(response)

        def not_found(text: str) -> LLMError | None:
            lowered = text.lower()  # not "404 page not found": a wrong OLLAMA_HOST
            if model is None or "model" not in lowered or "not found" not in lowered:
                return None
            return ModelNotFoundError(
                f"the model {model!r} is not installed on the Ollama server at "
                f"{self._url} (OLLAMA_MODEL or /model): {text!r}",
                user_message=lazy(
                    "the model '{model}' is not installed: run `ollama pull {model}`", model=model
                ),
            )

        return status_error(self._url, response.status_code, body, not_found)


def _chat_body(request: ChatRequest) -> dict[str, object]:
    return {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "options": {
            "temperature": request.temperature,
            "num_ctx": request.context_window,
            "num_predict": request.max_tokens,
        },
    }


def _content(chunk: dict[str, Any]) -> str | None:
    """The text of one chunk; "" for a final line without a message."""
    message = chunk.get("message")
    if message is None and chunk.get("done") is True:
        return ""
    if isinstance(message, dict):
        content = message.get("content", "")
        if isinstance(content, str):
            return content
    return None


def _chat_end(chunk: dict[str, Any]) -> ChatEnd:
    def count(key: str) -> int | None:
        value = chunk.get(key)
        return value if isinstance(value, int) else None

    reason, model = chunk.get("done_reason"), chunk.get("model")
    return ChatEnd(
        done_reason=reason if isinstance(reason, str) else None,
        prompt_tokens=count("prompt_eval_count"),
        completion_tokens=count("eval_count"),
        model=model if isinstance(model, str) and model else None,
    )
