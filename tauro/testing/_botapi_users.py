"""Simulated users: the updates a person's Telegram client would cause.

Builds ``Update`` JSON the way Telegram does, including what libraries rely on:
``bot_command`` entities for a leading ``/command`` (python-telegram-bot's
``CommandHandler`` matches on them), ``mention`` entities for ``@username``, a
``reply_to_message`` copy when a user replies to the bot, per-chat message ids.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from tauro.testing._botapi_chats import GROUP_TYPES
from tauro.testing._botapi_core import BotApiState

__all__ = ["Sender", "callback_query_update", "message_update", "text_entities"]

JsonDict = dict[str, Any]
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")
_files = itertools.count(1)


@dataclass(frozen=True)
class Sender:
    """Who writes, and in which chat (``user_id`` defaults to the chat id in private)."""

    chat_id: int
    user_id: int | None = None
    chat_type: str = "private"
    username: str | None = None
    first_name: str | None = None
    chat_title: str | None = None
    language_code: str | None = "en"

    def user(self) -> JsonDict:
        user_id = self.user_id if self.user_id is not None else self._default_user()
        user: JsonDict = {"id": user_id, "is_bot": False}
        user["first_name"] = self.first_name or f"User{user_id}"
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def _default_user(self) -> int:
        return self.chat_id if self.chat_type == "private" else 1000


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_entities(text: str) -> list[JsonDict]:
    """The ``bot_command`` and ``mention`` entities Telegram attaches to ``text``."""
    entities: list[JsonDict] = []
    command = _COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16(command[0])})
    for found in _MENTION.finditer(text):
        offset = _utf16(text[: found.start()])
        entities.append({"type": "mention", "offset": offset, "length": _utf16(found[0])})
    return entities


def _chat(state: BotApiState, sender: Sender) -> JsonDict:
    known = state.chats.chats.get(sender.chat_id)
    if known is not None and known["type"] == sender.chat_type:
        return known
    if sender.chat_type in GROUP_TYPES or sender.chat_type == "channel":
        name = sender.chat_title or f"Group {sender.chat_id}"
        return state.chats.add_chat(sender.chat_id, sender.chat_type, name)
    name = sender.first_name or sender.user()["first_name"]
    return state.chats.add_chat(sender.chat_id, "private", name, sender.username)


def message_update(
    state: BotApiState,
    sender: Sender,
    content: JsonDict,
    *,
    reply_to_message_id: int | None = None,
    reply_to_bot: bool = False,
) -> JsonDict:
    """An update with a new user message carrying ``content`` (text, sticker, ...)."""
    chat = _chat(state, sender)
    message: JsonDict = {"message_id": state.chats.next_message_id(chat["id"])}
    message.update({"from": sender.user(), "chat": chat, "date": state.date()})
    if reply_to_bot and reply_to_message_id is None:
        last = state.chats.last_bot_message(chat["id"])
        reply_to_message_id = None if last is None else last.message_id
    target = (
        None
        if reply_to_message_id is None
        else state.chats.message(chat["id"], reply_to_message_id)
    )
    if target is not None:
        message["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
    message.update(content)
    state.chats.remember(message)
    return {"message": message}


def text_content(text: str, entities: list[JsonDict] | None) -> JsonDict:
    found = text_entities(text) if entities is None else entities
    return {"text": text, **({"entities": found} if found else {})}


def file_ids(kind: str) -> JsonDict:
    number = next(_files)
    return {"file_id": f"USER-{kind.upper()}-{number}", "file_unique_id": f"UU{kind[:2]}{number}"}


def sticker_content(emoji: str) -> JsonDict:
    sticker = file_ids("sticker") | {"type": "regular", "width": 512, "height": 512}
    return {"sticker": sticker | {"is_animated": False, "is_video": False, "emoji": emoji}}


def photo_content(caption: str | None) -> JsonDict:
    ids = file_ids("photo")
    sizes = [ids | {"width": w, "height": w * 3 // 4, "file_size": w * 40} for w in (90, 320, 800)]
    return {"photo": sizes, **({"caption": caption} if caption else {})}


def document_content(file_name: str, mime_type: str, size: int, caption: str | None) -> JsonDict:
    document = file_ids("document") | {"file_name": file_name, "mime_type": mime_type}
    return {"document": document | {"file_size": size}, **({"caption": caption} if caption else {})}


def voice_content(duration: int) -> JsonDict:
    voice = file_ids("voice") | {"duration": duration, "mime_type": "audio/ogg"}
    return {"voice": voice | {"file_size": 1600 * duration}}


def callback_query_update(
    state: BotApiState, sender: Sender, message_id: int, data: str
) -> JsonDict:
    """A button press on the bot's message ``message_id``; its query id is remembered."""
    query_id = f"{sender.chat_id}{message_id}{next(_files)}"
    state.callback_queries.add(query_id)
    query: JsonDict = {"id": query_id, "from": sender.user(), "data": data}
    query["chat_instance"] = str(sender.chat_id)
    message = state.chats.message(sender.chat_id, message_id)
    if message is not None:
        query["message"] = message
    return {"callback_query": query}
