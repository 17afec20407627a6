"""Read requests are answered from memory; statistics combine state and counters."""

from __future__ import annotations

import pytest

from tauro.actors.memory import (
    Append,
    BeginTurn,
    GetContext,
    GetPreferences,
    GetStats,
    MemoryStatistics,
    PendingTurn,
    PendingTurns,
    TurnStart,
    UpdateStatus,
)
from tauro.actors.memory._reads import Counters, answer, statistics
from tauro.actors.memory._records import encode_fragment
from tauro.actors.memory._store import MemoryState


@pytest.fixture
def state() -> MemoryState:
    memory = MemoryState(max_size=10)
    for number in range(3):
        memory.add("a", encode_fragment("user", f"m{number}", "t", update_id=number))
    memory.add("b", encode_fragment("assistant", "r", "t", reply_to=2))
    memory.set_preference("a", "lang", "en")
    return memory


def test_each_read_gets_its_answer(state: MemoryState) -> None:
    counters = Counters()
    assert [m.content for m in answer(state, counters, GetContext("a", 2))] == ["m1", "m2"]  # type: ignore[attr-defined]
    preferences = answer(state, counters, GetPreferences("a"))
    assert preferences == {"lang": "en"}
    preferences["lang"] = "it"
    assert state.preferences["a"] == {"lang": "en"}  # a copy, not the state
    assert answer(state, counters, UpdateStatus("a", 1)) == "recorded"
    assert answer(state, counters, PendingTurns())[0] == PendingTurn("a", 0, "m0")  # type: ignore[index]


def test_a_turn_whose_question_is_stored_gets_context_and_preferences(state: MemoryState) -> None:
    start = answer(state, Counters(), BeginTurn("a", "m1", 2, update_id=1))
    assert isinstance(start, TurnStart)
    assert (start.status, [m.content for m in start.context]) == ("recorded", ["m1", "m2"])
    assert start.preferences == {"lang": "en"}
    assert answer(state, Counters(), BeginTurn("b", "r?", 2, update_id=2)) == TurnStart("answered")


def test_statistics_combine_the_state_and_the_counters(state: MemoryState) -> None:
    counters = Counters(journal_appends=7, batches=2, fsyncs=3, errors=1, last_error="x")
    result = answer(state, counters, GetStats("a"))
    assert result == MemoryStatistics(
        conversations=2,
        messages=4,
        conversation_messages=3,
        average_per_conversation=2.0,
        journal_appends=7,
        fsyncs=3,
        snapshots=0,
        bytes_written=0,
        errors=1,
        last_error="x",
        batches=2,
    )
    assert statistics(MemoryState(5), Counters()).average_per_conversation == 0.0


def test_a_change_is_not_a_read(state: MemoryState) -> None:
    with pytest.raises(TypeError):
        answer(state, Counters(), Append("a", "user", "x"))
