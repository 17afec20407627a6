"""Hypercorn on trio: a real port, a clear bind error, a shutdown that ends streams."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import trio

from tauro.actors.web import build_app, serve_app
from tauro.actors.web._server import bind_address
from tauro.errors import WebError

StartWeb = Any


def test_bind_address_brackets_ipv6() -> None:
    assert bind_address("127.0.0.1", 8080) == "127.0.0.1:8080"
    assert bind_address("::1", 0) == "[::1]:0"


async def test_port_zero_reports_the_real_port(start_web: StartWeb) -> None:
    web = await start_web()
    port = int(web.url.rsplit(":", 1)[1])
    assert web.url.startswith("http://127.0.0.1:")
    assert port > 0
    async with web.client() as client:
        assert (await client.get("/")).status_code == 200


async def test_a_busy_port_is_a_clear_error(backend_type: Any, new_state: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = new_state(backend_type())
        with pytest.raises(WebError, match="WEB_HOST/WEB_PORT") as caught:
            await serve_app(
                build_app(state),
                state.runner,
                state.streams,
                host="127.0.0.1",
                port=port,
                shutdown=trio.Event(),
                grace=1.0,
            )
        assert f"127.0.0.1:{port}" in str(caught.value)


async def test_shutdown_ends_open_streams_with_a_reason(
    start_web: StartWeb, backend_type: Any
) -> None:
    hold = trio.Event()  # never set: the answer would never finish
    web = await start_web(backend_type(hold=hold), grace=5.0)
    async with (
        web.logged_in() as client,
        client.stream("POST", "/api/chat", json={"text": "hi"}) as response,
    ):
        lines = response.aiter_lines()
        assert await lines.__anext__() == ": stream open"
        started = trio.current_time()
        web.shutdown.set()
        rest = [line async for line in lines]
    assert "event: error" in rest
    assert any('"kind":"shutdown"' in line for line in rest)
    assert trio.current_time() - started < 5.0  # ended at once, not by the deadline


async def test_after_shutdown_the_port_is_closed(start_web: StartWeb) -> None:
    web = await start_web(grace=1.0)
    web.shutdown.set()
    with trio.fail_after(5):
        while True:
            try:
                async with web.client() as client:
                    await client.get("/")
            except httpx.ConnectError:
                break
            await trio.sleep(0.05)


async def test_turns_left_running_are_cancelled_after_the_grace(
    backend_type: Any, new_state: Any
) -> None:
    state = new_state(backend_type(hold=trio.Event()))
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(
            lambda task_status: serve_app(
                build_app(state),
                state.runner,
                state.streams,
                host="127.0.0.1",
                port=0,
                shutdown=shutdown,
                grace=0.5,
                task_status=task_status,
            )
        )
        state.runner.start("web:1", "a question nobody answers")
        assert state.runner.in_flight == 1
        started = trio.current_time()
        shutdown.set()
    assert url.startswith("http://")
    assert 0.4 < trio.current_time() - started < 3.0
