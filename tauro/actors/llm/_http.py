"""The HTTP edge shared by both providers: the pooled client and error translation.

httpx's exceptions and error statuses never leave this package: they become
``tauro.errors.LLMError`` subclasses whose ``str()`` is a detailed line for the
operator's log (URL, status, the server's own words) and whose
``user_message`` is short and safe for a chat user. The API key is sent as a
header and never appears in either; credentials in the URL are stripped too.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tauro.actors.llm._parallel import AUTO_MAX
from tauro.actors.llm._provider import ChatEnd, ChatRequest, DeltaSink
from tauro.config import LLMSettings
from tauro.errors import (
    LLMCutError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
)
from tauro.i18n import N_, lazy

_HTTPX_LOG = logging.getLogger("httpx")
logger = logging.getLogger("tauro.llm")

# What a request sent on a kept-alive connection that the server has just closed
# fails with, before any response: the server never saw it, so it is sent again.
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

MAX_ERROR_BODY = 64 * 1024  # bytes of an error body read for the log
DRAIN_TIMEOUT = 1.0  # seconds to read the rest of a body after the answer's end
EXCERPT = 200  # characters of a server's text quoted in an error


def display_url(url: str) -> str:
    """``url`` without user:password and without the trailing slash."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/")


def excerpt(text: str | bytes) -> str:
    """A short quotable piece of what the server sent."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return repr(text[:EXCERPT] + ("..." if len(text) > EXCERPT else ""))


def make_client(
    settings: LLMSettings, transport: httpx.AsyncBaseTransport | None = None
) -> PooledClient:
    """One pooled client for the actor's lifetime, sized for LLM_MAX_PARALLEL.

    Reads have no httpx timeout: the first-token and total timeouts are trio
    cancel scopes around the whole generation, so a mock clock drives them.
    ``transport`` is for tests (an ``httpx.MockTransport``).
    """
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=None,
        write=settings.connect_timeout,
        pool=settings.total_timeout,
    )
    parallel = AUTO_MAX if settings.max_parallel == "auto" else settings.max_parallel
    limits = httpx.Limits(
        max_connections=parallel + 4,  # + list_models, tokenize and checks
        max_keepalive_connections=parallel + 4,
    )
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    if transport is None and not proxies_in_environment():
        # What httpx would make itself; with a proxy set it mounts proxy transports instead.
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=True)
    return PooledClient(timeout=timeout, limits=limits, headers=headers, transport=transport)


def proxies_in_environment() -> bool:
    """Whether httpx's client would send some requests through a proxy (HTTP_PROXY...)."""
    found = urllib.request.getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


class PooledClient(httpx.AsyncClient):
    """httpx's client, which knows its connection pool for ``post_stream``.

    ``direct`` is the transport every request goes through, or None when the
    client chooses per URL (a proxy from the environment).
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self.direct = transport


@asynccontextmanager
async def post_stream(
    client: httpx.AsyncClient, url: httpx.URL, body: object
) -> AsyncIterator[httpx.Response]:
    """``client.stream("POST", url, json=body)``, straight to the pool when it can.

    ``AsyncClient.send`` adds auth flows, redirects and cookies to every
    request, about a fifth of the CPU of a short streamed answer; a chat
    request needs none of them. The request is the one the client would
    build (its headers, its timeouts), and errors are the same httpx ones.
    """
    direct = client.direct if isinstance(client, PooledClient) else None
    if direct is None:
        async with client.stream("POST", url, json=body) as response:
            yield response
        return
    extensions = {"timeout": client.timeout.as_dict()}
    request = httpx.Request("POST", url, json=body, headers=client.headers, extensions=extensions)
    response = await direct.handle_async_request(request)
    response.request = request
    log_like_httpx(request, response)
    try:
        yield response
    finally:
        await response.aclose()


def unreachable(url: str, detail: str) -> LLMUnreachableError:
    return LLMUnreachableError(
        f"cannot connect to the LLM server at {url} (OLLAMA_HOST): {detail}",
        user_message=lazy(
            "the LLM server at {url} is not reachable; please try again later", url=url
        ),
    )


def cut(url: str, detail: str) -> LLMCutError:
    return LLMCutError(
        f"the answer from the LLM server at {url} ended before it was complete: {detail}",
        user_message=N_("the answer was cut off: the LLM server stopped sending it"),
    )


def interrupted(url: str) -> LLMCutError:
    """A stream that ended without the server saying why: another request interrupted it."""
    return LLMCutError(
        f"the LLM server at {url} ended the answer without a finish_reason ([DONE] alone): "
        "it was interrupted, typically by another request on a server that runs one at a "
        "time (llama-cpp-python); LLM_MAX_PARALLEL=auto or 1 avoids it",
        user_message=N_("the answer was cut off: the LLM server interrupted it"),
        interrupted=True,
    )


def empty_answer(url: str) -> LLMCutError:
    """200 with nothing in it: llama-cpp-python's way of refusing a prompt too long."""
    return LLMCutError(
        f"the LLM server at {url} answered with an empty body (no events); "
        "a server does that when the prompt does not fit its context window, "
        "or is LLM_PROVIDER wrong for this server?",
        user_message=N_("the LLM server sent an empty answer"),
        empty=True,
    )


