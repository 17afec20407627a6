"""``tauro check`` for Telegram: getMe and getWebhookInfo through the real client.

Runs without the actor system and never polls (a getUpdates would steal
updates from a running instance) nor changes the webhook, so it is safe to
run next to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tauro.actors.telegram._bridge import WebhookState, open_bot_api
from tauro.config import TelegramSettings
from tauro.errors import TelegramError


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramCheck:
    """What ``check_telegram`` found; never contains the token."""

    base_url: str
    username: str | None = None
    name: str | None = None
    error: str | None = None
    webhook: WebhookState | None = None
    webhook_configured: bool = False  # TELEGRAM_WEBHOOK_URL is set

    @property
    def ok(self) -> bool:
        return self.error is None

    def lines(self) -> list[str]:
        """Human-readable lines for the ``tauro check`` report."""
        where = f"Telegram Bot API at {self.base_url}"
        if self.error is not None:
            return [f"FAIL {where}: {self.error}"]
        lines = [f"ok   {where}: the token belongs to @{self.username} ({self.name})"]
        return lines + self._webhook_lines()

    def _webhook_lines(self) -> list[str]:
        hook = self.webhook
        if hook is None:
            return []
        if not hook.url:
            mode = "`tauro run` sets it" if self.webhook_configured else "long polling"
            return [f"ok   Telegram webhook: none set ({mode})"]
        details = f"{hook.url}, {hook.pending_update_count} update(s) pending"
        if hook.last_error_message:
            details += f", last error {hook.last_error_date}: {hook.last_error_message}"
        if self.webhook_configured:
            return [f"ok   Telegram webhook: {details}"]
        return [
            f"WARN Telegram webhook is set ({details}) while TELEGRAM_WEBHOOK_URL is empty "
            "(long polling): `tauro run` deletes it at start, or set TELEGRAM_WEBHOOK_URL "
            "to keep using it"
        ]


async def check_telegram(settings: TelegramSettings) -> TelegramCheck:
    """Call getMe and getWebhookInfo with TELEGRAM_BOT_TOKEN; never raises TelegramError."""
    base = settings.api_base_url
    if not settings.token:
        return TelegramCheck(base_url=base, error="TELEGRAM_BOT_TOKEN is not set")
    try:
        # One retry at most: an operator waits for this answer.
        async with open_bot_api(replace(settings, max_retries=1)) as api:
            me = api.identity
            webhook = await api.webhook_info()
    except TelegramError as error:
        return TelegramCheck(base_url=base, error=str(error))
    return TelegramCheck(
        base_url=base,
        username=me.username,
        name=me.name,
        webhook=webhook,
        webhook_configured=bool(settings.webhook_url),
    )
