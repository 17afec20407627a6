"""Waiting until a bot is done with every update its Bot API emulator handed out.

A test that checks "nothing more arrived" (no second answer, no second refusal) checks
it after this, instead of sleeping for a while and hoping that was long enough.
"""

from __future__ import annotations

import trio

from tauro.actors.telegram import GetTelegramStats
from tauro.runtime import ActorSystem
from tauro.testing._botapi import BotApiEmulator

__all__ = ["wait_bot_idle"]


async def wait_bot_idle(
    emulator: BotApiEmulator, system: ActorSystem, *, actor: str = "telegram", timeout: float = 30
) -> None:
    """Return once every update pushed so far is done with: no reply to any is to come.

    The bot confirms an update to Telegram only once it has it in hand (settled), and
    the work on it ends with its chat's worker. So: nothing left unconfirmed in the
    emulator, then no chat worker running in the bot. ``trio.TooSlowError`` after
    ``timeout`` seconds.
    """
    with trio.fail_after(timeout):
        while True:
            if emulator.statistics().updates_pending == 0:
                stats = await system.ref(actor).ask(GetTelegramStats())
                if stats.chats_in_flight == 0:
                    return
            await trio.sleep(0.01)
