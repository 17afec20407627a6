"""Serving an ASGI app on a loopback port inside the caller's trio nursery.

Both emulators (the Bot API one and the LLM server) are served this way: hypercorn's
trio worker runs as a task of the caller's run, so the emulator shares the caller's
clock (``MockClock`` included) and stops with the caller's nursery. Port 0 lets the
kernel pick a free port; hypercorn reports the bound address through
``task_status.started`` and we read the port from it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.requests import Request

T = TypeVar("T")

__all__ = [
    "LOOPBACK_HOSTS",
    "free_loopback_port",
    "is_loopback",
    "open_loopback_server",
    "unless_disconnected",
]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

# Idle keep-alive connections stay open for as long as the client wants: with a mock
# clock, a short server-side idle timeout would fire on every autojump.
_KEEP_ALIVE_S = 24 * 3600.0


def is_loopback(host: str | None) -> bool:
    """Whether a peer address is this machine (control endpoints require it)."""
    return host is not None and (host in LOOPBACK_HOSTS or host.startswith("127."))


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, for a server that must know its
    address before it listens (a bot's webhook URL is set before the web app binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(host: str, port: int, logger_name: str) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger(logger_name)
    config.keep_alive_timeout = _KEEP_ALIVE_S
    config.graceful_timeout = 0.0
    return config


def _port_of(bind: str) -> int:
    return int(bind.rsplit(":", 1)[1])


@asynccontextmanager
async def open_loopback_server(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, logger_name: str = "tauro.testing"
) -> AsyncIterator[str]:
    """Serve ``app`` until the block exits; yields ``http://host:port`` (port resolved)."""
    config = _config(host, port, logger_name)
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(serve, app, config)
        shown_host = f"[{host}]" if ":" in host else host
        try:
            yield f"http://{shown_host}:{_port_of(binds[0])}"
        finally:
            nursery.cancel_scope.cancel()


async def wait_disconnect(request: Request) -> None:
    """Return when the client goes away (call only after the body has been read)."""
    message = await request.receive()
    while message["type"] != "http.disconnect":
        message = await request.receive()


async def unless_disconnected(request: Request, work: Callable[[], Awaitable[T]]) -> T | None:
    """Run ``work`` but abandon it (None) if the client disconnects meanwhile.

    A long poll or a hung answer whose client died must not linger: it would hold a
    poll slot or a generation slot that a real server would have freed.
    """
    result: list[T] = []
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            await wait_disconnect(request)
            nursery.cancel_scope.cancel()

        async def run() -> None:
            result.append(await work())
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch)
        nursery.start_soon(run)
    return result[0] if result else None
