"""wait_bot_idle: done only when Telegram holds nothing unconfirmed and no chat works."""

from __future__ import annotations

import dataclasses

import httpx
import trio
import trio.testing

from tauro.actors.telegram import TelegramStatistics
from tauro.runtime import ActorSpec, SupervisorSpec, open_actor_system
from tauro.runtime.testing import ProbeActor
from tauro.testing import open_botapi_emulator, wait_bot_idle

QUIET = TelegramStatistics(
    bot_username="tauro_test_bot", updates=1, outcomes={}, chats_in_flight=0, queued=0,
    unsettled=0, api_calls=0, api_retries=0, api_floods=0, markdown_fallbacks=0,
    api_failures=0, first_visible=(0.0, 0.0), complete=(0.0, 0.0),
)  # fmt: skip


async def test_idle_needs_every_update_confirmed_and_no_chat_at_work() -> None:
    stats = [dataclasses.replace(QUIET, chats_in_flight=1)]
    probe = ProbeActor(reply=lambda message: stats[0])
    spec = SupervisorSpec(
        name="root", children=(ActorSpec(name="telegram", factory=lambda: probe),)
    )
    async with open_botapi_emulator() as emu, open_actor_system(spec) as system:
        update_id = emu.push_message(42, "hi")
        idle = trio.Event()

        async def wait() -> None:
            await wait_bot_idle(emu, system)
            idle.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait)
            await trio.testing.wait_all_tasks_blocked()
            assert not idle.is_set()  # the update is still unconfirmed
            async with httpx.AsyncClient() as http:
                url = f"{emu.base_url}{emu.token}/getUpdates"
                await http.post(url, json={"offset": update_id + 1, "timeout": 0})
            while not probe.received:  # noqa: ASYNC110 - the helper asks the bot now
                await trio.sleep(0.01)
            assert not idle.is_set()  # confirmed, but a chat is still at work
            stats[0] = QUIET
            with trio.fail_after(10):
                await idle.wait()
