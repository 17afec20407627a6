"""WebhookInbox and WebhookReceiver: the secret, 200 only once settled, redeliveries."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from tauro.actors.telegram import Incoming
from tauro.actors.telegram._polling import UpdateTracker
from tauro.actors.telegram._webhook import (
    ANSWER_TIMEOUT,
    WebhookInbox,
    WebhookReceiver,
    new_secret,
)

SECRET = new_secret()


def body(update_id: int, **extra: Any) -> bytes:
    return json.dumps({"update_id": update_id, **extra}).encode()


def reader(data: bytes, reads: list[int] | None = None) -> Any:
    async def read() -> bytes:
        if reads is not None:
            reads.append(1)
        return data

    return read


def parse(update: Mapping[str, Any]) -> Incoming:
    if "bad" in update:
        raise ValueError("not a Telegram update")
    return Incoming(update["update_id"], chat_id=1)


class Bot:
    """Stands for the Telegram actor: records what it was handed, settles on demand."""

    def __init__(self, settle_at_once: bool = True) -> None:
        self.tracker = UpdateTracker()
        self.handed: list[int] = []
        self.settle_at_once = settle_at_once
        self.receiver = WebhookReceiver(self.tracker, parse, self.on_update)

    async def on_update(self, incoming: Incoming) -> None:
        self.handed.append(incoming.update_id)
        if self.settle_at_once:
            self.tracker.settle(incoming.update_id)

    def inbox(self) -> WebhookInbox:
        inbox = WebhookInbox("/hook")
        inbox.open(SECRET, self.receiver)
        return inbox


def test_the_secret_is_long_and_made_of_what_telegram_allows() -> None:
    allowed = set(string.ascii_letters + string.digits + "_-")
    assert len(SECRET) >= 32
    assert set(SECRET) <= allowed
    assert new_secret() != new_secret()


async def test_without_the_right_secret_nothing_is_read_or_handed_over() -> None:
    bot = Bot()
    inbox = bot.inbox()
    reads: list[int] = []
    for secret in (None, "", "wrong", SECRET[:-1], SECRET + "x"):
        assert await inbox.post(secret, reader(body(7), reads)) == 401
    assert reads == []
    assert bot.handed == []
    assert await inbox.post(SECRET, reader(body(7), reads)) == 200
    assert bot.handed == [7]


async def test_the_secret_is_compared_in_constant_time(
    compared: list[tuple[bytes, bytes]],
) -> None:
    bot = Bot()
    assert await bot.inbox().post("guess", reader(body(1))) == 401
    assert compared == [(b"guess", SECRET.encode())]


async def test_a_closed_inbox_answers_retry_later_and_touches_nothing() -> None:
    bot = Bot()
    inbox = WebhookInbox("/hook")
    reads: list[int] = []
    assert await inbox.post(SECRET, reader(body(1), reads)) == 503
    inbox.open(SECRET, bot.receiver)
    inbox.close()
    assert await inbox.post(SECRET, reader(body(1), reads)) == 503
    assert reads == []
    assert bot.handed == []


@pytest.mark.parametrize("data", [b"not json", b"[1]", b'{"update_id": "7"}', b"\xff"])
async def test_a_malformed_body_is_refused(data: bytes) -> None:
    bot = Bot()
    assert await bot.inbox().post(SECRET, reader(data)) == 400
    assert await bot.inbox().post(SECRET, reader(body(3, bad=True))) == 400
    assert bot.handed == []


async def test_the_answer_waits_until_the_update_is_settled(autojump_clock: MockClock) -> None:
    bot = Bot(settle_at_once=False)
    inbox = bot.inbox()
    answers: list[tuple[float, int]] = []

    async def post() -> None:
        status = await inbox.post(SECRET, reader(body(5)))
        answers.append((trio.current_time(), status))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(post)
        await trio.sleep(3)
        assert answers == []
        assert bot.handed == [5]
        bot.tracker.settle(5)
    assert answers == [(3.0, 200)]


async def test_an_update_that_does_not_settle_in_time_gets_503_and_is_not_handed_twice(
    autojump_clock: MockClock,
) -> None:
    bot = Bot(settle_at_once=False)
    inbox = bot.inbox()
    start = trio.current_time()
    assert await inbox.post(SECRET, reader(body(9))) == 503
    assert trio.current_time() - start == ANSWER_TIMEOUT
    # Telegram asks again: still queued here, so it is not handed over again.
    async with trio.open_nursery() as nursery:

        async def settle_later() -> None:
            await trio.sleep(1)
            bot.tracker.settle(9)

        nursery.start_soon(settle_later)
        assert await inbox.post(SECRET, reader(body(9))) == 200
    assert await inbox.post(SECRET, reader(body(9))) == 200  # and once more: settled
    assert bot.handed == [9]


async def test_closing_the_receiver_answers_the_waiting_posts_at_once(
    autojump_clock: MockClock,
) -> None:
    bot = Bot(settle_at_once=False)
    inbox = bot.inbox()
    answers: list[tuple[int, int]] = []

    async def post(update_id: int) -> None:
        answers.append((update_id, await inbox.post(SECRET, reader(body(update_id)))))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(post, 1)
        nursery.start_soon(post, 2)
        await trio.sleep(1)
        bot.tracker.settle(1)  # its turn recorded the question before the stop
        await trio.sleep(1)
        inbox.close()  # draining: no new POST is taken ...
        assert await inbox.post(SECRET, reader(body(3))) == 503
        await trio.sleep(1)
        bot.receiver.close()  # ... and the started turns are over
    assert sorted(answers) == [(1, 200), (2, 503)]
    assert sorted(bot.handed) == [1, 2]  # two POSTs at once: trio runs them in any order


async def test_memory_of_settled_updates_is_bounded() -> None:
    tracker = UpdateTracker()
    for update_id in range(100):
        assert tracker.receive(update_id)
        tracker.settle(update_id)
        tracker.forget_settled(10)
    assert tracker.is_settled(99)
    assert not tracker.receive(99)
    assert tracker.receive(0)  # long forgotten: memory's UpdateStatus recognises a question
