"""The MemoryActor's message protocol: one frozen dataclass per request and reply.

Requests validate themselves on construction, so a bad message fails in the
sender's task with a clear error instead of inside the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "Append",
    "AppendReceipt",
    "Clear",
    "GetContext",
    "GetPreferences",
    "GetStats",
    "MemoryMessage",
    "MemoryStatistics",
    "PendingTurn",
    "PendingTurns",
    "PreferenceValue",
    "Role",
    "SetPreference",
    "StoredMessage",
    "UpdateState",
    "UpdateStatus",
]

Role: TypeAlias = Literal["user", "assistant"]
PreferenceValue: TypeAlias = str | bool
UpdateState: TypeAlias = Literal["new", "recorded", "answered"]

_ROLES = ("user", "assistant")


def _check_conversation(conversation: object) -> None:
    if not isinstance(conversation, str) or not conversation:
        raise ValueError(f"conversation must be a non-empty string, got {conversation!r}")


def _check_id(name: str, value: object) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _check_optional_id(name: str, value: object) -> None:
    if value is not None:
        _check_id(name, value)


@dataclass(frozen=True, slots=True)
class Append:
    """Store one message; the reply comes only once the record is on disk.

    ``update_id`` is the Telegram update a user message came from, ``reply_to``
    the update an assistant message answers; together they let the bot finish
    turns interrupted by a crash without answering anything twice.
    """

    conversation: str
    role: Role
    content: str
    update_id: int | None = None
    reply_to: int | None = None

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        if self.role not in _ROLES:
            raise ValueError(f"role must be 'user' or 'assistant', got {self.role!r}")
        if not isinstance(self.content, str):
            raise ValueError(f"content must be a string, got {type(self.content).__name__}")
        _check_optional_id("update_id", self.update_id)
        _check_optional_id("reply_to", self.reply_to)


@dataclass(frozen=True, slots=True)
class AppendReceipt:
    """The appended message is durable; ``seq`` orders every change ever made."""

    seq: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message as the original file holds it (timestamps naive local)."""

    role: str
    content: str
    timestamp: str
    update_id: int | None = None
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class GetContext:
    """Read the newest ``limit`` messages of a conversation, oldest first."""

    conversation: str
    limit: int

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        if type(self.limit) is not int or self.limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {self.limit!r}")


@dataclass(frozen=True, slots=True)
class Clear:
    """Forget a conversation's messages (/clear); its preferences stay."""

    conversation: str

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)


@dataclass(frozen=True, slots=True)
class GetStats:
    """Ask for ``MemoryStatistics``; ``conversation`` fills its per-chat count."""

    conversation: str | None = None

    def __post_init__(self) -> None:
        if self.conversation is not None:
            _check_conversation(self.conversation)


@dataclass(frozen=True, slots=True)
class MemoryStatistics:
    """A snapshot of the store and of its persistence counters since start."""

    conversations: int
    messages: int
    conversation_messages: int
    average_per_conversation: float
    journal_appends: int
    fsyncs: int
    snapshots: int
    bytes_written: int
    errors: int
    last_error: str | None
    batches: int = 0


@dataclass(frozen=True, slots=True)
class SetPreference:
    """Store one per-conversation preference ("voice", "lang", "model", ...)."""

    conversation: str
    key: str
    value: PreferenceValue

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"preference key must be a non-empty string, got {self.key!r}")
        if not isinstance(self.value, str | bool):
            raise ValueError(f"preference value must be str or bool, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class GetPreferences:
    """Read a conversation's preferences as a fresh dict."""

    conversation: str

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """Has this Telegram update been stored ("recorded") or answered already?"""

    conversation: str
    update_id: int

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        _check_id("update_id", self.update_id)


@dataclass(frozen=True, slots=True)
class PendingTurns:
    """List user messages stored with an update id but never answered."""


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A user message to answer after a restart."""

    conversation: str
    update_id: int
    content: str


MemoryMessage: TypeAlias = (
    Append
    | GetContext
    | Clear
    | GetStats
    | SetPreference
    | GetPreferences
    | UpdateStatus
    | PendingTurns
)
