"""The turn index of a conversation read from a file, in a few passes that run in C.

A restart of a Telegram history indexes every message: which update ids were
recorded as questions, which were answered, and which questions are still
pending (unanswered, or answered but not yet delivered). Doing it message by
message in Python was a third of a restart's time; here it is a handful of
``map``/``set`` passes over the parsed messages, and the message-by-message rules
(``_index_sequentially``, the same as ``MemoryState`` applies to each new message)
run only over the few messages a pending question involves, or over all of them
when a conversation holds something unusual (an answer not delivered, an id that
is not an int).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Any

__all__ = ["TurnIndex", "index_turns"]

_INT_OR_NONE = frozenset({int, type(None)})


@dataclass(slots=True)
class TurnIndex:
    """A conversation's turn index: handed over to ``MemoryState`` as is (not copied).

    ``pending`` maps the update id of each pending question to its text, in the
    order the questions were asked.
    """

    recorded: set[int] = field(default_factory=set)
    answered: set[int] = field(default_factory=set)
    pending: dict[int, str] = field(default_factory=dict)


def index_turns(messages: Sequence[dict[str, Any]], undelivered: bool = True) -> TurnIndex:
    """The turn index of ``messages``, as indexing them one by one would give.

    ``messages`` are dicts whose role and content are strings (checked by every
    caller as it reads them); ``undelivered=False`` says that none is marked
    undelivered (the caller saw no ``"delivered":false`` in their compact JSON).
    """
    get = dict.get
    roles = list(map(get, messages, repeat("role")))
    questions = list(map(operator.eq, roles, repeat("user")))
    updates: list[Any] = list(compress(map(get, messages, repeat("update_id")), questions))
    answers = map(operator.eq, roles, repeat("assistant"))
    replies: list[Any] = list(compress(map(get, messages, repeat("reply_to")), answers))
    if not _simple(updates, replies, messages if undelivered else ()):
        return _index_sequentially(messages)
    recorded: set[int] = set(updates)  # ints, and None (_simple)
    answered: set[int] = set(replies)
    recorded.discard(None)
    answered.discard(None)
    unanswered = recorded - answered  # no answer was left undelivered: the rest are done
    pending: dict[int, str] = {}
    if unanswered:
        contents: Iterator[Any] = compress(map(get, messages, repeat("content")), questions)
        for update, content in zip(updates, contents, strict=True):
            if update in unanswered:
                pending[update] = content
    return TurnIndex(recorded, answered, pending)


def _simple(updates: list[Any], replies: list[Any], messages: Sequence[dict[str, Any]]) -> bool:
    """Whether the passes above give the exact index: ids are ints (True, equal to 1,
    is not one) or None, and none of ``messages`` is marked undelivered."""
    return (
        set(map(type, updates)) <= _INT_OR_NONE
        and set(map(type, replies)) <= _INT_OR_NONE
        and not any(map(operator.is_, map(dict.get, messages, repeat("delivered")), repeat(False)))
    )


def _index_sequentially(messages: Sequence[dict[str, Any]]) -> TurnIndex:
    """The rules of ``MemoryState._index_turn``, message by message."""
    index = TurnIndex()
    recorded, answered, pending = index.recorded, index.answered, index.pending
    for message in messages:
        role, update, reply = message.get("role"), message.get("update_id"), message.get("reply_to")
        if role == "user" and type(update) is int and isinstance(message.get("content"), str):
            recorded.add(update)
            if update not in answered:
                pending[update] = message["content"]
        elif role == "assistant" and type(reply) is int:
            answered.add(reply)
            if message.get("delivered") is not False:  # an undelivered answer stays pending
                pending.pop(reply, None)
    return index
