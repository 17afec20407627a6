"""The HTTP face of the LLM server emulator (a starlette app).

Ollama's API at ``/`` and ``/api/...``, the OpenAI-compatible API under ``/v1``, and
``/_emulator/...`` control endpoints for tests and benchmarks in another process
(script answers, set latency or parallelism, inject faults, read requests and
counters). Endpoints that change state answer 403 unless the peer is on loopback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tauro.testing import _llm_server_ollama as ollama
from tauro.testing import _llm_server_openai as openai
from tauro.testing._botapi_serve import is_loopback, open_loopback_server
from tauro.testing._llm_server import DEFAULT_MODELS, LlmServerEmulator, logger
from tauro.testing._llm_server_http import emulator_of, hide_stream_cuts, read_json
from tauro.testing._llm_server_script import FAULT_KINDS, FaultKind, ModelInfo

__all__ = ["build_app", "open_llm_server"]

Endpoint = Callable[[Request], Awaitable[Response]]


def _loopback_only(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        if not is_loopback(request.client.host if request.client else None):
            return JSONResponse({"error": "control endpoints only on loopback"}, 403)
        return await endpoint(request)

    return guarded


def _interrupts(endpoint: Endpoint) -> Endpoint:
    """An interrupting server stops the answer in progress for any request it gets."""

    async def served(request: Request) -> Response:
        emulator_of(request).interrupt_running()
        return await endpoint(request)

    return served


async def _body(request: Request) -> dict[str, Any]:
    return await read_json(request) or {}


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True, "url": emulator_of(request).url})


async def statistics(request: Request) -> Response:
    return JSONResponse(emulator_of(request).statistics().__dict__)


async def requests(request: Request) -> Response:
    emulator, since = emulator_of(request), int(request.query_params.get("since", "0"))
    chosen = [r.to_json() for r in emulator.requests[since:]]
    return JSONResponse({"requests": chosen, "next": len(emulator.requests)})


async def fault(request: Request) -> Response:
    doc = await _body(request)
    kind = str(doc.get("kind"))
    if kind not in FAULT_KINDS:
        return JSONResponse({"error": f"kind must be one of {sorted(FAULT_KINDS)}"}, 400)
    options = {k: doc[k] for k in ("after_chunks", "status", "message", "times") if k in doc}
    emulator_of(request).inject_fault(cast(FaultKind, kind), **options)
    return JSONResponse({"ok": True})


async def latency(request: Request) -> Response:
    doc = await _body(request)
    emulator_of(request).set_latency(doc.get("first_token"), doc.get("per_token"))
    return JSONResponse({"ok": True})


async def configure(request: Request) -> Response:
    """Set ``models``, ``parallel``, ``answer_tokens`` and the behaviours (keys present)."""
    doc, emulator = await _body(request), emulator_of(request)
    for key in ("slots_in_props", "tokenizer", "context_window", "overflow", "interrupting",
                "served_model"):  # fmt: skip
        if key in doc:
            setattr(emulator, key, doc[key])
    if "models" in doc:
        emulator.set_models([str(m) for m in doc["models"]])
    if "parallel" in doc:
        emulator.set_parallel(doc["parallel"])
    if "answer_tokens" in doc:
        emulator.answer_tokens = doc["answer_tokens"]
    return JSONResponse({"ok": True})


async def script(request: Request) -> Response:
    emulator_of(request).script(*[str(a) for a in (await _body(request)).get("answers", [])])
    return JSONResponse({"ok": True})


async def reset(request: Request) -> Response:
    emulator_of(request).reset_statistics()
    return JSONResponse({"ok": True})


def build_app(emulator: LlmServerEmulator) -> Starlette:
    hide_stream_cuts(logging.getLogger("tauro.testing.llm_server"))
    control = [("/fault", fault), ("/latency", latency), ("/configure", configure),
               ("/script", script), ("/reset", reset)]  # fmt: skip
    api = [
        Route("/", ollama.root, methods=["GET", "HEAD"]),
        Route("/api/version", ollama.version), Route("/api/tags", ollama.tags),
        Route("/api/show", ollama.show, methods=["POST"]),
        Route("/api/chat", ollama.chat, methods=["POST"]),
        Route("/v1/models", openai.models), Route("/props", openai.props),
        Route("/tokenize", openai.tokenize_llama_cpp, methods=["POST"]),
        Route("/extras/tokenize", openai.tokenize_llama_cpp_python, methods=["POST"]),
        Route("/extras/tokenize/count", openai.tokenize_llama_cpp_python, methods=["POST"]),
        Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
    ]  # fmt: skip
    routes = [Route(r.path, _interrupts(r.endpoint), methods=r.methods) for r in api]
    routes += [Route("/_emulator/health", health), Route("/_emulator/statistics", statistics),
               Route("/_emulator/requests", requests)]  # fmt: skip
    routes += [Route(f"/_emulator{p}", _loopback_only(e), methods=["POST"]) for p, e in control]
    app = Starlette(routes=routes)
    app.state.emulator = emulator
    return app


@asynccontextmanager
async def open_llm_server(
    models: Iterable[ModelInfo | str] = DEFAULT_MODELS,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> AsyncIterator[LlmServerEmulator]:
    """Serve an ``LlmServerEmulator`` until the block ends; ``llm.url`` is its base URL.

    ``options`` go to ``LlmServerEmulator`` (``first_token_latency``, ``parallel``...).
    """
    emulator = LlmServerEmulator(models, **options)
    async with open_loopback_server(
        build_app(emulator), host=host, port=port, logger_name=logger.name
    ) as url:
        emulator.url = url
        yield emulator
