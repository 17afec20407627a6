"""Turn events as server-sent events, and ending them all at shutdown."""

from __future__ import annotations

import json

import trio

from tauro.actors.web import Delta, Done, Failed, OpenStreams, VoiceReady
from tauro.actors.web._events import encode_sse, open_turn_events, sse_frames


def _parse(frame: bytes) -> tuple[str, dict[str, object]]:
    lines = frame.decode().strip().split("\n")
    assert lines[0].startswith("event: ")
    assert lines[1].startswith("data: ")
    return lines[0][7:], json.loads(lines[1][6:])


def test_frames_name_the_event_and_carry_json() -> None:
    assert _parse(encode_sse(Delta("ciao\nda me"))) == ("delta", {"text": "ciao\nda me"})
    assert _parse(encode_sse(Done("ok"))) == ("done", {"text": "ok"})
    assert _parse(encode_sse(VoiceReady("/api/voice/x", 1.5))) == (
        "voice",
        {"url": "/api/voice/x", "duration_s": 1.5},
    )
    assert _parse(encode_sse(Failed("llm_unreachable", "down"))) == (
        "error",
        {"kind": "llm_unreachable", "message": "down"},
    )
    assert encode_sse(Delta("x")).endswith(b"\n\n")


async def _collect(receive: trio.MemoryReceiveChannel) -> list[bytes]:  # type: ignore[type-arg]
    return [frame async for frame in sse_frames(receive)]


async def test_stream_runs_until_the_turn_closes_it() -> None:
    events, receive = open_turn_events()
    events.emit(Delta("a"))
    events.emit(Done("a"))
    events.emit(VoiceReady("/api/voice/1", 1.0))  # voice comes after the text is done
    events.close()
    frames = await _collect(receive)
    assert frames[0].startswith(b":")  # the comment that flushes the headers at once
    assert [_parse(f)[0] for f in frames[1:]] == ["delta", "done", "voice"]


async def test_emit_after_the_listener_left_is_harmless() -> None:
    events, receive = open_turn_events()
    await receive.aclose()
    events.emit(Delta("nobody listens"))
    assert not events.failed
    events.emit(Failed("internal", "x"))
    assert events.failed


async def test_close_all_ends_every_stream_with_a_reason() -> None:
    streams = OpenStreams()
    pairs = [open_turn_events() for _ in range(3)]
    for events, _ in pairs:
        streams.add(events)
    pairs[0][0].emit(Delta("half an ans"))
    assert len(streams) == 3
    streams.close_all()
    assert streams.closing
    assert len(streams) == 0
    first = await _collect(pairs[0][1])
    assert [_parse(f) for f in first[1:]] == [
        ("delta", {"text": "half an ans"}),
        (
            "error",
            {"kind": "shutdown", "message": "The server is shutting down; try again in a moment."},
        ),
    ]
    for _, receive in pairs[1:]:
        assert [_parse(f)[0] for f in (await _collect(receive))[1:]] == ["error"]
