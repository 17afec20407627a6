"""The Bot API emulator's state: the bot, its chats, files, updates and limits.

Method handlers (``_botapi_methods``) and user simulation (``_botapi_users``) both
work on one ``BotApiState``; nothing here does I/O, so it runs under any trio clock.
Dates are Unix seconds derived from trio's clock (fixed epoch + ``current_time``),
so they advance with a ``MockClock`` too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import trio

from tauro.testing._botapi_chats import ChatStore, FileStore
from tauro.testing._botapi_flood import FloodLimiter, FloodLimits
from tauro.testing._botapi_text import ParsedText
from tauro.testing._botapi_types import BotMessage, StoredFile
from tauro.testing._botapi_updates import UpdateQueue

__all__ = ["BotApiState", "ChatAction"]

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class ChatAction:
    """One ``sendChatAction`` the bot made (e.g. "typing"), with its trio time."""

    chat_id: int
    action: str
    time: float


@dataclass
class BotApiState:
    token: str
    bot_name: str = "TauroBot"
    bot_username: str = "tauro_test_bot"
    require_known_chat: bool = True
    first_update_id: int = 1
    flood: FloodLimiter | None = None
    commands: list[JsonDict] = field(default_factory=list)
    callback_queries: set[str] = field(default_factory=set)
    chat_actions: list[ChatAction] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chats = ChatStore(require_known_chat=self.require_known_chat)
        self.files = FileStore()
        self.updates = UpdateQueue(self.first_update_id)
        self.epoch = time.time() - trio.current_time()

    @property
    def bot_id(self) -> int:
        head = self.token.split(":", 1)[0]
        return int(head) if head.isdigit() else 1

    def bot_user(self) -> JsonDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name,
                "username": self.bot_username}  # fmt: skip

    def now(self) -> float:
        """Unix time on trio's clock."""
        return self.epoch + trio.current_time()

    def date(self) -> int:
        return int(self.now())

    def set_flood_limits(self, limits: FloodLimits | None) -> None:
        self.flood = None if limits is None else FloodLimiter(limits)

    def charge_flood(self, chat: JsonDict) -> None:
        if self.flood is not None:
            self.flood.charge(chat["id"], self.chats.is_group(chat))

    def new_bot_message(
        self,
        chat: JsonDict,
        kind: str,
        content: JsonDict,
        *,
        parsed: ParsedText | None = None,
        reply_to: JsonDict | None = None,
        file: StoredFile | None = None,
    ) -> BotMessage:
        """Create, remember and return a message from the bot in ``chat``."""
        message_id = self.chats.next_message_id(chat["id"])
        raw: JsonDict = {"message_id": message_id, "from": self.bot_user(), "chat": chat,
                         "date": self.date()}  # fmt: skip
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        raw.update(content)
        text = parsed.text if parsed is not None else ""
        record = BotMessage(
            chat_id=chat["id"], message_id=message_id, kind=kind, texts=[text],
            times=[trio.current_time()], raw=raw, file=file,
            reply_to_message_id=None if reply_to is None else reply_to["message_id"],
        )  # fmt: skip
        self.chats.record_bot_message(record)
        return record


def text_content(parsed: ParsedText, key: str = "text") -> JsonDict:
    """``text``/``entities`` (or ``caption``/``caption_entities``) of a message."""
    content: JsonDict = {key: parsed.text} if parsed.text or key == "text" else {}
    if parsed.entities:
        content["entities" if key == "text" else "caption_entities"] = list(parsed.entities)
    return content
