"""The turn index made at a restart is the one indexing each message in turn makes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tauro.actors.memory._records import dumps
from tauro.actors.memory._store import MemoryState
from tauro.actors.memory._turns import TurnIndex, index_turns

IDS = range(6)

ids = st.one_of(st.integers(0, 5), st.sampled_from([None, True, False, "3", 2.0]))
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system"]), "content": st.text(max_size=3)},
    optional={"update_id": ids, "reply_to": ids, "delivered": st.sampled_from([True, False, None])},
)
histories = st.lists(st.lists(message, max_size=12), min_size=1, max_size=4)


def _one_by_one(history: list[list[dict[str, Any]]]) -> MemoryState:
    state = MemoryState(max_size=100)
    for number, messages in enumerate(history):
        for one in messages:
            state.add(str(number), dumps(one))
    return state


def _loaded(history: list[list[dict[str, Any]]]) -> MemoryState:
    state = MemoryState(max_size=100)
    conversations = {str(n): [dumps(m) for m in messages] for n, messages in enumerate(history)}
    state.load(conversations, {}, {str(n): index_turns(m) for n, m in enumerate(history)})
    return state


@settings(max_examples=300, deadline=None)
@given(histories)
def test_a_loaded_index_answers_as_one_built_message_by_message(
    history: list[list[dict[str, Any]]],
) -> None:
    expected, got = _one_by_one(history), _loaded(history)
    assert got.pending_turns() == expected.pending_turns()  # the same, in the same order
    for name in map(str, range(len(history))):
        for update in IDS:
            assert got.update_status(name, update) == expected.update_status(name, update)


def test_the_usual_history_takes_the_quick_path_to_the_same_index() -> None:
    messages: list[dict[str, Any]] = []
    for update in range(10, 14):
        messages.append({"role": "user", "content": f"q{update}", "update_id": update})
        if update != 12:
            messages.append({"role": "assistant", "content": "a", "reply_to": update})
    messages.append({"role": "user", "content": "again", "update_id": 12})
    index = index_turns(messages)
    assert index == TurnIndex({10, 11, 12, 13}, {10, 11, 13}, {12: "again"})
    assert list(index.pending) == [12]


def test_an_undelivered_answer_keeps_its_question_pending() -> None:
    messages = [
        {"role": "user", "content": "q", "update_id": 1},
        {"role": "assistant", "content": "a", "reply_to": 1, "delivered": False},
        {"role": "user", "content": "q2", "update_id": 2},
        {"role": "assistant", "content": "a2", "reply_to": 2},
    ]
    assert index_turns(messages) == TurnIndex({1, 2}, {1, 2}, {1: "q"})


def test_ids_that_are_not_ints_are_not_indexed() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "q", "update_id": True},
        {"role": "user", "content": "q", "update_id": "2"},
        {"role": "assistant", "content": "a", "reply_to": 2.0},
        {"role": "user", "content": "q3", "update_id": 3},
    ]
    assert index_turns(messages) == TurnIndex({3}, set(), {3: "q3"})
