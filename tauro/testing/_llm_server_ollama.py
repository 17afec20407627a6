"""The Ollama API face: ``/api/chat``, ``/api/tags``, ``/api/show``, ``/api/version``.

Streaming answers are newline-delimited JSON objects as Ollama writes them (model,
created_at, message {role, content}, done false), ending with a ``done: true`` line
carrying done_reason and the timing counters in nanoseconds. Errors are
``{"error": "..."}`` with Ollama's status codes and wording.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from tauro.testing._llm_server_http import (
    StreamCut,
    dumps,
    emulator_of,
    read_json,
    rfc3339,
    wait_disconnect,
    whole_answer,
)
from tauro.testing._llm_server_script import LlmRequest, ModelInfo

if TYPE_CHECKING:
    from tauro.testing._llm_server import Generation, LlmServerEmulator

__all__ = ["OLLAMA_VERSION", "chat", "root", "show", "tags", "version"]

OLLAMA_VERSION = "0.6.2"
NDJSON = "application/x-ndjson"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def root(request: Request) -> Response:
    return PlainTextResponse("Ollama is running")


async def version(request: Request) -> Response:
    return JSONResponse({"version": OLLAMA_VERSION})


def _details(model: ModelInfo) -> dict[str, Any]:
    details = {"parent_model": "", "format": "gguf", "family": model.family}
    return details | {"families": [model.family], "parameter_size": model.parameter_size,
                      "quantization_level": model.quantization_level}  # fmt: skip


async def tags(request: Request) -> Response:
    emulator = emulator_of(request)
    modified = rfc3339(emulator.epoch)
    models = [
        {"name": m.name, "model": m.name, "modified_at": modified, "size": m.size,
         "digest": m.digest, "details": _details(m)}
        for m in emulator.models
    ]  # fmt: skip
    return JSONResponse({"models": models})


async def show(request: Request) -> Response:
    doc = await read_json(request)
    if doc is None:
        return _error(400, "invalid request body")
    name = str(doc.get("model") or doc.get("name") or "")
    model = emulator_of(request).find_model(name)
    if model is None:
        return _error(404, f"model '{name}' not found")
    body: dict[str, Any] = {"modelfile": f"FROM {model.name}\n", "parameters": ""}
    body["template"] = "{{ .Prompt }}"
    body |= {"details": _details(model), "capabilities": ["completion"]}
    return JSONResponse(body | {"model_info": {"general.architecture": model.family}})


def _request(emulator: LlmServerEmulator, doc: dict[str, Any]) -> LlmRequest | str:
    model, messages = doc.get("model"), doc.get("messages", [])
    if not model:
        return "model is required"
    if not isinstance(messages, list):
        return "messages must be an array"
    options = doc.get("options") if isinstance(doc.get("options"), dict) else {}
    stream = doc.get("stream", True) is not False
    now = trio.current_time()
    return LlmRequest("ollama", str(model), tuple(messages), options or {}, stream, now)


async def chat(request: Request) -> Response:
    emulator, doc = emulator_of(request), await read_json(request)
    parsed = _request(emulator, doc) if doc is not None else "invalid request body"
    if isinstance(parsed, str):
        return _error(400, parsed)
    emulator.record(parsed)
    if emulator.find_model(parsed.model) is None:
        return _error(404, f'model "{parsed.model}" not found, try pulling it first')
    if not parsed.messages:  # Ollama loads the model and answers nothing
        loaded = _line(emulator, parsed.model, "") | {"done_reason": "load", "done": True}
        if parsed.stream:
            return PlainTextResponse(dumps(loaded) + "\n", media_type=NDJSON)
        return JSONResponse(loaded)
    fault = emulator.take_fault()
    if fault is not None and fault.kind == "error":
        return _error(fault.status, fault.message)
    if fault is not None and fault.kind == "hang" and fault.after_chunks == 0:
        await wait_disconnect(request)
        return _error(499, "request canceled")
    limit = parsed.options.get("num_predict")
    generation = emulator.plan(parsed, fault, int(limit) if limit is not None else None)
    if parsed.stream:
        return StreamingResponse(_lines(emulator, generation), media_type=NDJSON)
    return await whole_answer(
        emulator,
        generation,
        _error,
        lambda text, reason: _final(emulator, generation, reason, text),
    )


def _line(emulator: LlmServerEmulator, model: str, content: str) -> dict[str, Any]:
    created = rfc3339(emulator.epoch + trio.current_time())
    return {"model": model, "created_at": created,
            "message": {"role": "assistant", "content": content}}  # fmt: skip


def _final(
    emulator: LlmServerEmulator, generation: Generation, reason: str, content: str = ""
) -> dict[str, Any]:
    request, now = generation.request, trio.current_time()
    total = int((now - request.time) * 1e9)
    prompt = sum(len(str(m.get("content", "")).split()) for m in request.messages) + 10
    doc = _line(emulator, request.model, content) | {"done_reason": reason, "done": True}
    doc |= {"total_duration": total, "load_duration": 1_000_000, "prompt_eval_count": prompt}
    doc |= {"prompt_eval_duration": int(generation.first_token_latency * 1e9)}
    return doc | {"eval_count": len(generation.tokens), "eval_duration": total // 2}


async def _lines(emulator: LlmServerEmulator, generation: Generation) -> AsyncIterator[str]:
    model, sent = generation.request.model, 0
    async with emulator.generating():
        async for kind, value in generation.events():
            if kind == "token":
                sent += 1
                yield dumps(_line(emulator, model, value) | {"done": False}) + "\n"
            elif kind == "garbage":
                yield "<html>upstream hiccup</html>\n"
            elif kind == "error":
                yield dumps({"error": value}) + "\n"
            elif kind == "cut":
                raise StreamCut(f"cut after {sent} chunks")
            else:
                yield dumps(_final(emulator, generation, value)) + "\n"
        emulator.finished(sent)
