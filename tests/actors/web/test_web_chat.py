"""Turns that outlive their request, one per conversation; voice clips per owner."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tauro.actors.web import (
    Delta,
    Done,
    Failed,
    OpenStreams,
    TurnRunner,
    VoiceClip,
    VoiceClips,
    WebCounters,
)
from tauro.actors.web._http import HTTPProblem

Backend = Any  # conftest.FakeBackend, given by the backend_type fixture


async def _runner(
    nursery: trio.Nursery, backend: Backend
) -> tuple[TurnRunner, OpenStreams, WebCounters]:
    streams, counters = OpenStreams(), WebCounters()
    runner = TurnRunner(backend, streams, counters)
    await nursery.start(runner.run)
    return runner, streams, counters


async def test_a_turn_streams_its_events_and_closes(
    nursery: trio.Nursery, backend_type: Any
) -> None:
    runner, streams, counters = await _runner(nursery, backend_type(words=("a", "b")))
    receive = runner.start("web:1", "hi")
    events = [event async for event in receive]
    assert events == [Delta("a"), Delta("b"), Done("ab")]
    assert (counters.turns, counters.turns_failed, len(streams), runner.in_flight) == (1, 0, 0, 0)


async def test_one_turn_per_conversation(nursery: trio.Nursery, backend_type: Any) -> None:
    hold = trio.Event()
    runner, _, _ = await _runner(nursery, backend_type(hold=hold))
    first = runner.start("web:1", "one")
    with pytest.raises(HTTPProblem) as caught:
        runner.start("web:1", "two")
    assert caught.value.status == 409
    other = runner.start("web:2", "elsewhere")  # other conversations are not held up
    hold.set()
    assert [e async for e in first][-1] == Done("Hello, world")
    assert [e async for e in other][-1] == Done("Hello, world")
    runner.start("web:1", "three")  # free again


async def test_the_turn_finishes_when_the_listener_leaves(
    nursery: trio.Nursery, backend_type: Any
) -> None:
    hold = trio.Event()
    backend = backend_type(hold=hold)
    runner, _, _ = await _runner(nursery, backend)
    receive = runner.start("web:1", "hi")
    await receive.aclose()  # the tab was closed
    hold.set()
    await runner.wait_idle()
    assert [e.role for e in backend.stored["web:1"]] == ["user", "assistant"]


async def test_a_crashing_backend_becomes_a_failed_event(
    nursery: trio.Nursery, backend_type: Any
) -> None:
    runner, _, counters = await _runner(nursery, backend_type(crash=True))
    events = [e async for e in runner.start("web:1", "hi")]
    assert events == [Failed("internal", "Something went wrong on the server; try again.")]
    assert counters.turns_failed == 1


async def test_failed_turns_are_counted(nursery: trio.Nursery, backend_type: Any) -> None:
    backend = backend_type(fail=Failed("llm_unreachable", "down"))
    runner, _, counters = await _runner(nursery, backend)
    assert [e async for e in runner.start("web:1", "hi")] == [Failed("llm_unreachable", "down")]
    assert counters.turns_failed == 1


async def test_no_new_turn_while_closing(nursery: trio.Nursery, backend_type: Any) -> None:
    runner, streams, _ = await _runner(nursery, backend_type())
    streams.close_all()
    with pytest.raises(HTTPProblem) as caught:
        runner.start("web:1", "hi")
    assert caught.value.status == 503


def test_clips_belong_to_their_conversation_and_old_ones_go() -> None:
    clips = VoiceClips(capacity=2)
    urls = [clips.add(VoiceClip("web:a", bytes([n]), "audio/ogg", 1.0)) for n in range(3)]
    ids = [url.removeprefix("/api/voice/") for url in urls]
    assert all(url.startswith("/api/voice/") for url in urls)
    assert clips.get(ids[0], "web:a") is None  # evicted
    clip = clips.get(ids[2], "web:a")
    assert clip is not None
    assert clip.audio == b"\x02"
    assert clips.get(ids[2], "web:b") is None  # someone else's
    assert clips.get("nope", "web:a") is None
