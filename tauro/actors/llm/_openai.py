"""The OpenAI-compatible API (llama.cpp's server, vLLM, LM Studio...).

``POST /v1/chat/completions`` with ``"stream": true`` answers with server-sent
events; each event's data is a JSON chunk, and ``data: [DONE]`` ends it::

    data: {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]}

    data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

    data: [DONE]

``GET /v1/models`` lists the models. OLLAMA_HOST may be given with or without
the trailing ``/v1``.

An answer is complete only when a chunk carried a ``finish_reason``: llama-cpp-python
ends an answer that a newer request interrupted with ``data: [DONE]`` alone, and
that is a cut answer, not a finished one. What each server says about itself
(``server_info``), probed in this order:

- llama.cpp's ``llama-server``: ``GET /props`` -> ``total_slots`` and
  ``default_generation_settings.n_ctx``; tokens from ``POST /tokenize``.
- vLLM: ``GET /v1/models`` -> ``max_model_len``; tokens from ``POST /tokenize``
  (``count``); its batch size (``--max-num-seqs``) is not exposed.
- llama-cpp-python: ``POST /extras/tokenize/count`` answers; it runs one request
  at a time and any other request (a chat, a model list, a token count) interrupts
  the answer in progress, so it has one slot and is ``interrupting``.
- LM Studio and others: nothing; the bot adapts its parallelism itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from tauro.actors.llm._http import (
    DRAIN_TIMEOUT,
    HTTPProvider,
    cut,
    empty_answer,
    garbage,
    interrupted,
    read_error_body,
    status_error,
)
from tauro.actors.llm._provider import ChatEnd, ChatRequest, DeltaSink, ServerInfo
from tauro.errors import LLMError, LLMResponseError, ModelNotFoundError
from tauro.i18n import N_, lazy

DONE = "[DONE]"
LLAMA_CPP_PYTHON_COUNT = "/extras/tokenize/count"


@dataclass(slots=True)
class _Progress:
    """What the events of one answer said so far."""

    events: int = 0
    finished: bool = False  # [DONE] arrived
    done_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None

    def end(self) -> ChatEnd:
        return ChatEnd(
            done_reason=self.done_reason,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            model=self.model,
        )


class OpenAIProvider(HTTPProvider):
    """Talks to one OpenAI-compatible server through the actor's pooled client."""

    name = "openai"

    def __init__(self, client: httpx.AsyncClient, host: str) -> None:
        super().__init__(
            client, host.strip().rstrip("/").removesuffix("/v1"), "/v1/chat/completions", _chat_body
        )
        self._tokenizer: str | None = None  # found by server_info

    async def server_info(self) -> ServerInfo:
        props = await self._get_json("/props")
        if isinstance(props, dict) and isinstance(props.get("total_slots"), int):
            return self._llama_server(props)
        models = await self._get_json("/v1/models")
        length = _max_model_len(models)
        if length is not None:
            self._tokenizer = "/tokenize"
            return ServerInfo(
                context_window=length,
                context_source="vLLM /v1/models max_model_len",
                tokenizer=self._tokenizer,
            )
        if await self._post_json(LLAMA_CPP_PYTHON_COUNT, {"input": "ok"}) is not None:
            self._tokenizer = LLAMA_CPP_PYTHON_COUNT
            return ServerInfo(
                slots=1,
                slots_source="llama-cpp-python (runs one request at a time)",
                interrupting=True,
                tokenizer=self._tokenizer,
            )
        return ServerInfo()

    def _llama_server(self, props: dict[str, Any]) -> ServerInfo:
        self._tokenizer = "/tokenize"
        settings = props.get("default_generation_settings")
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        n_ctx = n_ctx if isinstance(n_ctx, int) else _int(props.get("n_ctx"))
        return ServerInfo(
            slots=int(props["total_slots"]),
            slots_source="llama.cpp /props total_slots",
            queues=True,
            context_window=n_ctx if n_ctx and n_ctx > 0 else None,
            context_source="llama.cpp /props n_ctx",
            tokenizer=self._tokenizer,
        )

    async def count_tokens(self, model: str, text: str) -> int | None:
        if self._tokenizer is None:
            return None
        body = {"model": model, "input": text, "content": text, "prompt": text}
        answer = await self._post_json(self._tokenizer, body)
        if not isinstance(answer, dict):
            return None
        if isinstance(count := answer.get("count"), int):
            return count
        tokens = answer.get("tokens")
        return len(tokens) if isinstance(tokens, list) else None

    async def list_models(self) -> tuple[str, ...]:
        response = await self._get("/v1/models")
        try:
            return tuple(sorted(str(m["id"]) for m in json.loads(response.text)["data"]))
        except (ValueError, KeyError, TypeError):
            raise garbage(
                self._url, "a model list that is not /v1/models JSON", response.text
            ) from None

    async def _read_answer(self, response: httpx.Response, on_delta: DeltaSink) -> ChatEnd:
        progress = _Progress()
        with trio.CancelScope() as drain:
            async with aclosing(sse_data(response.aiter_lines())) as events:
                async for data in events:
                    if progress.finished:
                        continue  # read to the end so the connection can be reused
                    progress.events += 1
                    if data == DONE:
                        progress.finished = True
                        drain.deadline = trio.current_time() + DRAIN_TIMEOUT
                        continue
                    for content in self._apply(self._parse(data), progress):
                        await on_delta(content)
        if progress.done_reason is not None:
            return progress.end()  # with or without [DONE] (some servers omit it)
        if progress.finished:
            raise interrupted(self._url)
        if progress.events == 0:
            raise empty_answer(self._url)
        raise cut(self._url, "the event stream ended without a finish_reason")

    def _parse(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise garbage(self._url, "an event that is not JSON", data) from None
        if not isinstance(chunk, dict):
            raise garbage(self._url, "an event that is not a JSON object", data)
        if "error" in chunk:
            raise LLMResponseError(
                f"the LLM server at {self._url} failed mid-answer: {chunk['error']!r}",
                user_message=N_("the LLM server failed while answering; please try again"),
            )
        return chunk

    def _apply(self, chunk: dict[str, Any], progress: _Progress) -> list[str]:
        """Record usage and finish_reason; return the text pieces of ``chunk``."""
        if isinstance(model := chunk.get("model"), str) and model:
            progress.model = model
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            progress.prompt_tokens = _int(usage.get("prompt_tokens"))
            progress.completion_tokens = _int(usage.get("completion_tokens"))
        choices = chunk.get("choices", [])
        if not isinstance(choices, list):
            raise garbage(self._url, "an event whose choices is not a list", json.dumps(chunk))
        pieces: list[str] = []
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                raise garbage(self._url, "an event without choices[].delta", json.dumps(chunk))
            content = delta.get("content")
            if isinstance(content, str) and content:
                pieces.append(content)
            if isinstance(reason := choice.get("finish_reason"), str):
                progress.done_reason = reason
        return pieces

    async def _status_error(self, response: httpx.Response, model: str | None) -> LLMError:
        body = await read_error_body(response)

        def not_found(text: str) -> LLMError | None:
            lowered = text.lower()
            if model is None or "model" not in lowered:
                return None
            if "not found" not in lowered and "does not exist" not in lowered:
                return None
            return ModelNotFoundError(
                f"the model {model!r} is not available on the LLM server at "
                f"{self._url} (OLLAMA_MODEL or /model): {text!r}",
                user_message=lazy(
                    "the model '{model}' is not available on the LLM server", model=model
                ),
            )

        return status_error(self._url, response.status_code, body, not_found)


async def sse_data(lines: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """The data of each server-sent event, its ``data:`` lines joined by newlines.

    Comments (``:``) and other fields (``event:``, ``id:``, ``retry:``) are
    skipped; an event ends at a blank line or at the end of the stream.
    """
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


def _chat_body(request: ChatRequest) -> dict[str, object]:
    return {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }


def _max_model_len(models: object) -> int | None:
    """vLLM lists each model's ``max_model_len``; other servers do not."""
    data = models.get("data") if isinstance(models, dict) else None
    for entry in data if isinstance(data, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("max_model_len"), int):
            return int(entry["max_model_len"])
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
