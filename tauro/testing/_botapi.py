"""``BotApiEmulator``: a local Telegram Bot API server for tests and benchmarks.

The emulator is a plain object holding the state (chats, updates, files, faults,
records); ``open_botapi_emulator`` serves it over HTTP on a loopback port inside the
caller's nursery so the real python-telegram-bot client can talk to it with
``base_url=emu.base_url``. Tests simulate users with ``push_*`` and read what the bot
did from ``sent``, ``messages(chat_id)``, ``calls`` and ``statistics()``; all times
are on trio's clock.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from tauro.testing import _botapi_users as users
from tauro.testing._botapi_core import BotApiState, ChatAction
from tauro.testing._botapi_flood import FloodLimits
from tauro.testing._botapi_methods import lookup
from tauro.testing._botapi_params import Params
from tauro.testing._botapi_types import ApiCall, ApiFailure, BotMessage, InjectedError
from tauro.testing._botapi_webhook import WebhookDelivery, WebhookPost, deliver_webhooks

__all__ = ["DEFAULT_TOKEN", "BotApiEmulator", "BotApiStatistics"]

DEFAULT_TOKEN = "123:ABC"  # noqa: S105 - a made-up token for the local emulator

JsonDict = dict[str, Any]
logger = logging.getLogger("tauro.testing.botapi")


@dataclass(frozen=True)
class BotApiStatistics:
    """Counters since start: calls per method, replies per HTTP status, updates."""

    calls: dict[str, int]
    statuses: dict[int, int]
    rate_limited: int
    conflicts: int
    updates_pushed: int
    updates_delivered: int
    updates_pending: int
    messages_sent: int
    edits: int


class BotApiEmulator:
    """The emulated Bot API of one bot (one token)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "tauro_test_bot",
        bot_name: str = "TauroBot",
        require_known_chat: bool = True,
        flood_limits: FloodLimits | None = None,
        first_update_id: int = 1,
        webhook: WebhookDelivery | None = None,
    ) -> None:
        self.token = token
        self.state = BotApiState(token, bot_name, bot_username, require_known_chat,
                                 first_update_id)  # fmt: skip
        self.state.set_flood_limits(flood_limits)
        self.base_url = ""  # set once served: PTB's base_url, "http://127.0.0.1:P/bot"
        self.base_file_url = ""  # PTB's base_file_url, "http://127.0.0.1:P/file/bot"
        self.root_url = ""  # "http://127.0.0.1:P": control endpoints live under /_emulator
        self.calls: list[ApiCall] = []
        self._counts: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._faults: list[InjectedError] = []
        self._latency: dict[str, float] = {}
        self._changed = trio.Event()
        self.webhook = webhook if webhook is not None else WebhookDelivery()

    # ------------------------------------------------------------------ serving
    async def call(self, method: str, values: dict[str, object]) -> tuple[int, JsonDict]:
        """Answer one Bot API call: ``(http_status, body)``; used by the HTTP layer."""
        try:
            return await self._answer(method, Params(values))
        finally:  # also when abandoned (a poller that went away): waiters re-check
            self._pulse()

    async def _answer(self, method: str, params: Params) -> tuple[int, JsonDict]:
        arrived = trio.current_time()
        try:
            name, handler = lookup(method)
        except ApiFailure as failure:
            return self._done(method, params, arrived, failure.error_code, failure.payload())
        try:
            await self._delay(name)
            self._raise_injected(name)
            result = await handler(self.state, params)
        except ApiFailure as failure:
            return self._done(name, params, arrived, failure.error_code, failure.payload())
        return self._done(name, params, arrived, 200, {"ok": True, "result": result})

    def _done(
        self, name: str, params: Params, arrived: float, status: int, body: JsonDict
    ) -> tuple[int, JsonDict]:
        self.calls.append(ApiCall(name, params.shown(), arrived, status))
        self._counts[name] += 1
        self._statuses[status] += 1
        return status, body

    async def _delay(self, name: str) -> None:
        seconds = self._latency.get(name, self._latency.get("*", 0.0))
        if seconds > 0:
            await trio.sleep(seconds)

    def _raise_injected(self, name: str) -> None:
        for index, fault in enumerate(self._faults):
            if fault.method in (name, "*"):
                if fault.times <= 1:
                    del self._faults[index]
                else:
                    self._faults[index] = InjectedError(
                        **{**fault.__dict__, "times": fault.times - 1}
                    )
                raise ApiFailure(fault.status, fault.description, fault.retry_after)

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # --------------------------------------------------------------- faults
    def inject_error(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" = any) with this error.

        E.g. ``inject_error("sendMessage", 429, "Too Many Requests: retry after 3", 3)``.
        """
        self._faults.append(InjectedError(method, status, description, retry_after, times))

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay every call of ``method`` ("*" = all methods) by ``seconds`` (trio clock)."""
        self._latency[method] = seconds

    def set_webhook(self, url: str, secret_token: str | None = None) -> None:
        """As ``setWebhook``: ``getUpdates`` answers 409 until deleted, updates go by POST."""
        self.state.updates.set_webhook(url, secret_token)
        self._pulse()

    def delete_webhook(self) -> None:
        self.state.updates.set_webhook("")
        self._pulse()

    async def deliver_webhooks(self) -> None:
        """POST pending updates to the webhook while one is set (runs until cancelled)."""
        await deliver_webhooks(self.state, self.webhook, self._pulse)

    @property
    def webhook_posts(self) -> list[WebhookPost]:
        """Every webhook delivery attempt, in order (status None: no HTTP answer)."""
        return list(self.webhook.posts)

    def set_flood_limits(self, limits: FloodLimits | None) -> None:
        """Enforce Telegram's flood limits (``FloodLimits()`` = Telegram's numbers)."""
        self.state.set_flood_limits(limits)

    # ---------------------------------------------------------- simulated users
    def add_chat(self, chat_id: int, chat_type: str = "private", name: str = "") -> None:
        """Make a chat known without a user message (the bot may then write to it)."""
        self.state.chats.add_chat(chat_id, chat_type, name)

    def push_update(self, raw: JsonDict) -> int:
        """Queue a raw ``Update`` dict (``update_id`` assigned if missing)."""
        update_id = self.state.updates.push(dict(raw))
        self._pulse()
        return update_id

    def _push_message(self, sender: users.Sender, content: JsonDict, **reply: Any) -> int:
        return self.push_update(users.message_update(self.state, sender, content, **reply))

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
        reply_to_bot: bool = False,
        entities: list[JsonDict] | None = None,
        language_code: str | None = "en",
    ) -> int:
        """A user writes ``text``; returns the update id.

        Commands and ``@mentions`` get their entities automatically unless
        ``entities`` is given; ``reply_to_bot`` replies to the bot's last message.
        ``language_code`` is the sender's app language (None: Telegram sends none).
        """
        sender = users.Sender(
            chat_id, user_id, chat_type, username, first_name, chat_title, language_code
        )
        return self._push_message(
            sender, users.text_content(text, entities),
            reply_to_message_id=reply_to_message_id, reply_to_bot=reply_to_bot,
        )  # fmt: skip

    def push_sticker(self, chat_id: int, emoji: str = "👍", **who: Any) -> int:
        return self._push_message(users.Sender(chat_id, **who), users.sticker_content(emoji))

    def push_photo(self, chat_id: int, caption: str | None = None, **who: Any) -> int:
        return self._push_message(users.Sender(chat_id, **who), users.photo_content(caption))

    def push_document(
        self,
        chat_id: int,
        file_name: str = "notes.pdf",
        mime_type: str = "application/pdf",
        size: int = 12345,
        caption: str | None = None,
        **who: Any,
    ) -> int:
        content = users.document_content(file_name, mime_type, size, caption)
        return self._push_message(users.Sender(chat_id, **who), content)

    def push_voice(self, chat_id: int, duration: int = 3, **who: Any) -> int:
        return self._push_message(users.Sender(chat_id, **who), users.voice_content(duration))

    def push_callback_query(self, chat_id: int, message_id: int, data: str, **who: Any) -> int:
        sender = users.Sender(chat_id, **who)
        return self.push_update(users.callback_query_update(self.state, sender, message_id, data))

    # ---------------------------------------------------------------- inspection
    @property
    def sent(self) -> list[BotMessage]:
        """Every message the bot sent, in order (edits update them in place)."""
        return list(self.state.chats.sent)

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in one chat, in order."""
        return list(self.state.chats.by_chat.get(chat_id, ()))

    def texts(self, chat_id: int) -> list[str]:
        """Current text of each bot message in the chat (deleted ones left out)."""
        return [m.text for m in self.messages(chat_id) if not m.deleted]

    @property
    def chat_actions(self) -> list[ChatAction]:
        return list(self.state.chat_actions)

    def calls_of(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every call and push.

        Raises ``trio.TooSlowError`` after ``timeout`` seconds of trio's clock.
        """
        with trio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()

    def statistics(self) -> BotApiStatistics:
        updates = self.state.updates
        return BotApiStatistics(
            calls=dict(self._counts), statuses=dict(self._statuses),
            rate_limited=self._statuses[429], conflicts=self._statuses[409],
            updates_pushed=updates.pushed, updates_delivered=updates.delivered,
            updates_pending=updates.pending_count, messages_sent=len(self.state.chats.sent),
            edits=sum(m.edits for m in self.state.chats.sent),
        )  # fmt: skip
