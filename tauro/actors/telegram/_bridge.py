"""The one edge to Telegram: python-telegram-bot's ``Bot`` inside trio.

python-telegram-bot is asyncio code; it runs here in ONE long-lived
trio-asyncio loop opened by ``open_bot_api`` (every call goes through
``trio_asyncio.aio_as_trio``), with ``TELEGRAM_API_BASE_URL`` as its
``base_url``. Everything Telegram-specific stops at this module:

- its errors become ``tauro.errors`` ones (``InvalidToken`` ->
  ``InvalidTokenError``, ``Conflict`` -> ``PollingConflictError``, a refused
  ``setWebhook`` -> ``WebhookRefusedError``, the rest ``TelegramError``), and
  the bot token (and the webhook's secret) is removed from every message, log
  line and traceback the libraries underneath produce while it is open;
- 429s wait their ``retry_after``, network errors and 5xx back off and retry
  (``_limits.retrying``); every send waits for Telegram's limits first;
- answers go in Telegram's HTML parse mode (``_markdown``); if Telegram
  still answers "can't parse entities", the same message goes once more as
  plain text (counted, logged), never more; "message is not modified"
  counts as done.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import orjson
import telegram
import telegram.error as tg
import trio
import trio_asyncio
from telegram.constants import ParseMode
from telegram.warnings import PTBDeprecationWarning

from tauro.actors.telegram._groups import unwrapped_errors
from tauro.actors.telegram._incoming import BotIdentity, Incoming, from_update
from tauro.actors.telegram._limits import RetryAdvice, RetryPolicy, SendLimiter, retrying
from tauro.actors.telegram._markdown import TelegramPiece
from tauro.actors.telegram._redact import redacting_logs
from tauro.actors.telegram._request import TrioHTTPXRequest
from tauro.actors.telegram._streaming import Sent, Text
from tauro.actors.voice import VoiceNote
from tauro.config import TelegramSettings
from tauro.errors import (
    InvalidTokenError,
    PollingConflictError,
    TelegramError,
    WebhookRefusedError,
)
from tauro.logs import redact

log = logging.getLogger("tauro.telegram")

T = TypeVar("T")

_CANT_PARSE = "can't parse entities"
_NOT_MODIFIED = "message is not modified"
# Connections to the Bot API. Each call is short and the limits allow about
# 30 messages a second, so a few connections carry the load; a bigger pool only
# costs CPU (httpcore scans its connections on every request).
_POOL_SIZE = 16


# The update types TauroBot acts on (polling and webhook alike): only messages.
ALLOWED_UPDATES = ("message",)


@dataclass(frozen=True)
class WebhookState:
    """What getWebhookInfo says; ``url`` never shows the bot token."""

    url: str
    pending_update_count: int
    last_error_message: str | None = None
    last_error_date: str | None = None  # ISO 8601


@dataclass(frozen=True)
class ApiCounters:
    """Calls made and failures seen since the bridge opened."""

    calls: int
    retries: int
    floods: int
    markdown_fallbacks: int
    failures: int


def classify(error: Exception) -> RetryAdvice | None:
    """Which python-telegram-bot errors are worth another attempt, and when."""
    if isinstance(error, tg.RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns that it will become a timedelta
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            after = error.retry_after
        seconds = after if isinstance(after, int | float) else after.total_seconds()
        return RetryAdvice("429 flood control", wait=float(seconds))
    if isinstance(error, tg.BadRequest):  # a subclass of NetworkError, never transient
        return None
    if isinstance(error, tg.NetworkError):  # connection errors, timeouts, 5xx
        return RetryAdvice(type(error).__name__)
    return None


def translate(error: tg.TelegramError, method: str, token: str) -> TelegramError:
    """The ``tauro.errors`` equivalent, naming the setting to check; never the token."""
    detail = redact(str(error), (token,))
    if isinstance(error, tg.InvalidToken):
        return InvalidTokenError(
            f"Telegram refused the bot token ({detail}): check TELEGRAM_BOT_TOKEN, "
            "the token @BotFather gave you, and TELEGRAM_API_BASE_URL"
        )
    if isinstance(error, tg.Conflict):
        return PollingConflictError(
            f"409 Conflict from {method} ({detail}): another instance is polling with this "
            "TELEGRAM_BOT_TOKEN, or a webhook is set; stop the other instance or delete the "
            "webhook (deleteWebhook), then start again"
        )
    if method == "setWebhook" and isinstance(error, tg.BadRequest):
        return WebhookRefusedError(
            f"Telegram refused TELEGRAM_WEBHOOK_URL ({detail}): it must be a public https:// "
            "URL with a valid certificate, on port 443, 80, 88 or 8443"
        )
    if isinstance(error, tg.Forbidden):
        return TelegramError(f"{method} forbidden ({detail}): the user blocked the bot?")
    return TelegramError(f"{method} failed: {detail}")


class BotApi:
    """The Bot API methods TauroBot uses, with limits, retries and translation."""

    def __init__(
        self,
        bot: telegram.Bot,
        identity: BotIdentity,
        settings: TelegramSettings,
        limiter: SendLimiter,
    ) -> None:
        self._bot = bot
        self.identity = identity
        self._settings = settings
        self.limiter = limiter
        self._policy = RetryPolicy(max_retries=settings.max_retries)
        self._counts = {"calls": 0, "retries": 0, "floods": 0, "fallbacks": 0, "failures": 0}
        self._id_hooks: dict[int, Callable[[int], None]] = {}  # chat -> on_id of its send
        request = bot.request
        if isinstance(request, TrioHTTPXRequest):
            request.on_answer = self._answered

    def counters(self) -> ApiCounters:
        c = self._counts
        return ApiCounters(c["calls"], c["retries"], c["floods"], c["fallbacks"], c["failures"])

    async def _call(
        self,
        method: str,
        invoke: Callable[[], Awaitable[T]],
        *,
        wait: Callable[[], Awaitable[None]] | None = None,
        limit_chat: int | None = None,
    ) -> T:
        """One Bot API call: wait for limits, ``invoke``, retry what is transient."""

        async def attempt() -> T:
            if wait is not None:
                await wait()
            self._counts["calls"] += 1
            return await invoke()

        def on_flood(seconds: float) -> None:
            self._counts["floods"] += 1
            self.limiter.flood(limit_chat, seconds)

        try:
            return await retrying(
                attempt, self._classify, self._policy, method=method, on_flood=on_flood
            )
        except tg.TelegramError as error:
            self._counts["failures"] += 1
            raise translate(error, method, self._bot.token) from None

    def _classify(self, error: Exception) -> RetryAdvice | None:
        advice = classify(error)
        if advice is not None:
            self._counts["retries"] += 1
            advice = RetryAdvice(redact(advice.reason, (self._bot.token,)), advice.wait)
        return advice

    # Receiving ----------------------------------------------------------------

    async def get_updates(self, offset: int, timeout: float, limit: int = 100) -> list[Incoming]:
        """Long-poll for updates from ``offset`` on (which confirms those before it)."""
        updates: Sequence[telegram.Update] = await self._call(
            "getUpdates",
            _aio(
                self._bot.get_updates,
                offset=offset,
                limit=limit,
                timeout=int(timeout),
                read_timeout=timeout + self._settings.request_timeout,
                allowed_updates=list(ALLOWED_UPDATES),
            ),
        )
        return [from_update(update, self.identity) for update in updates]

    def parse_update(self, data: Mapping[str, Any]) -> Incoming:
        """A webhook's JSON ``Update``, read as getUpdates' are (ValueError if malformed)."""
        try:
            update = telegram.Update.de_json(dict(data), self._bot)
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a Telegram update ({type(error).__name__})") from None
        return from_update(update, self.identity)

    # Webhook ------------------------------------------------------------------

    async def set_webhook(self, url: str, secret_token: str) -> None:
        """Have Telegram POST updates to ``url``; refused URLs raise ``WebhookRefusedError``."""
        invoke = _aio(
            self._bot.set_webhook,
            url,
            secret_token=secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False,
        )
        await self._call("setWebhook", invoke)

    async def delete_webhook(self) -> None:
        """Back to getUpdates; pending updates are kept for it."""
        await self._call(
            "deleteWebhook", _aio(self._bot.delete_webhook, drop_pending_updates=False)
        )

    async def webhook_info(self) -> WebhookState:
        info: telegram.WebhookInfo = await self._call(
            "getWebhookInfo", _aio(self._bot.get_webhook_info)
        )
        error_date = info.last_error_date
        return WebhookState(
            url=redact(info.url, (self._bot.token,)),
            pending_update_count=info.pending_update_count,
            last_error_message=info.last_error_message,
            last_error_date=error_date.isoformat() if error_date is not None else None,
        )

    # Sending (the streaming reply's ChatApi) ------------------------------------

    async def send_text(
        self,
        chat_id: int,
        text: Text,
        *,
        reply_to: int | None,
        on_id: Callable[[int], None] | None = None,
    ) -> Sent:
        """Send a message once the limits allow; plain text if the HTML is refused.

        ``text`` may be a function: it is called when the message actually
        goes, so a reply that waited for its slot sends what it has by then.
        ``on_id`` gets the new message's id as soon as Telegram's answer is
        read, before it is parsed (``_answered``); while another send of the
        chat holds that place, it is not called (the caller notes the id itself
        when the send returns).
        """
        if on_id is not None and chat_id not in self._id_hooks:  # else: told after the send
            self._id_hooks[chat_id] = on_id
        try:
            try:
                return await self._send_text(chat_id, text, formatted=True, reply_to=reply_to)
            except TelegramError as error:
                if _CANT_PARSE not in str(error).lower():
                    raise
                self._refused(chat_id, error)
            return await self._send_text(chat_id, text, formatted=False, reply_to=reply_to)
        finally:
            if on_id is not None and self._id_hooks.get(chat_id) is on_id:
                del self._id_hooks[chat_id]

    def _answered(self, url: str, body: bytes) -> None:
        """The raw answer of a call: a new message's id goes to its send's ``on_id``."""
        if not self._id_hooks or not url.endswith("/sendMessage"):
            return
        with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
            result = orjson.loads(body)["result"]
            hook = self._id_hooks.get(result["chat"]["id"])
            message_id = result["message_id"]
            if hook is not None and type(message_id) is int:
                hook(message_id)

    def _refused(self, chat_id: int, error: TelegramError) -> None:
        """Telegram refused our HTML: it should not happen, so it is counted and logged."""
        self._counts["fallbacks"] += 1
        fields = {"chat_id": chat_id, "error": str(error)}
        log.warning("telegram.html.refused", extra={"fields": fields})

    async def _send_text(
        self, chat_id: int, text: Text, *, formatted: bool, reply_to: int | None
    ) -> Sent:
        sent = TelegramPiece("")

        async def invoke() -> telegram.Message:
            nonlocal sent
            sent = text() if callable(text) else text
            body, parse_mode = _body(sent, formatted)
            send = trio_asyncio.aio_as_trio(self._bot.send_message)
            message: telegram.Message = await send(
                chat_id, body, parse_mode=parse_mode, reply_to_message_id=reply_to
            )
            return message

        wait = partial(self.limiter.message, chat_id)
        message = await self._call("sendMessage", invoke, wait=wait, limit_chat=chat_id)
        return Sent(message.message_id, sent, formatted and sent.html is not None)

    async def edit_text(
        self, chat_id: int, message_id: int, text: TelegramPiece, *, optional: bool
    ) -> Sent | None:
        """Edit a message; an ``optional`` edit returns None when limits are busy."""
        if optional and not self.limiter.try_edit(chat_id):
            return None
        wait = None if optional else partial(self.limiter.edit, chat_id)
        try:
            return await self._edit_text(chat_id, message_id, text, True, wait)
        except TelegramError as error:
            if _CANT_PARSE not in str(error).lower():
                raise
            self._refused(chat_id, error)
        return await self._edit_text(chat_id, message_id, text, False, wait)

    async def _edit_text(
        self,
        chat_id: int,
        message_id: int,
        piece: TelegramPiece,
        formatted: bool,
        wait: Callable[[], Awaitable[None]] | None,
    ) -> Sent:
        body, parse_mode = _body(piece, formatted)
        invoke = _aio(
            self._bot.edit_message_text,
            body,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=parse_mode,
        )
        try:
            await self._call("editMessageText", invoke, wait=wait, limit_chat=chat_id)
        except TelegramError as error:
            if _NOT_MODIFIED not in str(error).lower():
                raise
        return Sent(message_id, piece, parse_mode is not None)

    async def typing(self, chat_id: int) -> None:
        invoke = _aio(self._bot.send_chat_action, chat_id, "typing")
        await self._call("sendChatAction", invoke)

    async def recording_voice(self, chat_id: int) -> None:
        invoke = _aio(self._bot.send_chat_action, chat_id, "record_voice")
        await self._call("sendChatAction", invoke)

    async def send_voice(self, chat_id: int, note: VoiceNote, *, reply_to: int | None) -> None:
        """Upload an OGG/Opus voice note, streamed from its file, never read whole.

        With ``read_file_handle=False`` python-telegram-bot hands the open file
        to httpx, which reads it in 64 KiB chunks as it sends the multipart body
        (seeking back to the start for a retry, Content-Length from ``fstat``);
        PTB's default would read it all first. The handle is closed when the
        call ends, also on error or cancellation; the caller discards the file.
        """
        audio = await trio.to_thread.run_sync(note.open)
        try:
            # The name's suffix gives the part its type, audio/ogg.
            upload = telegram.InputFile(audio, filename="voice.ogg", read_file_handle=False)
            invoke = _aio(
                self._bot.send_voice, chat_id, upload, duration=note.duration,
                reply_to_message_id=reply_to,
            )  # fmt: skip
            wait = partial(self.limiter.message, chat_id)
            await self._call("sendVoice", invoke, wait=wait, limit_chat=chat_id)
        finally:
            audio.close()


def _body(piece: TelegramPiece, formatted: bool) -> tuple[str, ParseMode | None]:
    """The text to send and its parse mode: the HTML, or the plain text without one."""
    if formatted and piece.html is not None:
        return piece.html, ParseMode.HTML
    return piece.text, None


def _aio(
    function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
) -> Callable[[], Awaitable[T]]:
    """A trio-side call of an asyncio coroutine function, ready to be retried."""

    async def invoke() -> T:
        result: T = await trio_asyncio.aio_as_trio(function)(*args, **kwargs)
        return result

    return invoke


async def _initialize(bot: telegram.Bot, settings: TelegramSettings) -> BotIdentity:
    """``Bot.initialize`` (which calls getMe), retried while Telegram is unreachable."""
    policy = RetryPolicy(max_retries=settings.max_retries)
    try:
        await retrying(trio_asyncio.aio_as_trio(bot.initialize), classify, policy, method="getMe")
    except tg.TelegramError as error:
        raise translate(error, "getMe", settings.token) from None
    me = bot.bot
    username = settings.bot_username.lstrip("@") or me.username or ""
    return BotIdentity(me.id, username, me.first_name)


def build_bot(settings: TelegramSettings) -> telegram.Bot:
    """A ``Bot`` with a small connection pool and one connection for long polling."""
    timeout = settings.request_timeout
    request = TrioHTTPXRequest(
        connection_pool_size=min(_POOL_SIZE, settings.max_chats_in_flight + 2),
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    polling = TrioHTTPXRequest(
        connection_pool_size=1,
        read_timeout=settings.poll_timeout + timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    return telegram.Bot(
        settings.token,
        base_url=settings.api_base_url,
        request=request,
        get_updates_request=polling,
    )


@asynccontextmanager
async def open_bot_api(
    settings: TelegramSettings, *, secrets: tuple[str, ...] = ()
) -> AsyncIterator[BotApi]:
    """Open the asyncio loop and the client, check the token (getMe), yield the API.

    Raises ``InvalidTokenError`` at once for a refused token. ``secrets`` (the
    webhook's secret_token) are kept out of the libraries' logs like the token.
    """
    with redacting_logs(settings.token, *secrets), unwrapped_errors():
        async with trio_asyncio.open_loop():
            bot = build_bot(settings)
            try:
                identity = await _initialize(bot, settings)
                yield BotApi(bot, identity, settings, SendLimiter(settings))
            finally:
                with trio.CancelScope(shield=True):
                    await trio_asyncio.aio_as_trio(bot.shutdown)()
