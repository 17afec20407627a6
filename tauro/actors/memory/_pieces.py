"""Reading a large memory file in pieces: fast, lean, and never holding the GIL for long.

``json.loads`` of a 238 MB file holds the GIL for over a second (the event loop
stops meanwhile) and builds a dict per message only for us to re-encode it. Here
the ``conversations`` object is cut into pieces of one or a few conversations at
the lines where a conversation begins, and each piece is parsed alone by orjson
(well under a millisecond for a conversation of 1,000 messages) and turned into
fragments at once, so the dicts of only one piece are alive at a time.

Why cutting at such lines is safe: a raw newline never occurs inside a JSON string,
so every line starts outside of one, and a cut that does not fall between two
members of the ``conversations`` object leaves a piece whose brackets or strings do
not close, which no JSON parser accepts. Every piece is parsed, so a wrong cut is
never silently accepted: the caller then reads the file the slow way, which also
gives the exact error for a damaged file. Files written by TauroBot (one message a
line) and by the original bot (``indent=2``) are both cut this way.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import orjson

from tauro.actors.memory._records import fragment_from_dict
from tauro.actors.memory._turns import TurnIndex, index_turns

__all__ = ["PieceError", "Turns", "beside_the_event_loop", "read_in_pieces"]

_START = re.compile(rb'\s*\{\s*"conversations"\s*:\s*\{([ \t\r\n]*)"')
_DECODER = json.JSONDecoder()
_HEAD = 1 << 16  # bytes read before looking for the first conversation


_SWITCH_INTERVAL = 0.0002  # seconds; Python's default is 0.005


@contextmanager
def beside_the_event_loop() -> Iterator[None]:
    """For a long load in a worker thread while the event loop must stay responsive.

    The cyclic garbage collector is paused: a load allocates millions of objects,
    and each full collection it triggers walks all of them holding the GIL (hundreds
    of ms at 10^6 messages; fragments are bytes, which it never needs to visit).
    The GIL is handed over after 0.2 ms instead of 5 when the event loop asks for
    it, which it does after each of its system calls: an idle loop asks for nothing
    and costs the load nothing, a busy one waits a fraction of a millisecond each
    time instead of five (see docs/benchmarks/restart.md).
    """
    collecting, interval = gc.isenabled(), sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(min(interval, _SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()


class PieceError(ValueError):
    """The file could not be read in pieces (read it whole instead)."""


Conversations = dict[str, list[bytes]]
# The turn index of each conversation that holds ids, made while its piece is
# parsed (no second parse of the fragments); one without ids has no entry.
Turns = dict[str, TurnIndex]


def read_in_pieces(
    source: bytes | Iterable[bytes], turns: Turns | None = None
) -> tuple[Conversations, dict[str, Any]]:
    """The conversations as fragments, and the file's other top-level keys.

    With ``turns``, the turn index of each conversation holding ids is put there
    (see ``Turns``).

    ``source`` is the file, whole or in chunks: read in chunks, the file is never
    in memory all at once (nor freed all at once, which holds the GIL for tens of
    ms), only the chunk at hand and the conversation that straddles two. Only that
    conversation is copied, not the chunk (copying 4 MiB chunks was 7% of a load).
    """
    chunks = iter([source] if isinstance(source, bytes) else source)
    buffer = b""
    while len(buffer) < _HEAD and (more := next(chunks, None)) is not None:
        buffer += more  # enough to hold the start, whatever the chunks
    cut, line = _first_member(buffer)
    conversations: Conversations = {}
    after = b"," + line
    while True:
        member = _next_member(buffer, cut, after)
        if member != -1:
            # buffer[member - 2 : member] is "],": the piece is the member up to its "]"
            _add(conversations, _middle_piece(memoryview(buffer)[cut : member - 1], turns))
            cut = member
            continue
        more = next(chunks, None)
        if more is None:
            break
        tail = buffer[cut:]
        member = _end_in_next(tail, more, after)
        if member == -1:  # the member goes on beyond ``more``
            buffer, cut = tail + more, 0
            continue
        _add(conversations, _middle_piece(memoryview(tail + more[: member - 1]), turns))
        buffer, cut = more, member
    last, rest = _last_piece(b"".join([buffer[cut:], *chunks]), turns)
    _add(conversations, last)
    return conversations, rest


def _next_member(buffer: bytes, start: int, after: bytes) -> int:
    """Where the member after the one at ``start`` begins (-1: not in ``buffer``).

    A member ends with a ``]`` followed by a comma and the next member's line
    (newline, indentation, quote). ``]`` is rare, so it is found at memchr speed;
    searching for the line itself is four times slower (spaces and quotes are
    everywhere). A ``]`` inside a string cannot be followed by a raw newline,
    and one closing a deeper list is followed by a deeper indentation.
    """
    close = start
    while (close := buffer.find(b"]", close + 1)) != -1:
        if buffer.startswith(after, close + 1):
            return close + 2
    return -1


def _end_in_next(tail: bytes, more: bytes, after: bytes) -> int:
    """Where in ``more`` the member after the one begun in ``tail`` begins; ``tail``
    holds no whole end of a member (``_next_member`` found none).

    -1: not in ``more``, or not after its first byte (the caller then joins the
    two). The end's ``]`` is in the last bytes of ``tail`` (the rest of the end in
    ``more``), or in ``more``.
    """
    edge = len(after)  # a "]" further back would have its whole end in ``tail``
    behind = tail[-edge:]
    junction = behind + more[:edge]
    close = -1
    while (close := junction.find(b"]", close + 1)) != -1 and close < len(behind):
        if junction.startswith(after, close + 1):
            member = close + 2 - len(behind)
            return member if member >= 1 else -1  # the "," in ``tail``: join them
    return _next_member(more, -1, after)


def _first_member(raw: bytes) -> tuple[int, bytes]:
    """Where the first conversation begins, and how each of its siblings' lines begin.

    The line prefix (newline, the same indentation, a quote) is what follows
    ``],`` at the end of each conversation (see ``_next_member``).
    """
    start = _START.match(raw)
    if start is None or b"\n" not in start.group(1):
        raise PieceError("the file does not begin with its conversations, one a line")
    indent = start.group(1)
    return start.start(1), indent[indent.rindex(b"\n") :] + b'"'


def _middle_piece(piece: memoryview, turns: Turns | None) -> dict[str, Any]:
    text = bytearray(b"{")  # one copy of the piece, not three
    text += piece
    text += b"}"
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PieceError(str(exc)) from None
    return dict(_fragments(parsed, orjson.dumps, turns if _has_ids(text) else None))


def _last_piece(piece: bytes, turns: Turns | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last conversations (parsed up to their object's end) and the keys after it."""
    quick = _last_piece_quickly(piece, turns)
    return quick if quick is not None else _last_piece_slowly(piece, turns)


