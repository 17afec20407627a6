"""The OpenAI-compatible face: ``GET /v1/models`` and ``POST /v1/chat/completions``.

As llama.cpp's server, vLLM, LM Studio and Ollama's own ``/v1`` speak it: streaming
answers are server-sent events, one ``data: {chat.completion.chunk}`` per token, a
last chunk with ``finish_reason``, an optional usage chunk
(``stream_options.include_usage``) and ``data: [DONE]``. Errors are
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import itertools
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
    wait_disconnect,
    whole_answer,
)
from tauro.testing._llm_server_script import LlmRequest

if TYPE_CHECKING:
    from tauro.testing._llm_server import Generation, LlmServerEmulator

__all__ = [
    "chat_completions",
    "models",
    "props",
    "tokenize_llama_cpp",
    "tokenize_llama_cpp_python",
]

_ids = itertools.count(1)


def _error(status: int, message: str, kind: str = "api_error") -> JSONResponse:
    error = {"message": message, "type": kind, "param": None, "code": None}
    return JSONResponse({"error": error}, status_code=status)


async def models(request: Request) -> Response:
    emulator = emulator_of(request)
    created = int(emulator.epoch)
    names = [emulator.served_model] if emulator.served_model else [m.name for m in emulator.models]
    data = [{"id": name, "object": "model", "created": created, "owned_by": "library"}
            for name in names]  # fmt: skip
    if emulator.tokenizer == "vllm":  # vLLM tells each model's context window
        data = [entry | {"max_model_len": emulator.reported_window} for entry in data]
    return JSONResponse({"object": "list", "data": data})


async def props(request: Request) -> Response:
    """llama.cpp's ``GET /props`` (only with ``slots_in_props``)."""
    emulator = emulator_of(request)
    if not emulator.slots_in_props:
        return PlainTextResponse("404 page not found", status_code=404)
    settings = {"n_ctx": emulator.reported_window, "temperature": 0.8}
    return JSONResponse({"default_generation_settings": settings,
                         "total_slots": emulator.parallel or 1,
                         "model_path": emulator.served_model or emulator.models[0].name,
                         "build_info": "b0000-emulator"})  # fmt: skip


async def tokenize_llama_cpp(request: Request) -> Response:
    """``POST /tokenize``: llama.cpp's {"content"} -> {"tokens": [ids]}, or vLLM's
    {"model", "prompt"} -> {"count", "max_model_len", "tokens"}."""
    emulator, doc = emulator_of(request), await read_json(request) or {}
    if emulator.tokenizer == "vllm":
        count = emulator.count_tokens(str(doc.get("prompt", "")))
        window = emulator.reported_window
        return JSONResponse({"count": count, "max_model_len": window, "tokens": _ids_of(count)})
    if emulator.tokenizer != "llama.cpp":
        return PlainTextResponse("404 page not found", status_code=404)
    count = emulator.count_tokens(str(doc.get("content", "")))
    return JSONResponse({"tokens": _ids_of(count)})


async def tokenize_llama_cpp_python(request: Request) -> Response:
    """llama-cpp-python's ``/extras/tokenize`` and ``/extras/tokenize/count`` {"input"}."""
    emulator, doc = emulator_of(request), await read_json(request) or {}
    if emulator.tokenizer != "llama-cpp-python":
        return PlainTextResponse("404 page not found", status_code=404)
    count = emulator.count_tokens(str(doc.get("input", "")))
    if request.url.path.endswith("/count"):
        return JSONResponse({"count": count})
    return JSONResponse({"tokens": _ids_of(count)})


def _ids_of(count: int) -> list[int]:
    """Token ids for ``count`` tokens (their values mean nothing; the count does)."""
    return list(range(100, 100 + count))


def _request(doc: dict[str, Any]) -> LlmRequest | str:
    model, messages = doc.get("model"), doc.get("messages")
    if not model:
        return "model is required"
    if not isinstance(messages, list) or not messages:
        return "[] is too short - 'messages'"
    keys = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop")
    options = {k: doc[k] for k in keys if k in doc}
    if isinstance(doc.get("stream_options"), dict):
        options["stream_options"] = doc["stream_options"]
    stream = bool(doc.get("stream", False))
    return LlmRequest("openai", str(model), tuple(messages), options, stream, trio.current_time())


