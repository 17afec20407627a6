"""The in-memory state: conversations, preferences, and the turn index.

Plain data with no I/O and no clock of its own, so every rule (trimming, which
update was answered, what is idle) is tested directly. Messages are held as
their encoded fragments (see ``_records``): cheap to keep, and a snapshot is
their concatenation.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any

import orjson

from tauro.actors.memory._messages import (
    PendingTurn,
    PreferenceValue,
    StoredMessage,
    UpdateState,
)
from tauro.actors.memory._pieces import Turns
from tauro.actors.memory._records import (
    ClearRecord,
    MessageRecord,
    PreferenceRecord,
    Record,
    ShownRecord,
    decode_fragment,
    rewrite_fragment,
)
from tauro.actors.memory._snapshot import SnapshotData
from tauro.actors.memory._turns import TurnIndex, index_turns

__all__ = ["MemoryState"]

_TURN_KEYS = (b'"update_id"', b'"reply_to"')


class MemoryState:
    """Every conversation, trimmed to ``max_size`` newest messages each.

    Invariant: ``seq`` is the sequence number of the last change applied, and
    the state equals the snapshot plus every journal record up to ``seq``.
    """

    def __init__(self, max_size: int) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self.max_size = max_size
        self.seq = 0
        self.messages = 0
        self.conversations: dict[str, deque[bytes]] = {}
        self.preferences: dict[str, dict[str, PreferenceValue]] = {}
        self._recorded: dict[str, set[int]] = {}
        self._answered: dict[str, set[int]] = {}
        self._pending: dict[tuple[str, int], str] = {}
        # Copies of the conversations for snapshots, refreshed only when changed:
        self._frozen: dict[str, list[bytes]] = {}
        self._dirty: set[str] = set()

    # -- changes -------------------------------------------------------------

    def load(
        self,
        conversations: dict[str, list[bytes]],
        preferences: dict[str, dict[str, PreferenceValue]],
        turns: Turns | None = None,
    ) -> None:
        """Take a loaded file's conversations; ``turns``, if made while reading, spare
        parsing the fragments again for the turn index.

        ``conversations`` and ``turns`` are emptied as they are taken: each list is
        freed as soon as its deque is made, so freeing the file's 10^6 references
        never holds the GIL in one go (see docs/benchmarks/restart.md).
        """
        for name in list(conversations):
            fragments = conversations.pop(name)
            index = turns.pop(name, None) if turns is not None else None
            if name in self.conversations:
                for fragment in fragments:
                    self.add(name, fragment)
            else:
                self._load_new(name, fragments, turns is not None, index)
            self._dirty.add(name)
        self.preferences = {name: dict(values) for name, values in preferences.items()}

    def _load_new(
        self, name: str, fragments: list[bytes], noted: bool, index: TurnIndex | None
    ) -> None:
        """What adding each fragment would do, at a fraction of the cost (restarts).

        ``noted``: the turns were noted while reading, and ``index`` is this
        conversation's (None: it holds no ids).
        """
        kept = deque(fragments, maxlen=self.max_size)
        self.conversations[name] = kept
        self.messages += len(kept)
        if noted and len(kept) == len(fragments):  # a trimmed message is not indexed
            if index is not None:
                self._take_index(name, index)
            return
        joined = b",".join(kept)  # one search instead of one per message, usually all
        # Both keys hold a "_", rare in text: memchr finds it 30 times faster than a key.
        if b"_" not in joined or not any(key in joined for key in _TURN_KEYS):
            return
        # One parse of the whole list, not one per message: a Telegram history has
        # ids on each.
        self._take_index(name, index_turns(_parse_list(joined)))

    def _take_index(self, name: str, index: TurnIndex) -> None:
        self._recorded[name] = index.recorded
        self._answered[name] = index.answered
        for update, content in index.pending.items():
            self._pending[(name, update)] = content

    def apply(self, record: Record) -> None:
        """Apply one journal record (a void record changes nothing by itself)."""
        if isinstance(record, MessageRecord):
            self.add(record.conversation, record.fragment)
        elif isinstance(record, ClearRecord):
            self.clear(record.conversation)
        elif isinstance(record, PreferenceRecord):
            self.set_preference(record.conversation, record.key, record.value)
        elif isinstance(record, ShownRecord):
            self.show(record)
        self.seq = max(self.seq, record.seq)

    def add(self, conversation: str, fragment: bytes, turn: StoredMessage | None = None) -> None:
        """Append a message; ``turn`` spares decoding the fragment for the index."""
        messages = self.conversations.get(conversation)
        if messages is None:
            messages = self.conversations[conversation] = deque(maxlen=self.max_size)
        if len(messages) == self.max_size:
            self._unindex(conversation, messages[0])
            self.messages -= 1
        messages.append(fragment)
        self.messages += 1
        self._dirty.add(conversation)
        if turn is None and any(key in fragment for key in _TURN_KEYS):
            turn = decode_fragment(fragment)
        if turn is not None:
            self._index(conversation, turn)

    def clear(self, conversation: str) -> None:
        self.messages -= len(self.conversations.pop(conversation, ()))
        self._dirty.add(conversation)
        self._recorded.pop(conversation, None)
        self._answered.pop(conversation, None)
        for key in [key for key in self._pending if key[0] == conversation]:
            del self._pending[key]

    def set_preference(self, conversation: str, key: str, value: PreferenceValue) -> None:
        self.preferences.setdefault(conversation, {})[key] = value

    # -- the turn index ----------------------------------------------------------

    def _index(self, conversation: str, turn: StoredMessage) -> None:
        self._index_turn(
            conversation, turn.role, turn.update_id, turn.reply_to, turn.content, turn.delivered
        )

    def _index_turn(
        self,
        conversation: str,
        role: object,
        update_id: object,
        reply_to: object,
        content: object,
        delivered: object,
    ) -> None:
        if role == "user" and type(update_id) is int and isinstance(content, str):
            self._recorded.setdefault(conversation, set()).add(update_id)
            if update_id not in self._answered.get(conversation, ()):
                self._pending[(conversation, update_id)] = content
        if role == "assistant" and type(reply_to) is int:
            self._answered.setdefault(conversation, set()).add(reply_to)
            if delivered is not False:  # an undelivered answer stays pending
                self._pending.pop((conversation, reply_to), None)

    def _unindex(self, conversation: str, fragment: bytes) -> None:
        if not any(key in fragment for key in _TURN_KEYS):
            return
        turn = decode_fragment(fragment)
        if turn.role == "user" and turn.update_id is not None:
            self._recorded.get(conversation, set()).discard(turn.update_id)
            self._pending.pop((conversation, turn.update_id), None)
        if turn.role == "assistant" and turn.reply_to is not None:
            self._answered.get(conversation, set()).discard(turn.reply_to)

    def update_status(self, conversation: str, update_id: int) -> UpdateState:
        if update_id in self._answered.get(conversation, ()):
            return "answered"
        if update_id in self._recorded.get(conversation, ()):
            return "recorded"
        return "new"

    def pending_turns(self) -> tuple[PendingTurn, ...]:
        """Unanswered questions and undelivered answers, in the questions' order."""
        return tuple(
            self._pending_turn(conversation, update_id, content)
            for (conversation, update_id), content in self._pending.items()
        )

    def _pending_turn(self, conversation: str, update_id: int, content: str) -> PendingTurn:
        messages = self.conversations.get(conversation, deque())
        index = _find(messages, "update_id", update_id)
        question = json.loads(messages[index]) if index is not None else {}
        ids, sending = _shown(question, "answer_message_ids")
        index = _find(messages, "reply_to", update_id)
        if index is None:
            return PendingTurn(conversation, update_id, content, None, ids, sending)
        answer = json.loads(messages[index])
        if "message_ids" in answer or "sending" in answer:  # else: noted on the question
            ids, sending = _shown(answer, "message_ids")
        return PendingTurn(conversation, update_id, content, answer["content"], ids, sending)

    # -- delivery ----------------------------------------------------------------

    def show(self, record: ShownRecord) -> None:
        """Note the messages showing a turn's answer: on the answer, or, before the
        answer is recorded, on the question (``answer_message_ids``)."""
        messages = self.conversations.get(record.conversation)
        if not messages:
            return  # cleared or trimmed meanwhile: nothing left to deliver
        ids = list(record.message_ids) or None
        sending = True if record.sending else None
        index = _find(messages, "reply_to", record.update_id)
        if index is not None:
            delivered = True if record.delivered else None
            keys: dict[str, object] = {"message_ids": ids, "sending": sending}
            if delivered:
                keys["delivered"] = True
                self._pending.pop((record.conversation, record.update_id), None)
            messages[index] = rewrite_fragment(messages[index], **keys)
        elif (index := _find(messages, "update_id", record.update_id)) is not None:
            keys = {"answer_message_ids": ids, "sending": sending}
            messages[index] = rewrite_fragment(messages[index], **keys)
        self._dirty.add(record.conversation)

    def shown_before_answer(self, conversation: str, update_id: int) -> tuple[list[int], bool]:
        """The messages noted for a question not yet answered, and its sending flag."""
        messages = self.conversations.get(conversation, deque())
        index = _find(messages, "update_id", update_id)
        if index is None:
            return [], False
        ids, sending = _shown(json.loads(messages[index]), "answer_message_ids")
        return list(ids), sending

    # -- reads -----------------------------------------------------------------

    def context(self, conversation: str, limit: int) -> tuple[StoredMessage, ...]:
        """The newest ``limit`` messages, oldest first."""
        messages = self.conversations.get(conversation, ())
        newest = list(islice(reversed(messages), limit))
        return tuple(decode_fragment(fragment) for fragment in reversed(newest))

    def count(self, conversation: str) -> int:
        return len(self.conversations.get(conversation, ()))

    def idle_conversations(self, cutoff: datetime) -> list[str]:
        """Conversations whose newest message is older than ``cutoff``.

        A conversation whose last timestamp cannot be read is kept: dropping
        data on a guess is worse than keeping it.
        """
        return [
            name
            for name, messages in self.conversations.items()
            if messages and (last := _timestamp(messages[-1])) is not None and last < cutoff
        ]

    def freeze(self, journal: int, seq: int) -> SnapshotData:
        """Copy the state for a snapshot thread, cheaply.

        Only conversations changed since the last copy are copied, one
        reference per message; copies are never mutated, so the snapshot
        thread may read them while appends go on.

        ``seq`` is the highest sequence number handed out so far (failed
        batches included), so no later record can be mistaken for covered.
        """
        for name in self._dirty:  # the others' copies are still exact
            messages = self.conversations.get(name)
            if messages is None:
                self._frozen.pop(name, None)
            else:
                self._frozen[name] = list(messages)
        self._dirty.clear()
        conversations = list(self._frozen.items())
        preferences = {name: dict(values) for name, values in self.preferences.items()}
        return SnapshotData(conversations, preferences, max(seq, self.seq), journal)

    def contents(self) -> Iterable[tuple[str, tuple[StoredMessage, ...]]]:
        """Every conversation decoded (for tests and tools, not the hot path)."""
        for name, messages in self.conversations.items():
            yield name, tuple(decode_fragment(fragment) for fragment in messages)


