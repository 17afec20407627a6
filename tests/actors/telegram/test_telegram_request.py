"""TrioHTTPXRequest: python-telegram-bot's requests with httpx on trio.

Against the Bot API emulator through a real ``Bot``, and against a recording
``httpx.MockTransport`` where the exact request matters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
import pytest
import telegram
import telegram.error as tg
import trio
import trio.testing
import trio_asyncio
from telegram import InputFile
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from tauro.actors.telegram._request import TrioHTTPXRequest
from tauro.testing import BotApiEmulator, open_botapi_emulator

TOKEN = "123456:SECRETsecretSECRETsecret"


@asynccontextmanager
async def bot_on(
    request: TrioHTTPXRequest | None = None,
) -> AsyncIterator[tuple[BotApiEmulator, telegram.Bot]]:
    """A real ``Bot`` in a trio-asyncio loop, its request on trio, against the emulator."""
    async with open_botapi_emulator(TOKEN) as emu, trio_asyncio.open_loop():
        bot = telegram.Bot(TOKEN, base_url=emu.base_url, request=request or TrioHTTPXRequest())
        await trio_asyncio.aio_as_trio(bot.initialize)()
        try:
            yield emu, bot
        finally:
            await trio_asyncio.aio_as_trio(bot.shutdown)()


async def test_bot_methods_work_from_the_asyncio_loop() -> None:
    async with bot_on() as (emu, bot):
        assert bot.bot.username == "tauro_test_bot"  # getMe, in initialize
        emu.add_chat(42)
        message = await trio_asyncio.aio_as_trio(bot.send_message)(42, "hello")
        assert message.text == "hello"
        assert emu.texts(42) == ["hello"]


async def test_the_same_client_serves_trio_callers_directly() -> None:
    """The connections live on trio: a call from trio needs no asyncio loop at all."""
    request = TrioHTTPXRequest()
    async with bot_on(request) as (emu, _):
        me = await request.post(f"{emu.base_url}{TOKEN}/getMe")
        assert isinstance(me, dict)
        assert me["username"] == "tauro_test_bot"


async def test_status_codes_become_ptb_errors() -> None:
    async with bot_on() as (emu, bot):
        emu.add_chat(42)
        emu.inject_error("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
        with pytest.raises(tg.RetryAfter, match="Retry in 7 seconds"):
            await trio_asyncio.aio_as_trio(bot.send_message)(42, "x")
        emu.inject_error("sendMessage", 409, "Conflict: terminated by other getUpdates")
        with pytest.raises(tg.Conflict):
            await trio_asyncio.aio_as_trio(bot.send_message)(42, "x")
        with pytest.raises(tg.BadRequest, match="not found"):
            await trio_asyncio.aio_as_trio(bot.send_message)(999, "unknown chat")


async def test_an_unreachable_server_is_a_network_error() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    async with trio_asyncio.open_loop():
        request = TrioHTTPXRequest()
        with pytest.raises(tg.NetworkError, match="ConnectError"):
            await aio_post(request, f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
        await trio_asyncio.aio_as_trio(request.shutdown)()


async def test_a_silent_server_times_out() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, hold_open, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        async with trio_asyncio.open_loop():
            request = TrioHTTPXRequest(read_timeout=0.05)
            with pytest.raises(tg.TimedOut):
                await aio_post(request, f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
            await trio_asyncio.aio_as_trio(request.shutdown)()
        nursery.cancel_scope.cancel()


async def hold_open(stream: trio.SocketStream) -> None:
    """A server that reads the request and never answers."""
    await stream.receive_some()
    await trio.sleep_forever()


async def aio_post(request: TrioHTTPXRequest, url: str) -> object:
    async def post() -> object:
        return await request.post(url)

    return await trio_asyncio.aio_as_trio(post)()


async def test_uploads_go_as_multipart() -> None:
    async with bot_on() as (emu, bot):
        emu.add_chat(42)
        audio = b"OggS" + bytes(range(256)) * 40
        await trio_asyncio.aio_as_trio(bot.send_voice)(42, audio, duration=3)
        (call,) = emu.calls_of("sendVoice")
        assert call.status == 200
        assert str(call.params["voice"]).endswith(f" {len(audio)} bytes>")


async def test_a_cancelled_call_leaves_the_client_usable() -> None:
    async with bot_on() as (emu, bot):
        emu.add_chat(42)
        emu.set_latency("sendMessage", 60.0)
        with trio.move_on_after(0.1) as scope:
            await trio_asyncio.aio_as_trio(bot.send_message)(42, "never")
        assert scope.cancelled_caught
        emu.set_latency("sendMessage", 0.0)
        await trio_asyncio.aio_as_trio(bot.send_message)(42, "after")
        assert "after" in emu.texts(42)


class CountingCloses(httpx.AsyncHTTPTransport):
    """A real transport that counts how often it is closed."""

    closes = 0

    async def aclose(self) -> None:
        self.closes += 1
        await super().aclose()


async def test_shutdown_closes_the_client_once() -> None:
    transport = CountingCloses()
    request = TrioHTTPXRequest(transport=transport)
    async with bot_on(request):
        assert transport.closes == 0
    assert transport.closes == 1  # bot_on shut the bot (and so this request) down from asyncio
    async with trio_asyncio.open_loop():
        await trio_asyncio.aio_as_trio(request.shutdown)()  # again: a no-op
    await request.shutdown()  # from trio too
    assert transport.closes == 1
    with pytest.raises(tg.NetworkError, match="not initialized"):
        await request.post(f"http://api.test/bot{TOKEN}/getMe")


def data(**parameters: object) -> RequestData:
    """What a Bot method hands its request (RequestParameter: PTB's, not exported)."""
    return RequestData([RequestParameter.from_input(k, v) for k, v in parameters.items()])


class Recorder:
    """A transport that records requests and answers ``{"ok": true, "result": true}``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(200, json={"ok": True, "result": True})

        return httpx.MockTransport(handle)


async def test_timeouts_are_httpxrequests() -> None:
    recorder = Recorder()
    request = TrioHTTPXRequest(
        read_timeout=1.0, write_timeout=2.0, connect_timeout=3.0, pool_timeout=4.0,
        media_write_timeout=50.0, transport=recorder.transport(),
    )  # fmt: skip
    url = f"http://api.test/bot{TOKEN}/"
    await request.post(url + "sendMessage", data(text="x"))
    await request.post(url + "getUpdates", read_timeout=40.0)
    voice = InputFile(b"OggS....", filename="v.ogg")
    await request.post(url + "sendVoice", data(voice=voice))
    await request.post(url + "sendVoice", data(voice=voice), write_timeout=7.0)
    plain, poll, upload, given = (r.extensions["timeout"] for r in recorder.requests)
    assert plain == {"connect": 3.0, "read": 1.0, "write": 2.0, "pool": 4.0}
    assert poll["read"] == 40.0
    assert upload["write"] == 50.0  # media_write_timeout for uploads
    assert given["write"] == 7.0


class TimeoutSpy(TrioHTTPXRequest):
    """Notes the per-call timeouts python-telegram-bot hands ``do_request``."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[object, ...]] = []

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        self.seen.append((read_timeout, write_timeout, connect_timeout, pool_timeout))
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


async def test_ptb_marks_a_timeout_not_given_as_its_documented_default_none() -> None:
    """The request relies on PTB's public contract: an unset timeout *is*
    ``BaseRequest.DEFAULT_NONE``. If an upgrade passes anything else, this fails."""
    spy = TimeoutSpy()
    async with bot_on(spy) as (emu, bot):
        emu.add_chat(42)
        await trio_asyncio.aio_as_trio(bot.send_message)(42, "default")
        await trio_asyncio.aio_as_trio(partial(bot.send_message, read_timeout=7.5))(42, "given")
    unset = BaseRequest.DEFAULT_NONE
    assert all(timeout is unset for timeout in spy.seen[-2])
    assert spy.seen[-1][0] == 7.5
    assert all(timeout is unset for timeout in spy.seen[-1][1:])
    assert emu.texts(42) == ["default", "given"]


async def test_requests_carry_ptbs_user_agent_and_httpxs_headers() -> None:
    recorder = Recorder()
    request = TrioHTTPXRequest(transport=recorder.transport())
    await request.post(f"http://api.test/bot{TOKEN}/sendMessage", data(text="ciao"))
    voice = InputFile(b"OggS....", filename="v.ogg")
    await request.post(f"http://api.test/bot{TOKEN}/sendVoice", data(voice=voice))
    form, multipart = recorder.requests
    assert form.headers["user-agent"] == BaseRequest.USER_AGENT
    assert "gzip" in form.headers["accept-encoding"]
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form.content == b"text=ciao"
    assert multipart.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b"OggS...." in multipart.content


async def test_a_full_pool_is_ptbs_pool_timeout() -> None:
    async with open_botapi_emulator(TOKEN) as emu:
        emu.set_latency("getMe", 30.0)
        request = TrioHTTPXRequest(connection_pool_size=1, pool_timeout=0.05)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(request.post, f"{emu.base_url}{TOKEN}/getMe")
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(tg.TimedOut, match="Pool timeout"):
                await request.post(f"{emu.base_url}{TOKEN}/getMe")
            nursery.cancel_scope.cancel()
        await request.shutdown()


async def test_a_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # a proxy that is not there
    async with open_botapi_emulator(TOKEN) as emu:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        proxied = TrioHTTPXRequest()
        with pytest.raises(tg.NetworkError, match="ConnectError"):
            await proxied.post(f"{emu.base_url}{TOKEN}/getMe")
        await proxied.shutdown()
        monkeypatch.delenv("HTTP_PROXY")
        monkeypatch.delenv("http_proxy", raising=False)
        direct = TrioHTTPXRequest()
        assert isinstance(await direct.post(f"{emu.base_url}{TOKEN}/getMe"), dict)
        await direct.shutdown()


async def test_a_request_after_shutdown_needs_initialize() -> None:
    recorder = Recorder()
    request = TrioHTTPXRequest(transport=recorder.transport())
    await request.shutdown()
    with pytest.raises(tg.NetworkError, match="not initialized"):
        await request.post("http://api.test/getMe")
    await request.initialize()
    assert await request.post("http://api.test/getMe") is True
