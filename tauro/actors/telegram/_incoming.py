"""What arrived from Telegram, as a plain value the rest of the package reads.

python-telegram-bot's ``Update`` objects stay inside the bridge; everything
after it (access, commands, dispatch) works on ``Incoming``, which tests can
build directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import telegram

GROUP_TYPES = frozenset({"group", "supergroup"})

# What a message can carry instead of text, in the words the user will read.
_CONTENT_KINDS = (
    "sticker",
    "photo",
    "video",
    "video_note",
    "animation",
    "voice",
    "audio",
    "document",
    "location",
    "contact",
    "poll",
    "dice",
)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update, reduced to what TauroBot acts on.

    ``chat_id`` is None for updates that carry no message (callback queries,
    edits...): they are confirmed and otherwise ignored. ``addressed`` says
    whether the bot was spoken to: always in private chats, in groups only
    when mentioned or replied to. ``text`` has the bot's @mention removed.
    """

    update_id: int
    chat_id: int | None = None
    chat_type: str = "private"
    message_id: int | None = None
    user_id: int | None = None
    user_name: str = ""
    text: str | None = None
    content: str = "text"  # "text", or "sticker", "photo", "document"...
    addressed: bool = True
    language_code: str = ""  # the sender's Telegram app language (IETF tag), if sent

    @property
    def is_group(self) -> bool:
        return self.chat_type in GROUP_TYPES

    @property
    def conversation(self) -> str:
        """Memory's key: the chat id as a decimal string (a group has its own)."""
        return str(self.chat_id)


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is, from getMe; ``username`` is used to notice mentions."""

    user_id: int
    username: str
    name: str


def from_update(update: telegram.Update, bot: BotIdentity) -> Incoming:
    """Reduce a python-telegram-bot ``Update`` (only ``message`` updates matter)."""
    message = update.message
    if message is None:
        return Incoming(update.update_id)
    chat = message.chat
    user = message.from_user
    text = message.text
    addressed = chat.type not in GROUP_TYPES or _addressed_in_group(message, bot)
    return Incoming(
        update_id=update.update_id,
        chat_id=chat.id,
        chat_type=str(chat.type),
        message_id=message.message_id,
        user_id=user.id if user is not None else None,
        user_name=(user.first_name if user is not None else chat.title) or "",
        text=strip_mention(text, bot.username) if text is not None else None,
        content="text" if text is not None else _content_kind(message),
        addressed=addressed,
        language_code=(user.language_code if user is not None else None) or "",
    )


def _addressed_in_group(message: telegram.Message, bot: BotIdentity) -> bool:
    replied = message.reply_to_message
    replier = replied.from_user if replied is not None else None
    if replier is not None and replier.id == bot.user_id:
        return True
    mention = f"@{bot.username}".lower()
    for entity, value in message.parse_entities().items():
        if entity.type == "mention" and value.lower() == mention:
            return True
        if entity.type == "text_mention" and entity.user and entity.user.id == bot.user_id:
            return True
        if entity.type == "bot_command" and value.lower().endswith(mention):
            return True
    return False


def _content_kind(message: telegram.Message) -> str:
    for kind in _CONTENT_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


def strip_mention(text: str, username: str) -> str:
    """Remove ``@username`` (any case) so the model reads only the question."""
    if not username:
        return text
    pattern = re.compile(rf"(?<![\w@])@{re.escape(username)}\b", re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", pattern.sub("", text)).strip()
