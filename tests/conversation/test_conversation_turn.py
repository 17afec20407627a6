"""run_turn against small in-test fakes of the memory, LLM and voice actors."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, assert_type

import pytest
import trio

from tauro.actors.llm import AnswerStream, ChatMessage, Generate, GenerationResult
from tauro.actors.llm._stream import GenerationState
from tauro.actors.memory import (
    Append,
    AppendReceipt,
    BeginTurn,
    StoredMessage,
    TurnStart,
    UpdateState,
)
from tauro.actors.voice import Synthesize, VoiceNote
from tauro.conversation import NO_VOICE, Asker, TurnRefs, run_turn
from tauro.conversation._turn import LENGTH_NOTICE
from tauro.errors import LLMError, LLMResponseError, ModelNotFoundError, TelegramError, VoiceError


@dataclass
class FakeMemory:
    messages: list[StoredMessage] = field(default_factory=list)
    preferences: dict[str, str | bool] = field(default_factory=dict)
    asked: list[Any] = field(default_factory=list)

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        self.asked.append(message)
        if isinstance(message, Append):
            return self.append(message)
        if isinstance(message, BeginTurn):
            return self.begin(message)
        raise AssertionError(f"unexpected {message!r}")

    def append(self, message: Append) -> AppendReceipt:
        self.messages.append(
            StoredMessage(message.role, message.content, "t", message.update_id, message.reply_to)
        )
        return AppendReceipt(len(self.messages))

    def begin(self, request: BeginTurn) -> TurnStart:
        status = "new" if request.update_id is None else self.status(request.update_id)
        if status == "answered":
            return TurnStart(status)
        if status == "new":
            self.append(request.question)
        context = tuple(self.messages[-request.context_limit :])
        return TurnStart(status, context, dict(self.preferences))

    def status(self, update_id: int) -> UpdateState:
        if any(m.reply_to == update_id for m in self.messages):
            return "answered"
        if any(m.update_id == update_id for m in self.messages):
            return "recorded"
        return "new"


async def test_an_askers_reply_has_the_type_its_request_names() -> None:
    memory: Asker = FakeMemory()
    receipt = await memory.ask(Append("1", "user", "hi"))
    assert_type(receipt, AppendReceipt)  # checked by mypy on the tests
    assert receipt == AppendReceipt(1)


@dataclass
class FakeLLM:
    deltas: tuple[str, ...] = ("Ciao", "! Come ", "stai?")
    error: LLMError | None = None
    done_reason: str | None = "stop"
    raise_on_ask: LLMError | None = None
    requests: list[Generate] = field(default_factory=list)
    nursery: trio.Nursery | None = None

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        assert isinstance(message, Generate)
        self.requests.append(message)
        if self.raise_on_ask is not None:
            raise self.raise_on_ask
        send, receive = trio.open_memory_channel[str](math.inf)
        state = GenerationState()
        for delta in self.deltas:
            send.send_nowait(delta)
        text = "".join(self.deltas)
        state.result = GenerationResult(
            text=text,
            complete=self.error is None,
            error=self.error,
            model="m",
            done_reason=self.done_reason if self.error is None else None,
        )
        send.close()
        return AnswerStream(receive, state, "m")


@dataclass
class FakeVoice:
    tmp: Path
    fail: bool = False
    asked: list[Synthesize] = field(default_factory=list)
    sink: RecordingSink | None = None  # its events are noted at each ask
    seen_at_ask: list[list[str]] = field(default_factory=list)

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        assert isinstance(message, Synthesize)
        self.asked.append(message)
        if self.sink is not None:
            self.seen_at_ask.append(self.sink.kinds())
        if self.fail:
            raise VoiceError("espeak-ng failed")
        path = self.tmp / f"note{len(self.asked)}.ogg"
        path.write_bytes(b"OggS")
        return VoiceNote(path, 1.5, 4)


@dataclass
class RecordingSink:
    events: list[tuple[str, Any]] = field(default_factory=list)
    voice_error: Exception | None = None  # raised by voice(), as a failed upload
    notice_error: Exception | None = None  # raised by voice_failed()
    voice_blocks: bool = False  # voice() waits forever (to be cancelled)

    async def thinking(self) -> None:
        self.events.append(("thinking", None))

    async def partial(self, text_so_far: str) -> None:
        self.events.append(("partial", text_so_far))

    async def final(self, text: str) -> None:
        self.events.append(("final", text))

    async def failed(self, user_message: str) -> None:
        self.events.append(("failed", user_message))

    async def voice_pending(self) -> None:
        self.events.append(("voice_pending", None))

    async def voice(self, note: VoiceNote) -> None:
        assert note.path.exists()
        self.events.append(("voice", note.path))
        if self.voice_error is not None:
            raise self.voice_error
        if self.voice_blocks:
            await trio.sleep_forever()

    async def voice_failed(self, user_message: str) -> None:
        self.events.append(("voice_failed", user_message))
        if self.notice_error is not None:
            raise self.notice_error

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def notes_left(folder: Path) -> list[Path]:
    return list(folder.glob("*.ogg"))


def refs(memory: FakeMemory, llm: FakeLLM, voice: FakeVoice | None = None) -> TurnRefs:
    return TurnRefs(memory=memory, llm=llm, voice=voice, context_messages=10)


async def test_answer_is_streamed_recorded_and_final() -> None:
    memory, llm, sink = FakeMemory(), FakeLLM(), RecordingSink()
    outcome = await run_turn(refs(memory, llm), "42", "ciao", sink, update_id=7)
    assert outcome.status == "answered"
    assert outcome.answer == "Ciao! Come stai?"
    assert sink.kinds()[0] == "thinking"
    assert sink.events[-1] == ("final", "Ciao! Come stai?")
    partials = [text for kind, text in sink.events if kind == "partial"]
    assert partials[-1] == "Ciao! Come stai?"
    assert [(m.role, m.content, m.update_id, m.reply_to) for m in memory.messages] == [
        ("user", "ciao", 7, None),
        ("assistant", "Ciao! Come stai?", None, 7),
    ]


async def test_one_memory_request_comes_before_the_answer_and_one_after() -> None:
    memory = FakeMemory([StoredMessage("user", "old", "t")], preferences={"model": "m2"})
    llm = FakeLLM()
    await run_turn(refs(memory, llm), "42", "ciao", RecordingSink(), update_id=7)
    assert memory.asked == [
        BeginTurn("42", "ciao", 10, update_id=7),
        Append("42", "assistant", "Ciao! Come stai?", reply_to=7),
    ]
    assert llm.requests[0].model == "m2"  # the preferences came with the context


async def test_context_includes_history_and_ends_with_the_question() -> None:
    memory = FakeMemory([StoredMessage("user", "old", "t"), StoredMessage("assistant", "a", "t")])
    llm = FakeLLM()
    await run_turn(refs(memory, llm), "42", "new question", RecordingSink())
    assert llm.requests[0].messages == (
        ChatMessage("user", "old"),
        ChatMessage("assistant", "a"),
        ChatMessage("user", "new question"),
    )


async def test_record_happens_before_on_recorded_and_generation() -> None:
    memory, llm = FakeMemory(), FakeLLM()
    seen: list[int] = []
    await run_turn(
        refs(memory, llm),
        "42",
        "ciao",
        RecordingSink(),
        update_id=3,
        on_recorded=lambda: seen.append(len(memory.messages)),
    )
    assert seen == [1]


async def test_already_answered_update_is_skipped() -> None:
    memory = FakeMemory(
        [StoredMessage("user", "q", "t", 5), StoredMessage("assistant", "a", "t", None, 5)]
    )
    llm, sink = FakeLLM(), RecordingSink()
    recorded: list[bool] = []
    outcome = await run_turn(
        refs(memory, llm), "42", "q", sink, update_id=5, on_recorded=lambda: recorded.append(True)
    )
    assert outcome.status == "skipped"
    assert sink.events == []
    assert llm.requests == []
    assert recorded == [True]
    assert len(memory.messages) == 2


async def test_recorded_update_is_answered_without_recording_it_again() -> None:
    memory = FakeMemory(
        [
            StoredMessage("user", "first", "t", 5),
            StoredMessage("user", "second", "t", 6),
        ]
    )
    llm = FakeLLM()
    outcome = await run_turn(refs(memory, llm), "42", "first", RecordingSink(), update_id=5)
    assert outcome.status == "answered"
    # The context stops at the question being answered, not at what came later.
    assert llm.requests[0].messages == (ChatMessage("user", "first"),)
    assert [m.content for m in memory.messages] == ["first", "second", "Ciao! Come stai?"]
    assert memory.messages[-1].reply_to == 5


async def test_llm_error_before_any_text_is_shown_and_leaves_the_turn_pending() -> None:
    error = ModelNotFoundError("404 from server", user_message="the model 'x' is not installed")
    memory, sink = FakeMemory(), RecordingSink()
    outcome = await run_turn(
        refs(memory, FakeLLM(raise_on_ask=error)), "42", "q", sink, update_id=1
    )
    assert outcome.status == "failed"
    assert sink.events[-1] == ("failed", "the model 'x' is not installed")
    assert memory.status(1) == "recorded"


async def test_cut_stream_keeps_what_arrived_and_says_so() -> None:
    error = LLMResponseError("stream cut", user_message="the answer was cut short")
    memory, sink = FakeMemory(), RecordingSink()
    llm = FakeLLM(deltas=("Part", "ial"), error=error)
    outcome = await run_turn(refs(memory, llm), "42", "q", sink, update_id=1)
    assert outcome.status == "failed"
    assert outcome.answer == "Partial"
    assert ("partial", "Partial") in sink.events
    assert sink.events[-1] == ("failed", "the answer was cut short")
    assert memory.messages[-1].content == "Partial"
    assert memory.status(1) == "answered"


async def test_stopped_generation_without_error_is_reported() -> None:
    class StoppedLLM(FakeLLM):
        async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
            stream = await super().ask(message)
            stream._state.result = GenerationResult(text="", complete=False, error=None, model="m")
            return stream

    sink = RecordingSink()
    outcome = await run_turn(refs(FakeMemory(), StoppedLLM(deltas=())), "42", "q", sink)
    assert outcome.status == "failed"
    assert sink.kinds()[-1] == "failed"


async def test_voice_follows_the_text_when_enabled(tmp_path: Path) -> None:
    # The channel resolves the language (the chat's /lang, or TTS_LANGUAGE when fixed).
    memory = FakeMemory(preferences={"voice": True, "lang": "de"})
    sink = RecordingSink()
    voice = FakeVoice(tmp_path, sink=sink)
    english = dataclasses.replace(refs(memory, FakeLLM(), voice), voice_language="en")
    outcome = await run_turn(english, "42", "q", sink)
    assert outcome.voice_sent
    assert sink.kinds()[-3:] == ["final", "voice_pending", "voice"]
    assert voice.seen_at_ask[0][-2:] == ["final", "voice_pending"]  # told before the ask
    assert voice.asked == [Synthesize("Ciao! Come stai?", "en")]
    assert not (tmp_path / "note1.ogg").exists()  # discarded after sending


async def test_the_channels_system_prompt_goes_first() -> None:
    memory, llm = FakeMemory(), FakeLLM()
    italian = dataclasses.replace(refs(memory, llm), system_prompt="Sei TauroBot.")
    await run_turn(italian, "42", "ciao", RecordingSink())
    assert llm.requests[0].messages[0] == ChatMessage("system", "Sei TauroBot.")
    assert llm.requests[0].messages[-1] == ChatMessage("user", "ciao")
    await run_turn(refs(memory, llm), "42", "ancora", RecordingSink())
    assert all(m.role != "system" for m in llm.requests[1].messages)  # the LLM actor's own


async def test_voice_off_by_default(tmp_path: Path) -> None:
    voice, sink = FakeVoice(tmp_path), RecordingSink()
    await run_turn(refs(FakeMemory(), FakeLLM(), voice), "42", "q", sink)
    assert voice.asked == []
    assert not {"voice_pending", "voice", "voice_failed"} & set(sink.kinds())


async def test_no_voice_for_an_empty_answer(tmp_path: Path) -> None:
    memory = FakeMemory(preferences={"voice": True})
    voice, sink = FakeVoice(tmp_path), RecordingSink()
    await run_turn(refs(memory, FakeLLM(deltas=(" ",)), voice), "42", "q", sink)
    assert voice.asked == []
    assert sink.kinds()[-1] == "final"


async def test_voice_failure_keeps_the_text_and_tells_the_user(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    memory = FakeMemory(preferences={"voice": True})
    sink = RecordingSink()
    outcome = await run_turn(
        refs(memory, FakeLLM(), FakeVoice(tmp_path, fail=True)), "42", "q", sink, update_id=1
    )
    assert outcome.status == "answered"
    assert not outcome.voice_sent
    assert sink.events[-3:] == [
        ("final", "Ciao! Come stai?"),
        ("voice_pending", None),
        ("voice_failed", NO_VOICE),
    ]
    assert memory.messages[-1].content == "Ciao! Come stai?"  # the answer is recorded
    assert memory.status(1) == "answered"
    assert "conversation.voice.failed" in caplog.messages


async def test_a_failed_upload_is_told_and_the_note_discarded(tmp_path: Path) -> None:
    memory = FakeMemory(preferences={"voice": True})
    sink = RecordingSink(voice_error=TelegramError("sendVoice failed: Bad Gateway"))
    outcome = await run_turn(refs(memory, FakeLLM(), FakeVoice(tmp_path)), "42", "q", sink)
    assert outcome.status == "answered"
    assert not outcome.voice_sent
    assert sink.kinds()[-4:] == ["final", "voice_pending", "voice", "voice_failed"]
    assert notes_left(tmp_path) == []


async def test_a_note_file_gone_is_a_voice_failure_too(tmp_path: Path) -> None:
    memory = FakeMemory(preferences={"voice": True})
    sink = RecordingSink(voice_error=FileNotFoundError("note1.ogg"))
    outcome = await run_turn(refs(memory, FakeLLM(), FakeVoice(tmp_path)), "42", "q", sink)
    assert outcome.status == "answered"
    assert sink.kinds()[-1] == "voice_failed"


async def test_a_notice_that_cannot_be_sent_does_not_fail_the_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    memory = FakeMemory(preferences={"voice": True})
    sink = RecordingSink(notice_error=TelegramError("sendMessage failed: Bad Gateway"))
    voice = FakeVoice(tmp_path, fail=True)
    outcome = await run_turn(refs(memory, FakeLLM(), voice), "42", "q", sink)
    assert outcome.status == "answered"
    assert ("final", "Ciao! Come stai?") in sink.events
    assert "conversation.voice.notice_failed" in caplog.messages


async def test_a_cancelled_upload_discards_the_note(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    memory = FakeMemory(preferences={"voice": True})
    sink = RecordingSink(voice_blocks=True)
    with trio.move_on_after(1) as scope:
        await run_turn(refs(memory, FakeLLM(), FakeVoice(tmp_path)), "42", "q", sink)
    assert scope.cancelled_caught
    assert sink.kinds()[-1] == "voice"
    assert notes_left(tmp_path) == []
    assert memory.messages[-1].content == "Ciao! Come stai?"


async def test_model_preference_is_passed_to_the_llm() -> None:
    memory, llm = FakeMemory(preferences={"model": "mistral"}), FakeLLM()
    await run_turn(refs(memory, llm), "42", "q", RecordingSink())
    assert llm.requests[0].model == "mistral"


async def test_the_turn_names_its_conversation_to_the_llm() -> None:
    memory, llm = FakeMemory(), FakeLLM()
    await run_turn(refs(memory, llm), "42", "q", RecordingSink())
    assert llm.requests[0].conversation == "42"


async def test_an_answer_that_hit_the_length_limit_says_so_but_is_recorded_as_is() -> None:
    memory, llm, sink = FakeMemory(), FakeLLM(done_reason="length"), RecordingSink()
    outcome = await run_turn(refs(memory, llm), "42", "q", sink)
    assert outcome.status == "answered"
    assert sink.events[-1] == ("final", f"Ciao! Come stai?\n\n[{LENGTH_NOTICE}]")
    assert "LLM_MAX_TOKENS" in LENGTH_NOTICE
    assert memory.messages[-1].content == "Ciao! Come stai?"


async def test_the_length_limit_notice_is_in_the_readers_language() -> None:
    memory, llm, sink = FakeMemory(), FakeLLM(done_reason="length"), RecordingSink()
    italian = dataclasses.replace(refs(memory, llm), language="it")
    await run_turn(italian, "42", "q", sink)
    assert sink.events[-1] == (
        "final",
        "Ciao! Come stai?\n\n[La risposta ha raggiunto il limite di lunghezza "
        "(LLM_MAX_TOKENS) e si ferma qui.]",
    )
    assert memory.messages[-1].content == "Ciao! Come stai?"