def _last_piece_quickly(
    piece: bytes, turns: Turns | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """At orjson's speed when the conversations' object ends at the last ``]`` (no
    list in the keys after it); None otherwise. A cut there that is not the
    object's end leaves something after a closed object, which orjson refuses.
    """
    close = piece.rfind(b"]")
    after = piece[close + 1 :].lstrip()
    if close == -1 or not after.startswith(b"}"):
        return None
    text = b"{" + piece[: close + 1] + b"}"
    try:
        parsed = orjson.loads(text)
        rest = _rest(after[1:].decode().strip())
    except ValueError:  # orjson's errors, a PieceError: the slow way says what is wrong
        return None
    return dict(_fragments(parsed, orjson.dumps, turns if _has_ids(text) else None)), rest


def _last_piece_slowly(piece: bytes, turns: Turns | None) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        text = "{" + piece.decode()
        parsed, end = _DECODER.raw_decode(text)
        rest = _rest(text[end:].strip())
    except ValueError as exc:
        raise PieceError(str(exc)) from None
    return dict(_fragments(parsed, None, turns)), rest


def _rest(tail: str) -> dict[str, Any]:
    """The file's keys after the conversations' object, from what follows it."""
    rest = json.loads("{" + tail[1:]) if tail.startswith(",") else _closing(tail)
    if not isinstance(rest, dict) or "conversations" in rest:
        raise PieceError("not one object after the conversations")
    return rest


def _closing(tail: str) -> dict[str, Any]:
    if tail != "}":
        raise PieceError("no end of the file's object after the conversations")
    return {}


def _has_ids(text: bytes | bytearray) -> bool:
    """Whether a piece may hold ids: both keys hold a "_", rare in text and found by
    memchr 30 times faster than a key."""
    return b"_" in text and (b'"update_id"' in text or b'"reply_to"' in text)


def _fragments(
    parsed: dict[str, Any], encode: Any, turns: Turns | None
) -> Iterator[tuple[str, list[bytes]]]:
    for name, messages in parsed.items():
        if not isinstance(messages, list):
            raise PieceError(f"conversation {name!r} is not a list")
        undelivered = True
        if encode is not None and _all_plain(messages):
            encoded = orjson.dumps(messages)
            fragments = _encode_all(messages, encoded)
            # compact JSON: a key and its value are written so, or not at all
            undelivered = b'"delivered":false' in encoded
        else:
            fragments = [_checked(message) for message in messages]
        if turns is not None:  # every message is a dict by now
            turns[name] = index_turns(messages, undelivered)
        yield name, fragments


def _encode_all(messages: list[dict[str, Any]], encoded: bytes) -> list[bytes]:
    """Each message's compact JSON, from ``encoded``, the ``orjson.dumps`` of the list.

    In compact JSON ``},{"`` occurs only between two objects (inside a string the
    quote would be escaped), so with flat messages the split gives each one
    exactly; a message holding objects of its own makes the count differ.
    """
    if not messages:
        return []
    parts = encoded[3:-2].split(b'},{"')
    if len(parts) != len(messages):
        return [orjson.dumps(message) for message in messages]
    return [b'{"%b}' % part for part in parts]


def _checked(message: object) -> bytes:
    fragment = fragment_from_dict(message)
    if fragment is None:
        raise PieceError("a message has no role or content")
    return fragment


def _all_plain(messages: list[Any]) -> bool:
    """Every message a dict with a string role and content (and timestamp, if any).

    Checked in passes that run in C: a restart checks 10^6 of them.
    """
    if not all(map(dict.__instancecheck__, messages)):
        return False
    get = dict.get
    for key, default in (("role", None), ("content", None), ("timestamp", "")):
        if not all(map(str.__instancecheck__, map(get, messages, repeat(key), repeat(default)))):
            return False
    return True


def _add(conversations: Conversations, piece: dict[str, Any]) -> None:
    conversations.update(piece)  # a name given twice: the last one wins, as in json.loads
