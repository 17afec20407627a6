"""python-telegram-bot's HTTP layer on trio, with one pooled httpx client.

PTB's own ``HTTPXRequest`` is loop-agnostic code over httpx, but inside the
trio-asyncio loop httpx reaches its sockets through anyio's asyncio backend,
and every socket operation then crosses from asyncio to trio and back (about a
third of the CPU of a Bot API call). ``TrioHTTPXRequest`` runs each request as
a trio task instead: one crossing per call, httpcore's native trio backend for
the sockets. And it hands the request straight to the client's connection
pool: ``AsyncClient.send`` adds auth flows, redirects and cookies to every
call, which the Bot API never uses, at a sixth of the CPU of a call.

It behaves as ``HTTPXRequest`` (HTTP/1.1) with the same arguments: the same
default timeouts and per-call overrides (``media_write_timeout`` for uploads),
the same JSON and multipart bodies and headers, httpx errors translated into
``TimedOut`` and ``NetworkError`` with PTB's wording; ``BaseRequest`` still
turns status codes into ``RetryAfter``, ``BadRequest``, ``Conflict``... on the
caller's side. With a proxy set in the environment (HTTPS_PROXY...) requests
go through ``AsyncClient.request``, which routes them as httpx always does.

The client must only ever be used from trio: httpcore picks its network
backend (trio or anyio) at its first connection and keeps it. So anyio's
asyncio backend is never used, and nothing here depends on how trio-asyncio
and anyio find the running loop.

Only python-telegram-bot's public API is used: ``BaseRequest`` and
``RequestData``, and its documented check for a timeout left unset
(``is BaseRequest.DEFAULT_NONE``); tests/actors/telegram/test_telegram_request.py
fails if an upgrade changes what reaches ``do_request``.
"""

from __future__ import annotations

import functools
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import sniffio
import trio_asyncio
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

T = TypeVar("T")

# A per-call timeout as PTB passes it: seconds, None (no limit), or
# BaseRequest.DEFAULT_NONE (not given). PTB types it with a private alias.
CallTimeout = object

_HTTPX_LOG = logging.getLogger("httpx")

_POOL_TIMEOUT = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)  # HTTPXRequest's words


async def _on_trio(function: Callable[[], Awaitable[T]]) -> T:
    """Await ``function()`` in a trio task, from asyncio or (directly) from trio."""
    if sniffio.current_async_library() == "trio":
        return await function()
    result: T = await trio_asyncio.trio_as_aio(function)()
    return result


def proxies_in_environment() -> bool:
    """Whether httpx's client would send some requests through a proxy (HTTPS_PROXY...)."""
    found = urllib.request.getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


class TrioHTTPXRequest(BaseRequest):
    """A ``BaseRequest`` doing its HTTP on trio; arguments as ``HTTPXRequest``'s.

    ``transport`` is for tests (an ``httpx.MockTransport``). ``on_answer``, if
    set, sees every successful answer (the URL, the body) the moment it is
    read, before python-telegram-bot parses it; it must not block or raise.
    """

    __slots__ = (
        "_client",
        "_direct",
        "_limits",
        "_media_write_timeout",
        "_timeout",
        "_transport",
        "on_answer",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._limits = httpx.Limits(max_connections=connection_pool_size)
        self._media_write_timeout = media_write_timeout
        self._transport = transport
        self._direct: httpx.AsyncBaseTransport | None = None
        self._client = self._build_client()
        self.on_answer: Callable[[str, bytes], None] | None = None

    def _build_client(self) -> httpx.AsyncClient:
        """The client, and in ``_direct`` the pool every request goes through (if one)."""
        direct = self._transport
        if direct is None and not proxies_in_environment():
            # What httpx would make itself; with a proxy set it mounts proxy transports.
            direct = httpx.AsyncHTTPTransport(limits=self._limits, trust_env=True)
        self._direct = direct
        return httpx.AsyncClient(timeout=self._timeout, limits=self._limits, transport=direct)

    @property
    def read_timeout(self) -> float | None:
        return self._timeout.read

    async def initialize(self) -> None:
        if self._client.is_closed:
            self._client = self._build_client()

    async def shutdown(self) -> None:
        """Close the client where its connections live."""
        if not self._client.is_closed:
            await _on_trio(self._client.aclose)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: CallTimeout = BaseRequest.DEFAULT_NONE,
        write_timeout: CallTimeout = BaseRequest.DEFAULT_NONE,
        connect_timeout: CallTimeout = BaseRequest.DEFAULT_NONE,
        pool_timeout: CallTimeout = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._client.is_closed:
            raise RuntimeError("This HTTPXRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        write_default = self._timeout.write if not files else self._media_write_timeout
        timeout = httpx.Timeout(
            connect=_given(connect_timeout, self._timeout.connect),
            read=_given(read_timeout, self._timeout.read),
            write=_given(write_timeout, write_default),
            pool=_given(pool_timeout, self._timeout.pool),
        )
        request = self._client.build_request(
            method, _parsed(url), headers={"User-Agent": self.USER_AGENT}, timeout=timeout,
            files=files, data=request_data.json_parameters if request_data else None,
        )  # fmt: skip

        async def send() -> tuple[int, bytes]:
            try:
                status, body = await self._send(request)
            except httpx.TimeoutException as error:
                if isinstance(error, httpx.PoolTimeout):
                    raise TimedOut(message=_POOL_TIMEOUT) from error
                raise TimedOut from error
            except httpx.HTTPError as error:
                raise NetworkError(f"httpx.{error.__class__.__name__}: {error}") from error
            if status == 200 and self.on_answer is not None:
                self.on_answer(url, body)
            return status, body

        return await _on_trio(send)

    async def _send(self, request: httpx.Request) -> tuple[int, bytes]:
        if self._direct is None:
            response = await self._client.send(request)
            return response.status_code, response.content
        response = await self._direct.handle_async_request(request)
        log_like_httpx(request, response)
        try:
            return response.status_code, await response.aread()
        finally:
            await response.aclose()


def log_like_httpx(request: httpx.Request, response: httpx.Response) -> None:
    """The line httpx's client logs for each request (INFO), for whoever reads them."""
    if _HTTPX_LOG.isEnabledFor(logging.INFO):
        _HTTPX_LOG.info(
            'HTTP Request: %s %s "%s %d %s"', request.method, request.url,
            response.http_version, response.status_code, response.reason_phrase,
        )  # fmt: skip


@functools.lru_cache(maxsize=64)
def _parsed(url: str) -> httpx.URL:
    """A Bot API URL parsed once: the bot calls the same few methods again and again."""
    return httpx.URL(url)


def _given(value: CallTimeout, default: float | None) -> float | None:
    """A per-call timeout, or ``default`` when the caller gave none (PTB's documented check)."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    if value is None or isinstance(value, int | float):
        return value
    raise TypeError(f"a timeout must be seconds or None, not {value!r}")
