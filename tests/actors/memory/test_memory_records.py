"""Fragments stay in the original layout; records survive only intact."""

from __future__ import annotations

import json

import pytest

from tauro.actors.memory._records import (
    ClearRecord,
    MessageRecord,
    PreferenceRecord,
    VoidRecord,
    decode_fragment,
    decode_line,
    encode_fragment,
    encode_record,
    fragment_from_dict,
    frame,
    unframe,
)


def test_a_fragment_is_the_original_message_dict() -> None:
    fragment = encode_fragment("user", "ciao è 🐂", "2025-11-05T19:52:21.123456")
    assert json.loads(fragment) == {
        "role": "user",
        "content": "ciao è 🐂",
        "timestamp": "2025-11-05T19:52:21.123456",
    }
    assert "è".encode() in fragment  # UTF-8, not \\u escapes


def test_turn_ids_are_extra_keys_only_when_set() -> None:
    fragment = encode_fragment("assistant", "ok", "t", reply_to=42)
    assert json.loads(fragment) == {
        "role": "assistant",
        "content": "ok",
        "timestamp": "t",
        "reply_to": 42,
    }
    stored = decode_fragment(fragment)
    assert (stored.update_id, stored.reply_to) == (None, 42)


def test_lone_surrogates_fall_back_to_escapes_and_stay_valid_utf8() -> None:
    fragment = encode_fragment("user", "bad \ud800 half", "t")
    fragment.decode("utf-8")
    assert decode_fragment(fragment).content == "bad \ud800 half"


def test_fragment_from_dict_keeps_unknown_keys_and_refuses_wrong_shapes() -> None:
    kept = fragment_from_dict({"role": "user", "content": "x", "timestamp": "t", "mood": 1})
    assert kept is not None
    assert json.loads(kept)["mood"] == 1
    assert fragment_from_dict({"role": "user", "content": 3}) is None
    assert fragment_from_dict({"content": "x"}) is None
    assert fragment_from_dict(["user", "x"]) is None
    assert fragment_from_dict({"role": "user", "content": "x", "timestamp": 5}) is None


@pytest.mark.parametrize(
    "record",
    [
        MessageRecord(1, "123", encode_fragment("user", "a\nb", "t", update_id=5)),
        MessageRecord(2, 'we"ird\n', encode_fragment("assistant", "x", "t")),
        ClearRecord(3, "123"),
        PreferenceRecord(4, "123", "voice", True),
        PreferenceRecord(5, "web:1", "lang", "it"),
        VoidRecord(6, 2, 5),
    ],
)
def test_records_round_trip_as_one_line(record: object) -> None:
    line = encode_record(record)  # type: ignore[arg-type]
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode_line(line[:-1]) == record


def test_a_damaged_line_decodes_to_none() -> None:
    line = encode_record(ClearRecord(9, "123"))[:-1]
    flipped = line[:20] + bytes([line[20] ^ 1]) + line[21:]
    assert decode_line(flipped) is None
    assert decode_line(line[:-3]) is None
    assert decode_line(b"") is None
    assert decode_line(b"zzzzzzzz {}") is None


def test_a_line_with_a_good_checksum_but_wrong_shape_is_damaged() -> None:
    import zlib

    payload = b'{"s":"x","op":"clear","c":"1"}'
    assert decode_line(b"%08x %b" % (zlib.crc32(payload), payload)) is None


def test_a_framed_line_reads_back_and_a_damaged_one_does_not() -> None:
    line = frame(b'{"c":"7","u":1}')
    assert line.endswith(b"\n")
    assert unframe(line[:-1]) == {"c": "7", "u": 1}
    assert unframe(line[:-3]) is None  # torn: the CRC no longer matches
    assert unframe(b"x" + line[1:-1]) is None  # not hex
    assert unframe(frame(b"[1,2]")[:-1]) is None  # JSON, but not an object