def garbage(url: str, what: str, raw: str | bytes) -> LLMResponseError:
    return LLMResponseError(
        f"the LLM server at {url} sent {what}: {excerpt(raw)}; "
        "is LLM_PROVIDER right for this server?",
        user_message=N_("the LLM server sent an answer I could not read"),
    )


def translate(exc: httpx.HTTPError, url: str) -> LLMError:
    """The LLMError for an httpx exception; only connect failures are retryable."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return unreachable(url, detail)
    if isinstance(exc, httpx.PoolTimeout | httpx.WriteTimeout):
        return LLMTimeoutError(
            f"the LLM server at {url} did not accept the request in time: {detail}",
            user_message=N_("the LLM server is too busy right now; please try again later"),
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.TimeoutException):
        return cut(url, detail)
    return LLMResponseError(
        f"talking to the LLM server at {url} failed: {detail}",
        user_message=N_("talking to the LLM server failed; please try again later"),
    )


async def read_error_body(response: httpx.Response) -> str:
    """The first MAX_ERROR_BODY bytes of an error response, as text."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(chunks)[:MAX_ERROR_BODY].decode("utf-8", errors="replace")


def server_error_text(body: str) -> str:
    """The server's own error sentence from a JSON error body, else the body.

    Ollama sends ``{"error": "..."}``; OpenAI-compatible servers send
    ``{"error": {"message": "..."}}`` or ``{"message": "..."}``.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            error = error.get("message", error)
        if isinstance(error, str):
            return error
    return body.strip()


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive, decompressed if the server compressed them.

    An uncompressed body (Ollama, llama.cpp and vLLM stream uncompressed) is
    read raw: one generator layer and a decoder call less for every token.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return response.aiter_raw()
    return response.aiter_bytes()


def log_like_httpx(request: httpx.Request, response: httpx.Response) -> None:
    """The line httpx's client logs for each request (INFO), for whoever reads them."""
    if _HTTPX_LOG.isEnabledFor(logging.INFO):
        _HTTPX_LOG.info(
            'HTTP Request: %s %s "%s %d %s"', request.method, request.url,
            response.http_version, response.status_code, response.reason_phrase,
        )  # fmt: skip


