"""python-telegram-bot's HTTP layer with its sockets on trio, not on emulated asyncio.

``HTTPXRequest`` is loop-agnostic code over httpx, but run inside the
trio-asyncio loop httpx reaches its sockets through anyio's asyncio backend,
and every socket operation then crosses from asyncio to trio and back (about a
third of the CPU of a Bot API call). ``TrioHTTPXRequest`` runs the whole
``do_request`` (and the client's shutdown) as a trio task instead: one crossing
per call, and httpcore's native trio backend for the sockets.

Everything else is ``HTTPXRequest``'s own code, unchanged: the timeouts
(``media_write_timeout`` for uploads), multipart bodies, the translation of
httpx errors into ``TimedOut`` and ``NetworkError``, and ``BaseRequest``'s
handling of status codes (``RetryAfter``, ``BadRequest``, ``Conflict``...),
which still runs on the asyncio side around it.

The client must only ever be used from trio: httpcore picks its network
backend (trio or anyio) at its first connection and keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import sniffio
import trio_asyncio
from telegram._utils.types import ODVInput
from telegram.request import HTTPXRequest, RequestData

T = TypeVar("T")


async def _on_trio(function: Callable[[], Awaitable[T]]) -> T:
    """Await ``function()`` in a trio task, from asyncio or (directly) from trio."""
    if sniffio.current_async_library() == "trio":
        return await function()
    result: T = await trio_asyncio.trio_as_aio(function)()
    return result


class TrioHTTPXRequest(HTTPXRequest):
    """``HTTPXRequest`` whose HTTP traffic runs on trio; same arguments."""

    __slots__ = ()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        async def request() -> tuple[int, bytes]:
            return await HTTPXRequest.do_request(
                self, url, method, request_data, read_timeout, write_timeout,
                connect_timeout, pool_timeout,
            )  # fmt: skip

        return await _on_trio(request)

    async def shutdown(self) -> None:
        """Close the client where its connections live."""
        await _on_trio(super().shutdown)
