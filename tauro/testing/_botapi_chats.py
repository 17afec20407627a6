"""Chats, their messages and the files the bot sent, as the emulator remembers them.

Message ids are per chat and shared by the users' and the bot's messages, as in
Telegram's private chats and basic groups, so replies and edits address messages
the way a real client sees them.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from tauro.testing._botapi_types import (
    BotMessage,
    StoredFile,
    UploadedPart,
    bad_request,
)

__all__ = ["ChatStore", "FileStore"]

JsonDict = dict[str, Any]
GROUP_TYPES = frozenset({"group", "supergroup"})


def chat_json(chat_id: int, chat_type: str, name: str, username: str | None) -> JsonDict:
    chat: JsonDict = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = name
    else:
        chat["title"] = name
    if username:
        chat["username"] = username
    return chat


class ChatStore:
    """Every chat the emulator knows, with all messages (users' and the bot's)."""

    def __init__(self, *, require_known_chat: bool) -> None:
        self.require_known_chat = require_known_chat
        self.chats: dict[int, JsonDict] = {}
        self._next_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._bot: dict[tuple[int, int], BotMessage] = {}
        self.by_chat: dict[int, list[BotMessage]] = {}
        self.sent: list[BotMessage] = []

    def add_chat(
        self, chat_id: int, chat_type: str = "private", name: str = "", username: str | None = None
    ) -> JsonDict:
        """Register (or update) a chat; returns its ``Chat`` JSON."""
        chat = chat_json(chat_id, chat_type, name or f"Chat {chat_id}", username)
        self.chats[chat_id] = chat
        return chat

    def resolve(self, chat_id: int | str) -> JsonDict:
        """The chat a method addresses; unknown chats give Telegram's 400."""
        if isinstance(chat_id, str):
            found = [c for c in self.chats.values() if f"@{c.get('username')}" == chat_id]
            if not found:
                raise bad_request("chat not found")
            return found[0]
        if chat_id not in self.chats:
            if self.require_known_chat:
                raise bad_request("chat not found")
            return self.add_chat(chat_id, "private" if chat_id > 0 else "group")
        return self.chats[chat_id]

    @staticmethod
    def is_group(chat: JsonDict) -> bool:
        return chat["type"] in GROUP_TYPES

    def next_message_id(self, chat_id: int) -> int:
        self._next_id[chat_id] = self._next_id.get(chat_id, 0) + 1
        return self._next_id[chat_id]

    def remember(self, message: JsonDict) -> None:
        self._messages[(message["chat"]["id"], message["message_id"])] = message

    def message(self, chat_id: int, message_id: int) -> JsonDict | None:
        return self._messages.get((chat_id, message_id))

    def record_bot_message(self, record: BotMessage) -> None:
        self.remember(record.raw)
        self._bot[(record.chat_id, record.message_id)] = record
        self.by_chat.setdefault(record.chat_id, []).append(record)
        self.sent.append(record)

    def bot_message(self, chat_id: int, message_id: int, verb: str) -> BotMessage:
        """The bot's own message to edit or delete, or the 400 Telegram gives."""
        record = self._bot.get((chat_id, message_id))
        if record is not None and not record.deleted:
            return record
        if record is None and self.message(chat_id, message_id) is not None:
            raise bad_request(f"message can't be {verb}ed")
        raise bad_request(f"message to {verb} not found")

    def last_bot_message(self, chat_id: int) -> BotMessage | None:
        messages = self.by_chat.get(chat_id) or []
        return messages[-1] if messages else None


class FileStore:
    """Files the bot uploaded, addressable by the file_id the emulator gave them."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self._counter = itertools.count(1)

    def store(self, kind: str, part: UploadedPart | str, mime_type: str | None) -> StoredFile:
        """Keep an upload, or look up a file_id / accept a URL as Telegram does."""
        if isinstance(part, str):
            return self._existing(kind, part)
        number = next(self._counter)
        digest = hashlib.sha256(part.data).hexdigest()[:16]
        stored = StoredFile(
            file_id=f"{kind.upper()}-{number}-{digest}",
            file_unique_id=f"U{number}{digest[:8]}",
            kind=kind,
            data=part.data,
            mime_type=mime_type or _sniff(part),
            file_name=part.filename,
        )
        self.files[stored.file_id] = stored
        return stored

    def _existing(self, kind: str, reference: str) -> StoredFile:
        if reference in self.files:
            return self.files[reference]
        if reference.startswith(("http://", "https://")):
            unique = hashlib.sha256(reference.encode()).hexdigest()[:16]
            stored = StoredFile(f"URL-{unique}", f"U{unique[:8]}", kind, None, None, None)
            self.files[stored.file_id] = stored
            return stored
        raise bad_request("wrong file identifier/HTTP URL specified")

    def get(self, file_id: str) -> StoredFile:
        if file_id not in self.files:
            raise bad_request("invalid file_id")
        return self.files[file_id]

    def by_path(self, path: str) -> StoredFile | None:
        return self.files.get(path.rsplit("/", 1)[-1])


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"OggS", "audio/ogg"), (b"ID3", "audio/mpeg"), (b"RIFF", "audio/wav"),
    (b"%PDF", "application/pdf"), (b"\x89PNG", "image/png"),
)  # fmt: skip


def _sniff(part: UploadedPart) -> str | None:
    """The MIME type Telegram would report: the declared one, else from the content."""
    if part.content_type and part.content_type != "application/octet-stream":
        return part.content_type
    found = next((mime for magic, mime in _MAGIC if part.data.startswith(magic)), None)
    return found or part.content_type
