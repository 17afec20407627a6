"""HTTP helpers shared by the Ollama and OpenAI-compatible faces of the LLM emulator."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import trio
import trio.lowlevel
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from tauro.testing._llm_server import Generation, LlmServerEmulator

__all__ = [
    "StreamCut",
    "emulator_of",
    "read_json",
    "rfc3339",
    "wait_disconnect",
    "whole_answer",
]


class StreamCut(Exception):
    """Raised inside a streaming body to drop the connection mid-answer (a fault).

    hypercorn then closes the socket without the final chunk, which the client sees
    as an incomplete body, exactly like a crashed server.
    """


class _HideStreamCuts(logging.Filter):
    """Scripted cuts are not server errors: keep them out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        return not isinstance(error, StreamCut)


def hide_stream_cuts(logger: logging.Logger) -> None:
    if not any(isinstance(f, _HideStreamCuts) for f in logger.filters):
        logger.addFilter(_HideStreamCuts())


def emulator_of(request: Request) -> LlmServerEmulator:
    emulator: LlmServerEmulator = request.app.state.emulator
    return emulator


async def read_json(request: Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when the body is not one."""
    try:
        doc = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


async def wait_disconnect(request: Request) -> None:
    """Return when the client goes away (the body has already been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        await trio.lowlevel.checkpoint()


def rfc3339(unix_time: float) -> str:
    """Ollama's ``created_at``: UTC with sub-second digits and a ``Z``."""
    moment = datetime.fromtimestamp(unix_time, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def dumps(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


async def whole_answer(
    emulator: LlmServerEmulator,
    generation: Generation,
    error: Callable[[int, str], Response],
    answer: Callable[[str, str], dict[str, Any]],
) -> Response:
    """A non-streaming answer: the generation collected into one response.

    Both faces share the fault handling; each brings its own error body (``error``)
    and its own answer document, built from the text and the finish reason (``answer``).
    """
    pieces: list[str] = []
    async with emulator.generating():
        async for kind, value in generation.events():
            if kind == "token":
                pieces.append(value)
            elif kind == "garbage":
                return PlainTextResponse("<html>upstream hiccup</html>")
            elif kind == "error":
                return error(500, value)
            elif kind == "cut":
                raise StreamCut("cut before the answer")
            else:
                emulator.finished(len(pieces))
                return JSONResponse(answer("".join(pieces), value))
    return error(500, "no answer")
