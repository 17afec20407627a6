"""Small HTTP rules every route shares: JSON errors, bounded JSON bodies, origin checks.

Why a proxy's word on HTTPS is taken from anyone: the bot serves plain HTTP
behind a reverse proxy that holds the certificate, so only the proxy's
``X-Forwarded-Proto`` or ``Forwarded: proto=`` says the browser used HTTPS. That
answer is used for one thing, marking the session cookie ``Secure``, which only
ever makes the cookie stricter: a forged header cannot weaken anything.

Why bodies are read by hand: the limit (WEB_MAX_BODY_BYTES) must hold before a
byte is parsed, whether or not the client sent a truthful Content-Length, and a
rejected body must never reach a handler that talks to the LLM or to memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = [
    "HTTPProblem",
    "json_error",
    "reached_over_https",
    "read_json",
    "read_limited",
    "same_origin",
]


class HTTPProblem(Exception):
    """Ends a request with a JSON error; ``reason`` is shown to the client as is."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")


def json_error(status: int, reason: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tauro"'
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


async def read_json(request: Request, limit: int) -> Mapping[str, object]:
    """The body as a JSON object, or an HTTPProblem (400, 413, 415)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPProblem(415, "send the body as application/json")
    body = await read_limited(request, limit)
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPProblem(400, f"malformed JSON: {_short(exc)}") from None
    if not isinstance(value, dict):
        raise HTTPProblem(400, "malformed request: expected a JSON object")
    return value


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, or HTTPProblem 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPProblem(413, f"body larger than {limit} bytes (WEB_MAX_BODY_BYTES)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPProblem(413, f"body larger than {limit} bytes (WEB_MAX_BODY_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


def _short(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "not UTF-8"


def same_origin(request: Request) -> bool:
    """A browser's Origin header, when present, must name this very server.

    Together with SameSite=Strict cookies and the JSON-only bodies this keeps
    other sites from driving the chat with the user's cookie.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def reached_over_https(request: Request) -> bool:
    """The browser used HTTPS: to this server, or to the proxy in front of it.

    The proxy's word is the first value of ``X-Forwarded-Proto`` or the ``proto``
    of the first element of ``Forwarded`` (RFC 7239). Use it only to make things
    stricter (the cookie's ``Secure``): any client can send these headers.
    """
    if request.url.scheme == "https":
        return True
    forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0]
    if forwarded_proto.strip().lower() == "https":
        return True
    return _forwarded_proto(request.headers.get("forwarded", "")) == "https"


def _forwarded_proto(header: str) -> str:
    """``proto`` of the first element of a ``Forwarded`` header, lower case, or ""."""
    first_element = header.split(",")[0]
    for pair in first_element.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "proto":
            return value.strip().strip('"').lower()
    return ""
