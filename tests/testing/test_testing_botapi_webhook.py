"""The Bot API emulator's webhook: setWebhook/deleteWebhook/getWebhookInfo through the
real python-telegram-bot client, deliveries by POST to a local receiver."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import telegram
import trio
import trio_asyncio
from anyio._backends import _asyncio as anyio_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram.error import BadRequest, Conflict
from trio.testing import MockClock

from tauro.testing import BotApiEmulator, open_botapi_emulator
from tauro.testing._botapi_serve import open_loopback_server
from tauro.testing._botapi_webhook import SECRET_HEADER, WebhookDelivery, chat_key

TOKEN = "123:ABC"
SECRET = "s3cret_-token"
anyio_asyncio.get_running_loop = asyncio.get_running_loop  # type: ignore[attr-defined]
anyio_asyncio.current_task = asyncio.current_task  # type: ignore[attr-defined]


@dataclass
class Receiver:
    """A webhook endpoint that records what it got and answers scripted statuses."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    received: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    hold: dict[int, trio.Event] = field(default_factory=dict)  # update_id -> released when set
    arrived: trio.Event = field(default_factory=trio.Event)  # set (and renewed) per request

    async def endpoint(self, request: Request) -> Response:
        update = await request.json()
        self.received.append((update, request.headers.get(SECRET_HEADER)))
        self.arrived.set()
        self.arrived = trio.Event()
        gate = self.hold.get(update["update_id"])
        if gate is not None:
            await gate.wait()
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    def ids(self) -> list[int]:
        return [update["update_id"] for update, _ in self.received]

    async def wait_received(self, update_id: int) -> None:
        with trio.fail_after(10):
            while update_id not in self.ids():
                await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])
    async with open_loopback_server(app) as root:
        hook.url = f"{root}/hook"
        yield hook


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    delivery = WebhookDelivery(retry_initial=1.0, retry_max=8.0)
    async with open_botapi_emulator(TOKEN, webhook=delivery) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    async with trio_asyncio.open_loop():
        ptb = telegram.Bot(emu.token, base_url=emu.base_url)
        await trio_asyncio.aio_as_trio(ptb.initialize)()
        yield ptb
        await trio_asyncio.aio_as_trio(ptb.shutdown)()


def aio(method: Any) -> Any:
    return trio_asyncio.aio_as_trio(method)


async def test_set_webhook_delivers_each_update_by_post_with_the_secret(
    emu: BotApiEmulator, bot: telegram.Bot, receiver: Receiver
) -> None:
    first = emu.push_message(42, "before the webhook")
    assert await aio(bot.set_webhook)(
        receiver.url, secret_token=SECRET, allowed_updates=["message"], max_connections=5
    )
    second = emu.push_message(42, "after")
    await emu.wait_for(lambda: len(receiver.received) == 2)
    assert receiver.ids() == [first, second]
    assert [secret for _, secret in receiver.received] == [SECRET, SECRET]
    assert receiver.received[1][0]["message"]["text"] == "after"
    await emu.wait_for(lambda: emu.statistics().updates_pending == 0)
    info = await aio(bot.get_webhook_info)()
    assert (info.url, info.pending_update_count, info.max_connections) == (receiver.url, 0, 5)
    assert info.allowed_updates == ("message",)
    assert info.last_error_message is None


async def test_get_updates_conflicts_while_a_webhook_is_set(
    emu: BotApiEmulator, bot: telegram.Bot, receiver: Receiver
) -> None:
    await aio(bot.set_webhook)(receiver.url)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await aio(bot.get_updates)()
    assert await aio(bot.delete_webhook)()
    emu.push_message(42, "polled")
    assert [u.message.text for u in await aio(bot.get_updates)()] == ["polled"]
    assert receiver.received == []


async def test_a_failed_delivery_is_repeated_with_a_growing_pause(
    emu: BotApiEmulator, bot: telegram.Bot, receiver: Receiver, autojump_clock: MockClock
) -> None:
    receiver.statuses = [401, 503, 500, 503, 500]
    await aio(bot.set_webhook)(receiver.url, secret_token=SECRET)
    update = emu.push_message(42, "again and again")
    await emu.wait_for(lambda: len(emu.webhook_posts) == 1, timeout=100)
    info = await aio(bot.get_webhook_info)()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
    assert info.last_error_date is not None
    await emu.wait_for(lambda: len(receiver.received) == 6, timeout=100)
    await emu.wait_for(lambda: emu.statistics().updates_pending == 0)
    assert receiver.ids() == [update] * 6
    times = [post.time for post in emu.webhook_posts]
    gaps = [round(b - a) for a, b in itertools.pairwise(times)]
    assert gaps == [1, 2, 4, 8, 8]  # doubling from 1 s up to retry_max
    assert [post.status for post in emu.webhook_posts] == [401, 503, 500, 503, 500, 200]


