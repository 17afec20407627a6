"""Reading the memory file in pieces gives exactly what reading it whole gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tauro.actors.memory import _pieces as pieces
from tauro.actors.memory._pieces import PieceError, beside_the_event_loop, read_in_pieces
from tauro.actors.memory._records import fragment_from_dict
from tauro.actors.memory._snapshot import SnapshotData, read_snapshot, write_snapshot


def _whole(data: dict[str, Any]) -> dict[str, list[bytes]]:
    return {
        name: [fragment_from_dict(m) or b"" for m in messages]
        for name, messages in data["conversations"].items()
    }


def _message(content: str, **extra: object) -> dict[str, object]:
    return {"role": "user", "content": content, "timestamp": "2025-01-01T10:00:00", **extra}


AWKWARD = [
    "plain",
    'quotes " and \\ backslashes',
    '},{"role":"user"} inside a string',
    '\n    "12": [ looks like a header',
    "accents àèìòù, emoji 🐂, CJK 漢字",
    "\u2028 line separators \u2029 and \x1f control",
    "",
]


def _data() -> dict[str, Any]:
    return {
        "conversations": {
            "1": [_message(text) for text in AWKWARD],
            "2": [],
            "-100200": [_message("with turn", update_id=7), _message("x", tags={"a": [1, 2]})],
            "3": [_message(text) for text in reversed(AWKWARD)],
        },
        "last_updated": "2025-01-01T10:00:00",
    }


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_the_original_layout_reads_as_a_whole_read(tmp_path: Path, ensure_ascii: bool) -> None:
    raw = json.dumps(_data(), indent=2, ensure_ascii=ensure_ascii).encode()
    conversations, rest = read_in_pieces(raw)
    assert conversations == _whole(_data())
    assert rest == {"last_updated": "2025-01-01T10:00:00"}


def test_tauros_own_layout_reads_as_a_whole_read(tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    whole = _whole(_data())
    data = SnapshotData(list(whole.items()), {"1": {"voice": True}}, seq=9, journal=2)
    write_snapshot(path, data, durable=False)
    conversations, rest = read_in_pieces(path.read_bytes())
    assert conversations == whole
    assert rest["preferences"] == {"1": {"voice": True}}
    assert rest["tauro"]["seq"] == 9


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(_data()).encode(),  # one line: no place to cut
        json.dumps({"last_updated": "x", "conversations": {}}, indent=2).encode(),
        b"[]",
    ],
)
def test_files_that_cannot_be_cut_say_so(raw: bytes) -> None:
    with pytest.raises(PieceError):
        read_in_pieces(raw)


@pytest.mark.parametrize(
    "text",
    [
        '{\n  "conversations": {\n    "1": [{"role": "user", "content": "\\ud800"}],\n'
        '    "2": []\n  }\n}',  # a lone surrogate: orjson refuses it, json does not
        '{\n  "conversations": {\n    "1": [],\n    "1": [{"role": "a", "content": "b"}]\n  }\n}',
        '{\n  "conversations": {\n    "1": [],\n    "2": []\n  },\n  "x": [\n    "y"\n  ]\n}',
        '{\n  "conversations": {\n    "1": [{"role": "a", "content": "b", "n": 1e400}]\n  }\n}',
    ],
)
def test_any_valid_file_reads_as_json_loads_reads_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(text)
    loaded = read_snapshot(path)
    assert loaded is not None
    assert loaded.conversations == _whole(json.loads(text))


def test_a_damaged_piece_is_refused() -> None:
    raw = json.dumps(_data(), indent=2).encode().replace(b'"role": "user"', b'"role": user', 1)
    with pytest.raises(PieceError):
        read_in_pieces(raw)


messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": st.text()}),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=5), messages, max_size=5),
    st.sampled_from([None, 0, 1, 2, 4]),
    st.text(max_size=5),
)
def test_whatever_the_contents_pieces_match_the_whole(
    conversations: dict[str, list[dict[str, str]]], indent: int | None, after: str
) -> None:
    data = {"conversations": conversations, "last_updated": after, "more": [after, {after: []}]}
    raw = json.dumps(data, indent=indent, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        got, rest = read_in_pieces(raw)
    except PieceError:
        return  # the caller then reads it whole
    whole = json.loads(raw.decode("utf-8", "surrogatepass"))
    assert got == _whole(whole)
    assert rest == {"last_updated": after, "more": whole["more"]}


@pytest.mark.parametrize("after", ["]", "]}", "plain"])
def test_the_keys_after_the_conversations_read_whatever_they_hold(after: str) -> None:
    """The last conversation ends at the last "]" unless the keys after it hold one."""
    data = {**_data(), "preferences": {"1": {"voice": after}}, "list": [after]}
    raw = json.dumps(data, indent=2).encode()
    for layout in (raw, _tauro_layout(json.dumps(data).encode())):
        conversations, rest = read_in_pieces(layout)
        assert conversations == _whole(_data())
        assert rest == {key: data[key] for key in ("last_updated", "preferences", "list")}


def test_beside_the_event_loop_pauses_gc_and_shortens_the_switch_interval() -> None:
    import gc
    import sys

    interval = sys.getswitchinterval()
    assert gc.isenabled()
    with beside_the_event_loop():
        assert not gc.isenabled()
        assert sys.getswitchinterval() <= 0.001
    assert gc.isenabled()
    assert sys.getswitchinterval() == interval


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("indent", [2, None])
def test_a_file_read_in_chunks_reads_as_a_whole_read(chunk: int, indent: int | None) -> None:
    raw = json.dumps(_data(), indent=indent, ensure_ascii=False).encode()
    if indent is None:  # TauroBot's layout: a conversation a line
        raw = raw.replace(b'{"conversations": {', b'{"conversations":{\n').replace(
            b'], "', b'],\n"'
        )
    pieces = [raw[start : start + chunk] for start in range(0, len(raw), chunk)]
    conversations, rest = read_in_pieces(iter(pieces))
    assert conversations == _whole(_data())
    assert rest == {"last_updated": "2025-01-01T10:00:00"}


def _tauro_layout(raw: bytes) -> bytes:
    """``json.dumps(indent=None)`` made TauroBot's layout: a conversation a line."""
    return raw.replace(b'{"conversations": {', b'{"conversations":{\n').replace(b'], "', b'],\n"')


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 90), min_size=1, max_size=8), st.sampled_from([2, None]))
def test_conversations_cut_by_chunk_ends_anywhere_read_as_a_whole_read(
    sizes: list[int], indent: int | None
) -> None:
    """Every way a chunk's end may cut a conversation, or the end between two."""
    raw = json.dumps(_data(), indent=indent, ensure_ascii=False).encode()
    raw = raw if indent else _tauro_layout(raw)
    chunks: list[bytes] = []
    start = 0
    while start < len(raw):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(raw[start : start + size])
        start += size
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pieces, "_HEAD", 40)  # the start, then chunks, not one head
        conversations, rest = read_in_pieces(iter(chunks))
    assert conversations == _whole(_data())
    assert rest == {"last_updated": "2025-01-01T10:00:00"}
