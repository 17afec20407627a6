"""The Telegram channel: long polling, per-chat order, limits, streamed answers.

Layers, outside in: ``_bridge`` (python-telegram-bot's ``Bot`` in one
trio-asyncio loop, its HTTP on trio through ``_request``; errors
translated, token redacted; limits from ``_limits`` and retries applied to
every call) -> ``_polling`` (getUpdates, offsets confirmed only once settled;
or ``_webhook``, answered 200 only once settled) -> ``_dispatch`` (one worker
per chat, bounded chats in flight; what each update is) -> ``_access``, ``_language``
(which language the chat speaks: /lang, the sender's app, BOT_LANGUAGE) and
``_commands`` -> ``_streaming`` (the ``TurnSink`` that edits an answer into
place) -> ``_actor`` (``TelegramActor``, which runs ``tauro.conversation``'s
turn for every question). ``_splitting`` cuts answers over 4096 characters.

Used by the app as::

    ActorSpec(name="telegram", factory=lambda: TelegramActor(settings),
              restart=Restart.PERMANENT)   # after memory, llm and voice

With TELEGRAM_WEBHOOK_URL, ``_webhook`` replaces polling: the app makes one
``WebhookInbox`` and gives it to this actor and to the web app, whose route
hands it Telegram's POSTs.

``check_telegram`` (for ``tauro check``) calls getMe and getWebhookInfo, nothing else.
"""

from tauro.actors.telegram._actor import TelegramActor as TelegramActor
from tauro.actors.telegram._bridge import BotApi as BotApi
from tauro.actors.telegram._bridge import open_bot_api as open_bot_api
from tauro.actors.telegram._check import TelegramCheck as TelegramCheck
from tauro.actors.telegram._check import check_telegram as check_telegram
from tauro.actors.telegram._commands import BOT_PREFERENCES as BOT_PREFERENCES
from tauro.actors.telegram._incoming import BotIdentity as BotIdentity
from tauro.actors.telegram._incoming import Incoming as Incoming
from tauro.actors.telegram._splitting import split_message as split_message
from tauro.actors.telegram._stats import GetTelegramStats as GetTelegramStats
from tauro.actors.telegram._stats import TelegramMessage as TelegramMessage
from tauro.actors.telegram._stats import TelegramStatistics as TelegramStatistics
from tauro.actors.telegram._webhook import WebhookInbox as WebhookInbox

__all__ = [
    "BotApi",
    "BotIdentity",
    "GetTelegramStats",
    "Incoming",
    "TelegramActor",
    "TelegramCheck",
    "TelegramMessage",
    "TelegramStatistics",
    "WebhookInbox",
    "check_telegram",
    "open_bot_api",
    "split_message",
]