async def test_an_unreachable_webhook_is_an_error_and_nothing_is_lost(
    emu: BotApiEmulator, bot: telegram.Bot, autojump_clock: MockClock
) -> None:
    await aio(bot.set_webhook)("http://127.0.0.1:9/nobody-listens")
    emu.push_message(42, "kept")
    await emu.wait_for(lambda: len(emu.webhook_posts) >= 2, timeout=100)
    info = await aio(bot.get_webhook_info)()
    assert info.last_error_message == "Connection refused"
    assert info.pending_update_count == 1
    assert await aio(bot.delete_webhook)()
    assert [u.message.text for u in await aio(bot.get_updates)()] == ["kept"]


async def test_one_chat_in_order_other_chats_in_parallel(
    emu: BotApiEmulator, bot: telegram.Bot, receiver: Receiver
) -> None:
    await aio(bot.set_webhook)(receiver.url)
    slow = emu.push_message(1, "slow")
    receiver.hold[slow] = trio.Event()
    after_slow = emu.push_message(1, "waits for slow")
    other = emu.push_message(2, "other chat")
    await emu.wait_for(lambda: other in receiver.ids())
    assert after_slow not in receiver.ids()  # the same chat waits for the 2xx
    receiver.hold[slow].set()
    await emu.wait_for(lambda: after_slow in receiver.ids())
    assert sorted(receiver.ids()[:2]) == [slow, other]
    assert receiver.ids()[2:] == [after_slow]


async def test_max_connections_bounds_the_posts_in_flight(
    emu: BotApiEmulator, bot: telegram.Bot, receiver: Receiver
) -> None:
    await aio(bot.set_webhook)(receiver.url, max_connections=1)
    slow = emu.push_message(1, "slow")
    receiver.hold[slow] = trio.Event()
    await receiver.wait_received(slow)
    other = emu.push_message(2, "other chat")
    with trio.move_on_after(0.5):  # a second connection would deliver it meanwhile
        await receiver.wait_received(other)
    assert receiver.ids() == [slow]
    receiver.hold[slow].set()
    await receiver.wait_received(other)


async def test_a_new_set_webhook_ends_the_pause_at_once(
    emu: BotApiEmulator, bot: telegram.Bot, receiver: Receiver
) -> None:
    receiver.statuses = [503]
    emu.webhook.retry_initial = 3600.0  # would wait an hour
    await aio(bot.set_webhook)(receiver.url, secret_token="first")
    update = emu.push_message(42, "hello")
    await emu.wait_for(lambda: len(receiver.received) == 1)
    await aio(bot.set_webhook)(receiver.url, secret_token="second")
    await emu.wait_for(lambda: len(receiver.received) == 2)
    assert receiver.received[1] == (receiver.received[0][0], "second")
    assert receiver.ids() == [update, update]


@pytest.mark.parametrize(
    ("url", "secret", "error"),
    [
        ("http://example.org/hook", None, "(?i)an https url must be provided"),
        ("https://example.org/hook", "bad secret!", "(?i)secret token contains unallowed"),
    ],
)
async def test_set_webhook_refuses_what_telegram_refuses(
    bot: telegram.Bot, url: str, secret: str | None, error: str
) -> None:
    with pytest.raises(BadRequest, match=error):
        await aio(bot.set_webhook)(url, secret_token=secret)


def test_updates_without_a_chat_have_a_sequence_of_their_own() -> None:
    message = {"update_id": 5, "message": {"chat": {"id": 7}, "from": {"id": 9}}}
    query = {"from": {"id": 9}, "message": {"chat": {"id": 7}}}
    callback = {"update_id": 6, "callback_query": query}
    assert chat_key(message) == chat_key(callback) == 7
    assert chat_key({"update_id": 8, "poll": {"id": "x"}}) == ("update", 8)
