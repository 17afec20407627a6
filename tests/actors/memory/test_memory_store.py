"""Trimming, the turn index, context reads and idleness, on plain data."""

from __future__ import annotations

from datetime import datetime

import orjson

from tauro.actors.memory import PendingTurn
from tauro.actors.memory._pieces import Turns, read_in_pieces
from tauro.actors.memory._records import (
    ClearRecord,
    MessageRecord,
    PreferenceRecord,
    encode_fragment,
)
from tauro.actors.memory._store import MemoryState
from tauro.actors.memory._turns import index_turns


def user(content: str, stamp: str = "2025-01-01T10:00:00", update_id: int | None = None) -> bytes:
    return encode_fragment("user", content, stamp, update_id=update_id)


def answer(content: str, reply_to: int | None = None) -> bytes:
    return encode_fragment("assistant", content, "2025-01-01T10:00:01", reply_to=reply_to)


def test_each_conversation_keeps_its_newest_max_size_messages() -> None:
    state = MemoryState(max_size=3)
    for number in range(5):
        state.add("a", user(str(number)))
    state.add("b", user("x"))
    assert [m.content for m in state.context("a", 10)] == ["2", "3", "4"]
    assert state.messages == 4
    assert state.count("a") == 3


def test_context_returns_the_newest_limit_oldest_first() -> None:
    state = MemoryState(max_size=100)
    for number in range(20):
        state.add("a", user(str(number)))
    assert [m.content for m in state.context("a", 3)] == ["17", "18", "19"]
    assert state.context("a", 0) == ()
    assert state.context("nobody", 5) == ()


def test_clear_forgets_messages_and_turns_but_keeps_preferences() -> None:
    state = MemoryState(max_size=10)
    state.add("a", user("q", update_id=1))
    state.set_preference("a", "voice", True)
    state.clear("a")
    assert state.count("a") == 0
    assert state.messages == 0
    assert state.update_status("a", 1) == "new"
    assert state.pending_turns() == ()
    assert state.preferences["a"] == {"voice": True}


def test_turns_move_from_new_to_recorded_to_answered() -> None:
    state = MemoryState(max_size=10)
    assert state.update_status("a", 7) == "new"
    state.add("a", user("q", update_id=7))
    assert state.update_status("a", 7) == "recorded"
    assert state.pending_turns() == (PendingTurn("a", 7, "q"),)
    state.add("a", answer("r", reply_to=7))
    assert state.update_status("a", 7) == "answered"
    assert state.pending_turns() == ()
    assert state.update_status("b", 7) == "new"


def test_trimmed_turns_leave_the_index() -> None:
    state = MemoryState(max_size=2)
    state.add("a", user("q", update_id=1))
    state.add("a", user("q2", update_id=2))
    state.add("a", user("q3"))
    assert state.update_status("a", 1) == "new"
    assert state.pending_turns() == (PendingTurn("a", 2, "q2"),)


def test_apply_replays_records_and_tracks_seq() -> None:
    state = MemoryState(max_size=10)
    state.apply(MessageRecord(1, "a", user("x", update_id=3)))
    state.apply(PreferenceRecord(2, "a", "lang", "en"))
    state.apply(MessageRecord(3, "b", user("y")))
    state.apply(ClearRecord(4, "b"))
    assert state.seq == 4
    assert state.update_status("a", 3) == "recorded"
    assert state.preferences == {"a": {"lang": "en"}}
    assert list(state.conversations) == ["a"]


def test_idle_conversations_are_judged_by_their_newest_message() -> None:
    state = MemoryState(max_size=10)
    state.add("old", user("x", "2025-01-01T00:00:00"))
    state.add("new", user("x", "2025-01-01T00:00:00"))
    state.add("new", user("y", "2025-03-01T00:00:00"))
    state.add("odd", user("x", "yesterday"))
    state.add("aware", user("x", "2025-01-01T00:00:00+00:00"))
    idle = state.idle_conversations(datetime(2025, 2, 1))
    assert sorted(idle) == ["aware", "old"]


def test_freeze_is_a_copy_that_later_appends_do_not_change() -> None:
    state = MemoryState(max_size=10)
    state.add("a", user("1"))
    state.set_preference("a", "voice", False)
    frozen = state.freeze(journal=4, seq=9)
    state.add("a", user("2"))
    state.set_preference("a", "voice", True)
    assert frozen.conversations == [("a", [user("1")])]
    assert frozen.preferences == {"a": {"voice": False}}
    assert (frozen.seq, frozen.journal) == (9, 4)


def test_load_applies_trimming_to_an_old_file() -> None:
    state = MemoryState(max_size=2)
    state.load({"a": [user("1"), user("2"), user("3", update_id=9)]}, {"a": {"voice": True}})
    assert [m.content for m in state.context("a", 5)] == ["2", "3"]
    assert state.update_status("a", 9) == "recorded"
    assert state.preferences == {"a": {"voice": True}}


def test_freeze_copies_only_what_changed_since_the_last_copy() -> None:
    state = MemoryState(max_size=10)
    state.load({"a": [user("1")], "empty": []}, {})
    state.add("b", user("2"))
    first = dict(state.freeze(journal=1, seq=2).conversations)
    assert first == {"a": [user("1")], "empty": [], "b": [user("2")]}
    state.add("b", user("3"))
    state.clear("empty")
    second = dict(state.freeze(journal=2, seq=3).conversations)
    assert second["a"] is first["a"]  # unchanged: the same copy, not a new one
    assert second["b"] == [user("2"), user("3")]
    assert first["b"] == [user("2")]  # an earlier copy never changes
    assert "empty" not in second


def test_a_load_takes_the_lists_out_of_what_it_is_given() -> None:
    """Each list is freed as its deque is made, not all at once after the load."""
    fragments = [user("q", update_id=1)]
    conversations, turns = {"a": fragments, "b": [user("x")]}, {"a": index_turns([{}])}
    state = MemoryState(max_size=10)
    state.load(conversations, {}, turns)
    assert conversations == {}
    assert turns == {}
    assert list(state.conversations["a"]) == fragments


def test_a_load_indexes_alike_from_noted_turns_and_from_the_fragments() -> None:
    undelivered = encode_fragment("assistant", "half", "t", reply_to=12, delivered=False)
    conversations = {
        "a": [user("q1", update_id=10), answer("a1", reply_to=10), user("q2", update_id=11)],
        "b": [user("old", update_id=20), user("q", update_id=12), undelivered],
        "c": [user("plain"), answer("plain")],
    }
    body = b",\n".join(
        b'"%b":[\n%b]' % (n.encode(), b",\n".join(f)) for n, f in conversations.items()
    )
    turns: Turns = {}
    read, _ = read_in_pieces(b'{"conversations":{\n' + body + b"\n}}", turns)
    assert read == conversations
    assert orjson.loads(read["b"][2])["delivered"] is False
    noted, parsed = MemoryState(max_size=2), MemoryState(max_size=2)
    noted.load(read, {}, turns)
    parsed.load(conversations, {})
    for state in (noted, parsed):
        assert state.pending_turns() == parsed.pending_turns()
        assert [t.update_id for t in state.pending_turns()] == [11, 12]
        assert state.update_status("a", 10) == "answered"
        assert state.update_status("b", 20) == "new"  # trimmed: no longer indexed
