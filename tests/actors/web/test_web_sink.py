"""WebSink: what the shared turn says, as browser events; WatchedLLM's failure kinds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import trio

from tauro.actors.llm import AnswerStream, ChatMessage, Generate, GenerationResult
from tauro.actors.llm._stream import GenerationState
from tauro.actors.voice import VoiceNote
from tauro.actors.web import Delta, Done, Failed, VoiceClips, VoiceReady, WebSink
from tauro.actors.web._events import Rendered, VoiceFailed, encode_sse, open_turn_events
from tauro.actors.web._sink import RENDER_EVERY, WatchedLLM, failure_kind
from tauro.errors import (
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
    ModelNotFoundError,
)

_GENERATE = Generate((ChatMessage("user", "hi"),))


class _Asker:
    def __init__(self, reply: Any = None, error: Exception | None = None) -> None:
        self.reply, self.error = reply, error

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        if self.error is not None:
            raise self.error
        return self.reply


def _sink(llm: WatchedLLM | None = None, clips: VoiceClips | None = None) -> tuple[WebSink, Any]:
    events, receive = open_turn_events()
    sink = WebSink(
        events,
        conversation="web:1",
        llm=llm or WatchedLLM(_Asker()),
        clips=clips or VoiceClips(),
        limiter=trio.CapacityLimiter(1),
    )
    return sink, receive


def _drain(receive: Any) -> list[Any]:
    out = []
    while True:
        try:
            out.append(receive.receive_nowait())
        except trio.WouldBlock:
            return out


async def test_partials_become_deltas_of_only_what_is_new() -> None:
    sink, receive = _sink()
    await sink.thinking()
    for text in ("Ci", "Ciao", "Ciao", "Ciao!"):
        await sink.partial(text)
    await sink.final("Ciao!")
    assert _drain(receive) == [
        Delta("Ci"),
        Rendered("<p>Ci</p>\n"),  # at once, then at most every RENDER_EVERY
        Delta("ao"),
        Delta("!"),
        Rendered("<p>Ciao!</p>\n"),  # the final text, always
        Done("Ciao!"),
    ]


async def test_final_text_completes_what_partials_missed() -> None:
    sink, receive = _sink()
    await sink.partial("Hel")
    await sink.final("Hello")
    assert _drain(receive) == [
        Delta("Hel"),
        Rendered("<p>Hel</p>\n"),
        Delta("lo"),
        Rendered("<p>Hello</p>\n"),
        Done("Hello"),
    ]


async def test_a_streaming_answer_is_rendered_at_most_every_render_every(
    autojump_clock: trio.abc.Clock,
) -> None:
    sink, receive = _sink()
    text = "Ecco **il"
    for word in range(20):  # a token every 0.05 s: one rendering per 4 tokens
        text += f" w{word}"
        await sink.partial(text)
        await trio.sleep(0.05)
    rendered = [e for e in _drain(receive) if isinstance(e, Rendered)]
    assert len(rendered) == 20 * 0.05 / RENDER_EVERY
    assert rendered[0] == Rendered("<p>Ecco <strong>il w0</strong></p>\n")  # closed so far


async def test_what_arrived_before_a_failure_stays_rendered() -> None:
    sink, receive = _sink()
    await sink.partial("Half **an")
    await sink.failed("the answer was cut short")
    assert _drain(receive)[-2:] == [
        Rendered("<p>Half **an</p>\n"),  # as written: no closing it any more
        Failed("llm_error", "the answer was cut short"),
    ]


async def test_model_html_in_an_answer_is_text() -> None:
    sink, receive = _sink()
    await sink.final('<img src=x onerror="alert(1)"> **ok**')
    rendered = [e for e in _drain(receive) if isinstance(e, Rendered)]
    assert rendered == [
        Rendered('<p>&lt;img src=x onerror="alert(1)"&gt; <strong>ok</strong></p>\n')
    ]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LLMUnreachableError("x", user_message="down"), "llm_unreachable"),
        (LLMTimeoutError("x", user_message="slow"), "llm_timeout"),
        (ModelNotFoundError("x", user_message="pull it"), "llm_error"),
        (LLMResponseError("x", user_message="garbage"), "llm_error"),
        (None, "llm_error"),
    ],
)
def test_failure_kinds(error: LLMError | None, kind: str) -> None:
    assert failure_kind(error) == kind


async def test_an_ask_that_fails_is_remembered() -> None:
    llm = WatchedLLM(_Asker(error=LLMUnreachableError("x", user_message="down")))
    with pytest.raises(LLMUnreachableError):
        await llm.ask(_GENERATE)
    sink, receive = _sink(llm)
    await sink.failed("down")
    assert _drain(receive) == [Failed("llm_unreachable", "down")]


async def test_an_error_on_the_stream_is_remembered() -> None:
    send, chunks = trio.open_memory_channel[str](math.inf)
    state = GenerationState()
    error = LLMTimeoutError("x", user_message="too slow")
    state.result = GenerationResult(text="Hal", complete=False, error=error, model="m")
    send.close()
    stream = AnswerStream(chunks, state, model="m")
    llm = WatchedLLM(_Asker(reply=stream))
    assert await llm.ask(_GENERATE) is stream
    assert llm.error is error


async def test_voice_notes_become_playable_clips(tmp_path: Path) -> None:
    path = tmp_path / "note.ogg"
    path.write_bytes(b"OggS\x00voice")
    clips = VoiceClips(directory=tmp_path / "clips")
    sink, receive = _sink(clips=clips)
    await sink.voice_pending()  # the page says "Preparing voice…" by itself
    await sink.voice(VoiceNote(path, 1.25, 10))
    path.unlink()  # as the turn discards the note
    (event,) = _drain(receive)
    assert isinstance(event, VoiceReady)
    assert event.duration_s == 1.25
    clip = clips.get(event.url.removeprefix("/api/voice/"), "web:1")
    assert clip is not None
    assert clip.path.read_bytes() == b"OggS\x00voice"  # the clip's own file
    assert clip.media_type.startswith("audio/ogg")
    await clips.aclose()


async def test_a_voice_that_failed_is_a_discreet_event() -> None:
    sink, receive = _sink()
    await sink.final("Ciao")
    await sink.voice_pending()
    await sink.voice_failed("I could not make the voice note this time.")
    assert _drain(receive) == [
        Delta("Ciao"),
        Rendered("<p>Ciao</p>\n"),
        Done("Ciao"),
        VoiceFailed("I could not make the voice note this time."),
    ]
    assert encode_sse(VoiceFailed("no voice")).startswith(b"event: voice_failed\n")


async def test_a_note_already_gone_is_an_error_for_the_turn(tmp_path: Path) -> None:
    sink, receive = _sink(clips=VoiceClips(directory=tmp_path / "clips"))
    with pytest.raises(FileNotFoundError):  # the turn tells the user: voice_failed
        await sink.voice(VoiceNote(tmp_path / "gone.ogg", 1.0, 10))
    assert _drain(receive) == []
