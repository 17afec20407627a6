"""``tauro check`` for Telegram: getMe through the real client, nothing else.

Runs without the actor system and never polls (a getUpdates would steal
updates from a running instance), so it is safe to run next to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tauro.actors.telegram._bridge import open_bot_api
from tauro.config import TelegramSettings
from tauro.errors import TelegramError


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramCheck:
    """What ``check_telegram`` found; never contains the token."""

    base_url: str
    username: str | None = None
    name: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def lines(self) -> list[str]:
        """Human-readable lines for the ``tauro check`` report."""
        where = f"Telegram Bot API at {self.base_url}"
        if self.error is not None:
            return [f"FAIL {where}: {self.error}"]
        return [f"ok   {where}: the token belongs to @{self.username} ({self.name})"]


async def check_telegram(settings: TelegramSettings) -> TelegramCheck:
    """Call getMe with TELEGRAM_BOT_TOKEN; never raises TelegramError."""
    base = settings.api_base_url
    if not settings.token:
        return TelegramCheck(base_url=base, error="TELEGRAM_BOT_TOKEN is not set")
    try:
        # One retry at most: an operator waits for this answer.
        async with open_bot_api(replace(settings, max_retries=1)) as api:
            me = api.identity
            return TelegramCheck(base_url=base, username=me.username, name=me.name)
    except TelegramError as error:
        return TelegramCheck(base_url=base, error=str(error))