async def chat_completions(request: Request) -> Response:
    emulator, doc = emulator_of(request), await read_json(request)
    parsed = _request(doc) if doc is not None else "invalid request body"
    if isinstance(parsed, str):
        return _error(400, parsed, "invalid_request_error")
    emulator.record(parsed)
    if emulator.find_model(parsed.model) is None:
        return _error(404, f'model "{parsed.model}" not found, try pulling it first')
    if emulator.overflows(parsed):
        if emulator.overflow == "empty":  # and the connection is closed after it
            headers = {"connection": "close"}
            return Response(status_code=200, media_type="text/event-stream", headers=headers)
        tokens, window = emulator.prompt_tokens(parsed), emulator.context_window
        message = f"request ({tokens} tokens) exceeds the available context size ({window} tokens)"
        return _error(400, message, "exceed_context_size_error")
    fault = emulator.take_fault()
    if fault is not None and fault.kind == "error":
        return _error(fault.status, fault.message)
    if fault is not None and fault.kind == "hang" and fault.after_chunks == 0:
        await wait_disconnect(request)
        return _error(499, "request canceled")
    options = parsed.options
    limit = options.get("max_completion_tokens", options.get("max_tokens"))
    generation = emulator.plan(parsed, fault, int(limit) if limit is not None else None)
    if parsed.stream:
        return StreamingResponse(_events(emulator, generation), media_type="text/event-stream")
    return await whole_answer(
        emulator,
        generation,
        _error,
        lambda text, reason: _completion(emulator, generation, text, reason),
    )


def _base(emulator: LlmServerEmulator, generation: Generation, ident: str) -> dict[str, Any]:
    created = int(emulator.epoch + generation.request.time)
    doc = {"id": ident, "object": "chat.completion.chunk", "created": created}
    model = emulator.served_model or generation.request.model
    return doc | {"model": model, "system_fingerprint": "fp_ollama"}


def _chunk(base: dict[str, Any], delta: dict[str, Any], reason: str | None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": reason}
    return f"data: {dumps(base | {'choices': [choice]})}\n\n"


def _usage(generation: Generation) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in generation.request.messages)
    completion = len(generation.tokens)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


async def _events(emulator: LlmServerEmulator, generation: Generation) -> AsyncIterator[str]:
    base, sent = _base(emulator, generation, f"chatcmpl-{next(_ids)}"), 0
    async with emulator.generating(), emulator.streaming(generation):
        async for kind, value in generation.events():
            if generation.interrupted:
                yield "data: [DONE]\n\n"  # llama-cpp-python: no finish_reason
                return
            if kind == "token":
                sent += 1
                yield _chunk(base, {"role": "assistant", "content": value}, None)
            elif kind == "garbage":
                yield "data: <html>upstream hiccup</html>\n\n"
            elif kind == "error":
                yield f"data: {dumps({'error': {'message': value, 'type': 'api_error'}})}\n\n"
            elif kind == "cut":
                raise StreamCut(f"cut after {sent} chunks")
            else:
                yield _chunk(base, {"role": "assistant", "content": ""}, value)
                if (generation.request.options.get("stream_options") or {}).get("include_usage"):
                    usage = base | {"choices": [], "usage": _usage(generation)}
                    yield f"data: {dumps(usage)}\n\n"
                yield "data: [DONE]\n\n"
        emulator.finished(sent)


def _completion(
    emulator: LlmServerEmulator, generation: Generation, text: str, reason: str
) -> dict[str, Any]:
    doc = _base(emulator, generation, f"chatcmpl-{next(_ids)}") | {"object": "chat.completion"}
    choice = {"index": 0, "message": {"role": "assistant", "content": text}}
    return doc | {"choices": [choice | {"finish_reason": reason}], "usage": _usage(generation)}