class LineBuffer:
    """Complete lines out of a body's chunks, as bytes without their ``\\n``.

    Cheaper than httpx's ``aiter_lines`` (no incremental text decoding, no
    per-line generator step): ``json.loads`` reads UTF-8 bytes itself and
    ignores a ``\\r`` left at a line's end.
    """

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The lines that ``data`` completes; an unfinished last line is kept."""
        if self._partial:
            data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        return lines

    def rest(self) -> list[bytes]:
        """At the end of the body: the last line if it had no newline."""
        rest, self._partial = self._partial, b""
        return [rest] if rest else []


NotFound = Callable[[str], LLMError | None]


def status_error(url: str, status: int, body: str, not_found: NotFound) -> LLMError:
    """The LLMError for an HTTP error status.

    ``not_found`` gets the server's error text of a 404 and returns the
    provider's ``ModelNotFoundError`` when it is about the model, else None.
    """
    text = server_error_text(body)
    where = f"the LLM server at {url} answered {status}: {excerpt(text)}"
    if status == 404 and (error := not_found(text)) is not None:
        return error
    if status in (401, 403):
        return LLMResponseError(
            f"{where}; set LLM_API_KEY to a key the server accepts",
            user_message=N_("the LLM server refused the bot's credentials"),
        )
    if status == 404:
        return LLMResponseError(
            f"{where}; are OLLAMA_HOST and LLM_PROVIDER right for this server?",
            user_message=N_("the LLM server does not offer the chat API the bot expects"),
        )
    if status >= 500:
        return LLMResponseError(
            where, user_message=N_("the LLM server had an internal error; please try again later")
        )
    return LLMResponseError(where, user_message=N_("the LLM server refused the request"))


class HTTPProvider:
    """What both server APIs share: one POST whose answer streams, GETs that list.

    Subclasses say how a request body looks, how the stream is read and what an
    error status means; errors of httpx are translated here, naming the server.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        root: str,
        chat_path: str,
        chat_body: Callable[[ChatRequest], dict[str, object]],
    ) -> None:
        self._client = client
        self._chat_body = chat_body
        self._root = root
        self._url = display_url(root)
        self._chat_url = httpx.URL(f"{root}{chat_path}")  # parsed once, not per request

    @property
    def base_url(self) -> str:
        return self._url

    async def chat(self, request: ChatRequest, on_delta: DeltaSink) -> ChatEnd:
        """One streamed answer; sent twice only if the first try met a closed connection.

        llama-cpp-python answers a prompt too long for its window with an empty
        200 that keeps the connection alive, then closes it: the next request
        (the retry with half the history) would go out on the closed connection
        and fail before any response. Such a request is sent once more, at
        once, on a new connection.
        """
        body = self._chat_body(request)
        try:
            return await self._chat_once(body, request.model, on_delta, stale_ok=True)
        except _StaleConnectionError as exc:
            fields = {"url": self._url, "error": repr(exc.__cause__)}
            logger.info("llm.connection.stale", extra={"fields": fields})
        return await self._chat_once(body, request.model, on_delta, stale_ok=False)

    async def _chat_once(
        self, body: dict[str, object], model: str, on_delta: DeltaSink, *, stale_ok: bool
    ) -> ChatEnd:
        answered = False
        try:
            async with post_stream(self._client, self._chat_url, body) as response:
                answered = True
                if response.status_code != 200:
                    raise await self._status_error(response, model)
                return await self._read_answer(response, on_delta)
        except httpx.HTTPError as exc:
            if stale_ok and not answered and isinstance(exc, _STALE_CONNECTION):
                raise _StaleConnectionError from exc
            raise translate(exc, self._url) from exc

    async def _get(self, path: str) -> httpx.Response:
        try:
            response = await self._client.get(f"{self._root}{path}")
            if response.status_code != 200:
                raise await self._status_error(response, None)
        except httpx.HTTPError as exc:
            raise translate(exc, self._url) from exc
        return response

    async def _get_json(self, path: str) -> object:
        """GET ``path`` as JSON; None when the server has no such endpoint or fails."""
        try:
            response = await self._client.get(f"{self._root}{path}")
        except httpx.HTTPError:
            return None
        return _json_or_none(response)

    async def _post_json(self, path: str, body: object) -> object:
        """POST ``body`` to ``path``; the JSON answer, None on any failure."""
        try:
            response = await self._client.post(f"{self._root}{path}", json=body)
        except httpx.HTTPError:
            return None
        return _json_or_none(response)

    async def _read_answer(self, response: httpx.Response, on_delta: DeltaSink) -> ChatEnd:
        raise NotImplementedError

    async def _status_error(self, response: httpx.Response, model: str | None) -> LLMError:
        raise NotImplementedError


class _StaleConnectionError(Exception):
    """The request failed before any response on a connection the server had closed."""


def _json_or_none(response: httpx.Response) -> object:
    if response.status_code != 200:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None
