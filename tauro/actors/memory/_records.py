"""Encoding of messages and journal records.

A message is kept, from the moment it is appended, as its *fragment*: the compact
JSON of its dict in the original file layout (``{"role":..,"content":..,
"timestamp":..}`` plus optional ``update_id``/``reply_to``). The same bytes go
into the journal record and, later, into every snapshot, so a snapshot is a
concatenation of ready-made fragments instead of a re-encoding of the history.

A journal record is one line: eight hex digits of the CRC-32 of the payload, a
space, the payload (compact JSON, which never contains a raw newline) and a
newline. Lines make a damaged record unable to hide the ones after it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson

from tauro.actors.memory._messages import PreferenceValue, StoredMessage

__all__ = [
    "ClearRecord",
    "MessageRecord",
    "PreferenceRecord",
    "Record",
    "ShownRecord",
    "VoidRecord",
    "decode_fragment",
    "decode_line",
    "dumps",
    "encode_fragment",
    "encode_record",
    "fragment_from_dict",
    "frame",
    "rewrite_fragment",
    "unframe",
]

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON; strings holding lone surrogates fall back to \\u escapes.

    Lone surrogates cannot be written as UTF-8, and the file must stay valid
    UTF-8 for the original bot's ``json.load``.
    """
    text = _COMPACT.encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII.encode(value).encode("ascii")


def encode_fragment(
    role: str,
    content: str,
    timestamp: str,
    update_id: int | None = None,
    reply_to: int | None = None,
    **extra: object,
) -> bytes:
    """The message's dict in the original layout, with the optional keys only if set.

    ``extra`` keys (delivery: ``delivered``, ``message_ids``) are added when not None.
    """
    message: dict[str, object] = {"role": role, "content": content, "timestamp": timestamp}
    if update_id is not None:
        message["update_id"] = update_id
    if reply_to is not None:
        message["reply_to"] = reply_to
    message.update((key, value) for key, value in extra.items() if value is not None)
    return dumps(message)


def rewrite_fragment(fragment: bytes, **keys: object) -> bytes:
    """The fragment with ``keys`` set (a None value removes the key); the rest kept."""
    message = json.loads(fragment)
    for key, value in keys.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    return dumps(message)


def _optional_int(message: dict[str, Any], key: str) -> int | None:
    value = message.get(key)
    return value if type(value) is int else None


def fragment_from_dict(message: object) -> bytes | None:
    """Re-encode a message dict read from a file; None if it has the wrong shape.

    Unknown keys are kept: the original ignores them and so do we.
    """
    if not isinstance(message, dict):
        return None
    if not isinstance(message.get("role"), str) or not isinstance(message.get("content"), str):
        return None
    if not isinstance(message.get("timestamp", ""), str):
        return None
    return dumps(message)


def _loads(fragment: bytes) -> Any:
    """orjson's speed; json for what orjson refuses (escaped lone surrogates, huge ints)."""
    try:
        return orjson.loads(fragment)
    except orjson.JSONDecodeError:
        return json.loads(fragment)


def decode_fragment(fragment: bytes) -> StoredMessage:
    message = _loads(fragment)
    return StoredMessage(
        role=message["role"],
        content=message["content"],
        timestamp=message.get("timestamp", ""),
        update_id=_optional_int(message, "update_id"),
        reply_to=_optional_int(message, "reply_to"),
        delivered=message.get("delivered") if type(message.get("delivered")) is bool else None,
    )


@dataclass(frozen=True, slots=True)
class MessageRecord:
    seq: int
    conversation: str
    fragment: bytes


@dataclass(frozen=True, slots=True)
class ClearRecord:
    seq: int
    conversation: str


@dataclass(frozen=True, slots=True)
class PreferenceRecord:
    seq: int
    conversation: str
    key: str
    value: PreferenceValue


@dataclass(frozen=True, slots=True)
class ShownRecord:
    """The messages showing the answer to ``update_id`` (see ``NoteShown``)."""

    seq: int
    conversation: str
    update_id: int
    message_ids: tuple[int, ...]
    sending: bool
    delivered: bool


@dataclass(frozen=True, slots=True)
class VoidRecord:
    """Records ``first..last`` were never acknowledged: a write or fsync failed.

    They may still be on disk (a failed fsync says nothing about what reached
    it), so recovery must skip them rather than resurrect them.
    """

    seq: int
    first: int
    last: int


Record: TypeAlias = MessageRecord | ClearRecord | PreferenceRecord | ShownRecord | VoidRecord

VOID_MARK = b'"op":"void"'


def _payload(record: Record) -> bytes:
    if isinstance(record, MessageRecord):
        conversation = dumps(record.conversation)
        return b'{"s":%d,"c":%b,"m":%b}' % (record.seq, conversation, record.fragment)
    if isinstance(record, ClearRecord):
        return dumps({"s": record.seq, "c": record.conversation, "op": "clear"})
    if isinstance(record, PreferenceRecord):
        fields = {"k": record.key, "v": record.value}
        return dumps({"s": record.seq, "c": record.conversation, "op": "pref", **fields})
    if isinstance(record, ShownRecord):
        shown = {"u": record.update_id, "ids": list(record.message_ids)}
        flags = {"sending": record.sending, "done": record.delivered}
        return dumps({"s": record.seq, "c": record.conversation, "op": "shown", **shown, **flags})
    return dumps({"s": record.seq, "op": "void", "first": record.first, "last": record.last})


def frame(payload: bytes) -> bytes:
    """One line of a journal or delivery log: the CRC-32 of ``payload`` in eight
    hex digits, a space, the payload (compact JSON) and a newline."""
    return b"%08x %b\n" % (zlib.crc32(payload), payload)


def unframe(line: bytes) -> dict[str, Any] | None:
    """The JSON object of one ``frame`` line (without its newline); None if the
    line is torn or damaged."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def encode_record(record: Record) -> bytes:
    return frame(_payload(record))


def decode_line(line: bytes) -> Record | None:
    """The record of one line (without its newline), or None if it is damaged."""
    data = unframe(line)
    return _record_from(data) if data is not None else None


def _record_from(data: dict[str, Any]) -> Record | None:
    seq, conversation, op = data.get("s"), data.get("c"), data.get("op")
    if type(seq) is not int:
        return None
    if op == "void":
        first, last = data.get("first"), data.get("last")
        if type(first) is int and type(last) is int:
            return VoidRecord(seq, first, last)
        return None
    if not isinstance(conversation, str):
        return None
    if op is None:
        fragment = fragment_from_dict(data.get("m"))
        return None if fragment is None else MessageRecord(seq, conversation, fragment)
    if op == "clear":
        return ClearRecord(seq, conversation)
    if op == "shown":
        return _shown_record(seq, conversation, data)
    key, value = data.get("k"), data.get("v")
    if op == "pref" and isinstance(key, str) and isinstance(value, str | bool):
        return PreferenceRecord(seq, conversation, key, value)
    return None


def _shown_record(seq: int, conversation: str, data: dict[str, Any]) -> ShownRecord | None:
    update_id, ids = data.get("u"), data.get("ids")
    if type(update_id) is not int or not isinstance(ids, list):
        return None
    if not all(type(message_id) is int for message_id in ids):
        return None
    sending, done = data.get("sending") is True, data.get("done") is True
    return ShownRecord(seq, conversation, update_id, tuple(ids), sending, done)