def _find(messages: deque[bytes], key: str, update_id: int) -> int | None:
    """Index of the newest message whose ``key`` (update_id: a question, reply_to:
    an answer) is ``update_id``. Turns being delivered are recent: search from the end."""
    needle = b'"%b":%d' % (key.encode(), update_id)
    role = "user" if key == "update_id" else "assistant"
    for index in range(len(messages) - 1, -1, -1):
        fragment = messages[index]
        if needle in fragment:
            message = json.loads(fragment)
            if message.get(key) == update_id and message.get("role") == role:
                return index
    return None


def _shown(message: dict[str, object], key: str) -> tuple[tuple[int, ...], bool]:
    ids = message.get(key)
    valid = isinstance(ids, list) and all(type(i) is int for i in ids)
    return (tuple(ids) if valid else ()), message.get("sending") is True  # type: ignore[arg-type]


def _parse_list(joined: bytes) -> list[dict[str, Any]]:
    """The messages of ``b",".join(fragments)``; json for what orjson refuses."""
    try:
        messages = orjson.loads(b"[%b]" % joined)
    except orjson.JSONDecodeError:
        messages = json.loads(b"[%b]" % joined)
    return [m for m in messages if isinstance(m, dict)]


def _timestamp(fragment: bytes) -> datetime | None:
    try:
        stamp = json.loads(fragment).get("timestamp")
        parsed = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is not None:
        return parsed.astimezone().replace(tzinfo=None)  # to naive local, like ours
    return parsed
