"""Hypercorn's trio worker, with a shutdown that ends streams instead of cutting them.

Shutdown order, each step bounded by ``grace`` seconds in all:
1. ``shutdown`` is set: every open answer stream gets a final "shutting down"
   event and ends, and new turns are refused (503);
2. hypercorn stops accepting and lets the open responses finish;
3. turns still running (their answers are being stored) get the rest of the
   deadline, then are cancelled.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework
from starlette.applications import Starlette

from tauro.actors.web._chat import TurnRunner
from tauro.actors.web._events import OpenStreams
from tauro.errors import WebError

__all__ = ["bind_address", "serve_app"]

log = logging.getLogger("tauro.web")


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _config(host: str, port: int, grace: float) -> Config:
    config = Config()
    config.bind = [bind_address(host, port)]
    config.graceful_timeout = grace
    config.accesslog = None
    config.errorlog = logging.getLogger("tauro.web.server")
    config.keep_alive_timeout = 30.0
    return config


async def serve_app(
    app: Starlette,
    runner: TurnRunner,
    streams: OpenStreams,
    *,
    host: str,
    port: int,
    shutdown: trio.Event,
    grace: float,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set; report the base URL (with the real port)."""
    deadline = [math.inf]

    async def trigger() -> None:
        await shutdown.wait()
        deadline[0] = trio.current_time() + grace
        streams.close_all()

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.run)
            config = _config(host, port, grace)
            served = trio.Event()
            binds = await nursery.start(_serve_http, app, config, trigger, served)
            task_status.started(binds[0])
            await served.wait()
            with trio.move_on_at(deadline[0]):
                await runner.wait_idle()
            if runner.in_flight:
                log.warning("web.shutdown.cancelled", extra={"fields": {"turns": runner.in_flight}})
            nursery.cancel_scope.cancel()
    except* WebError as group:
        raise _first_leaf(group) from None


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def _serve_http(
    app: Starlette,
    config: Config,
    trigger: Callable[[], Awaitable[None]],
    served: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    try:
        await serve(
            cast(ASGIFramework, app), config, shutdown_trigger=trigger, task_status=task_status
        )
    except* OSError as group:
        cause = _first_leaf(group)
        reason = getattr(cause, "strerror", None) or str(cause)
        raise WebError(
            f"cannot listen on {config.bind[0]} ({reason}); "
            "change WEB_HOST/WEB_PORT or stop what uses that port"
        ) from None
    finally:
        served.set()
