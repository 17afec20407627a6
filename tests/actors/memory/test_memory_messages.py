"""Requests validate on construction, so a bad one fails in the sender's task."""

from __future__ import annotations

from typing import get_args

import pytest

from tauro.actors.memory import (
    Append,
    BeginTurn,
    Clear,
    GetContext,
    GetPreferences,
    GetStats,
    MemoryMessage,
    SetPreference,
    UpdateStatus,
    _messages,
)
from tauro.runtime import Request
from tauro.runtime.testing import unfrozen_classes


def test_a_valid_append_keeps_its_fields() -> None:
    message = Append("123", "assistant", "ciao", reply_to=7)
    assert (message.conversation, message.role, message.content) == ("123", "assistant", "ciao")
    assert (message.update_id, message.reply_to) == (None, 7)


def test_begin_turn_records_its_question_as_an_append() -> None:
    assert BeginTurn("1", "q", 5, update_id=7).question == Append("1", "user", "q", update_id=7)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Append("", "user", "x"),
        lambda: Append(123, "user", "x"),  # type: ignore[arg-type]
        lambda: Append("1", "system", "x"),  # type: ignore[arg-type]
        lambda: Append("1", "user", None),  # type: ignore[arg-type]
        lambda: Append("1", "user", "x", update_id=-1),
        lambda: Append("1", "user", "x", update_id=True),
        lambda: Append("1", "assistant", "x", reply_to="7"),  # type: ignore[arg-type]
        lambda: GetContext("1", -1),
        lambda: GetContext("1", 2.5),  # type: ignore[arg-type]
        lambda: Clear(""),
        lambda: GetStats(""),
        lambda: SetPreference("1", "", True),
        lambda: SetPreference("1", "voice", 1),  # type: ignore[arg-type]
        lambda: GetPreferences(""),
        lambda: UpdateStatus("1", None),  # type: ignore[arg-type]
        lambda: BeginTurn("", "q", 5),
        lambda: BeginTurn("1", None, 5),  # type: ignore[arg-type]
        lambda: BeginTurn("1", "q", -1),
        lambda: BeginTurn("1", "q", 5, update_id=-3),
    ],
)
def test_invalid_requests_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_every_message_is_a_frozen_dataclass() -> None:
    """Messages cross tasks and actors: none may change after it is sent."""
    assert hasattr(_messages, "Clear")
    assert unfrozen_classes(_messages) == []


def test_stats_without_a_conversation_is_global() -> None:
    assert GetStats().conversation is None


def test_every_message_names_the_type_of_its_reply() -> None:
    """Each is a ``Request``, so ``ask`` returns its reply's type to the caller."""
    assert [m.__name__ for m in get_args(MemoryMessage) if not issubclass(m, Request)] == []
