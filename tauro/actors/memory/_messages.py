"""The MemoryActor's message protocol: one frozen dataclass per request and reply.

Requests validate themselves on construction, so a bad message fails in the
sender's task with a clear error instead of inside the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from tauro.runtime import Request

__all__ = [
    "Append",
    "AppendReceipt",
    "BeginTurn",
    "Clear",
    "GetContext",
    "GetPreferences",
    "GetStats",
    "MemoryMessage",
    "MemoryStatistics",
    "NoteShown",
    "PendingTurn",
    "PendingTurns",
    "PreferenceValue",
    "Role",
    "SetPreference",
    "StoredMessage",
    "TurnStart",
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
class Append(Request["AppendReceipt"]):
    """Store one message; the reply comes only once the record is on disk.

    ``update_id`` is the Telegram update a user message came from, ``reply_to``
    the update an assistant message answers; together they let the bot finish
    turns interrupted by a crash without answering anything twice.

    ``delivered=False`` (an answer with ``reply_to``) says the answer still has
    to reach its chat; a ``NoteShown(delivered=True)`` marks it done later. The
    Telegram messages already shown for the turn (``NoteShown``) are copied
    into it. ``None`` (the default) is an answer that needs no delivery of its
    own, like the web app's, whose history is read from memory.
    """

    conversation: str
    role: Role
    content: str
    update_id: int | None = None
    reply_to: int | None = None
    delivered: bool | None = None

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        if self.role not in _ROLES:
            raise ValueError(f"role must be 'user' or 'assistant', got {self.role!r}")
        if not isinstance(self.content, str):
            raise ValueError(f"content must be a string, got {type(self.content).__name__}")
        _check_optional_id("update_id", self.update_id)
        _check_optional_id("reply_to", self.reply_to)
        if self.delivered is not None and (self.role != "assistant" or self.reply_to is None):
            raise ValueError("delivered is only for an assistant message with reply_to")


@dataclass(frozen=True, slots=True)
class NoteShown(Request[None]):
    """Which channel messages carry the answer to ``update_id`` so far.

    Sent as soon as Telegram returns a message id, and once more with
    ``delivered=True`` when the complete answer is shown. ``sending=True`` is
    sent (asked) just before a new message goes out: found at the next start,
    it means a message may exist that no id was recorded for (a possible
    duplicate). Written lazily: it shares the next batch's fsync and never
    waits for one of its own, and a failed write is only logged (the cost is
    a repeated edit, or a possible duplicate, after a crash).
    """

    conversation: str
    update_id: int
    message_ids: tuple[int, ...] = ()
    sending: bool = False
    delivered: bool = False

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        _check_id("update_id", self.update_id)
        if not isinstance(self.message_ids, tuple):
            raise ValueError(f"message_ids must be a tuple, got {self.message_ids!r}")
        for message_id in self.message_ids:
            _check_id("message id", message_id)


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
    delivered: bool | None = None  # False: an answer still to be shown in its chat


@dataclass(frozen=True, slots=True)
class GetContext(Request[tuple["StoredMessage", ...]]):
    """Read the newest ``limit`` messages of a conversation, oldest first."""

    conversation: str
    limit: int

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        if type(self.limit) is not int or self.limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {self.limit!r}")


@dataclass(frozen=True, slots=True)
class Clear(Request[None]):
    """Forget a conversation's messages (/clear); its preferences stay."""

    conversation: str

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)


@dataclass(frozen=True, slots=True)
class GetStats(Request["MemoryStatistics"]):
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
    # Pending turns found at start with a message send in flight when the bot
    # stopped: each may have left one duplicate message in its chat.
    unconfirmed_sends: int = 0
    # False while writes fail (disk full, I/O error, read-only): nothing new can
    # be recorded; ``unwritable_seconds`` is how long that has lasted (0 if writable).
    writable: bool = True
    unwritable_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class SetPreference(Request[None]):
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
class GetPreferences(Request[dict[str, PreferenceValue]]):
    """Read a conversation's preferences as a fresh dict."""

    conversation: str

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)


@dataclass(frozen=True, slots=True)
class UpdateStatus(Request[UpdateState]):
    """Has this Telegram update been stored ("recorded") or answered already?"""

    conversation: str
    update_id: int

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        _check_id("update_id", self.update_id)


@dataclass(frozen=True, slots=True)
class BeginTurn(Request["TurnStart"]):
    """Start a conversation turn in one round trip: everything it needs before generating.

    Records the user's question (as ``Append``: the reply comes only once it is
    on disk) unless ``update_id`` says it is recorded already, then reads the
    newest ``context_limit`` messages and the conversation's preferences. A
    question already answered is neither recorded nor read for.
    """

    conversation: str
    content: str
    context_limit: int
    update_id: int | None = None

    def __post_init__(self) -> None:
        _check_conversation(self.conversation)
        if not isinstance(self.content, str):
            raise ValueError(f"content must be a string, got {type(self.content).__name__}")
        _check_id("context_limit", self.context_limit)
        _check_optional_id("update_id", self.update_id)

    @property
    def question(self) -> Append:
        """The user's message as it is recorded."""
        return Append(self.conversation, "user", self.content, update_id=self.update_id)


@dataclass(frozen=True, slots=True)
class TurnStart:
    """The reply to ``BeginTurn``; ``status`` is the question's before the request.

    "new": recorded by this request; "recorded": recorded before (a turn
    resumed after a restart, or a redelivery); "answered": nothing to do, and
    ``context`` and ``preferences`` are empty.
    """

    status: UpdateState
    context: tuple[StoredMessage, ...] = ()
    preferences: dict[str, PreferenceValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingTurns(Request[tuple["PendingTurn", ...]]):
    """List the turns to finish: questions never answered, answers never delivered.

    In the order of the questions (oldest first), so each chat keeps its order.
    """


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A turn to finish after a restart.

    ``answer`` is None for a question never answered (generate it), else the
    recorded answer that was never marked delivered (show it). ``message_ids``
    are the messages already shown for it, to be edited rather than sent again;
    ``sending`` says a send was in flight when the bot stopped (see ``NoteShown``).
    """

    conversation: str
    update_id: int
    content: str
    answer: str | None = None
    message_ids: tuple[int, ...] = ()
    sending: bool = False


MemoryMessage: TypeAlias = (
    Append
    | BeginTurn
    | NoteShown
    | GetContext
    | Clear
    | GetStats
    | SetPreference
    | GetPreferences
    | UpdateStatus
    | PendingTurns
)
