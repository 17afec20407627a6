"""TrioHTTPXRequest: python-telegram-bot's requests with httpx on trio, against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import telegram
import telegram.error as tg
import trio
import trio_asyncio

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


async def test_shutdown_closes_the_client_once() -> None:
    request = TrioHTTPXRequest()
    async with bot_on(request):
        pass  # bot_on shut the bot (and so this request) down from asyncio
    async with trio_asyncio.open_loop():
        await trio_asyncio.aio_as_trio(request.shutdown)()  # again: a no-op
    await request.shutdown()  # from trio too
