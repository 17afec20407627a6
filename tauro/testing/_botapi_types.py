"""Plain records of the Bot API emulator: what was called, sent, uploaded.

Kept free of I/O so the method handlers, the HTTP layer and the tests share one
vocabulary. Records the tests read (``ApiCall``, ``BotMessage``) carry trio-clock
times, so timing assertions work under ``MockClock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiCall",
    "ApiFailure",
    "BotMessage",
    "InjectedError",
    "StoredFile",
    "UploadedPart",
]

JsonDict = dict[str, Any]


class ApiFailure(Exception):
    """A Bot API error reply: ``{"ok": false, "error_code": ..., "description": ...}``.

    Raised inside the emulator's handlers and turned into the HTTP reply at the edge;
    it never reaches the emulator's callers.
    """

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        super().__init__(f"{error_code} {description}")

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.error_code}
        body["description"] = self.description
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiFailure:
    return ApiFailure(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedPart:
    """One file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class StoredFile:
    """A file the bot uploaded (or a file id it referred to), as the emulator keeps it."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    mime_type: str | None
    file_name: str | None

    @property
    def file_size(self) -> int | None:
        return None if self.data is None else len(self.data)


@dataclass(frozen=True)
class ApiCall:
    """One Bot API call as received: method (as documented, e.g. "sendMessage"),
    decoded parameters, trio time of arrival and the HTTP status served."""

    method: str
    params: Mapping[str, object]
    time: float
    status: int


@dataclass(frozen=True)
class InjectedError:
    """A scripted failure served instead of the next ``times`` calls of ``method``."""

    method: str
    status: int
    description: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class BotMessage:
    """A message the bot sent, with every version of its text (edits appended).

    ``texts[-1]`` is the current text; ``times[i]`` the trio time version i appeared.
    """

    chat_id: int
    message_id: int
    kind: str
    texts: list[str]
    times: list[float]
    raw: JsonDict
    reply_to_message_id: int | None = None
    file: StoredFile | None = None
    deleted: bool = False
    extra: JsonDict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.texts[-1]

    @property
    def edits(self) -> int:
        return len(self.texts) - 1

    @property
    def history(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def to_json(self, epoch: float = 0.0) -> JsonDict:
        """The record as ``GET /_emulator/sent`` shows it; ``unix_times`` (trio times
        plus ``epoch``) let another process compare them with its own clock."""
        doc: JsonDict = {"chat_id": self.chat_id, "message_id": self.message_id}
        doc.update(kind=self.kind, text=self.text, history=self.texts, times=self.times)
        doc["unix_times"] = [epoch + t for t in self.times]
        doc.update(reply_to_message_id=self.reply_to_message_id, deleted=self.deleted)
        doc["entities"] = list(self.raw.get("entities", ()))  # what formats ``text`` now
        if self.file is not None:
            doc["file"] = {"file_id": self.file.file_id, "size": self.file.file_size}
            doc["file"]["mime_type"] = self.file.mime_type
        return doc
