"""StreamingReply against a fake ChatApi, on trio's MockClock."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from tauro.actors.telegram._markdown import TelegramPiece, plain_piece
from tauro.actors.telegram._streaming import (
    EMPTY_ANSWER,
    FIRST_TEXT_DELAY,
    PLACEHOLDER,
    PLACEHOLDER_AFTER,
    RECORDING_EVERY,
    Sent,
    StreamingReply,
    Text,
    open_streaming_reply,
)
from tauro.actors.voice import VoiceNote
from tauro.errors import TelegramError


@dataclass
class FakeChatApi:
    """Records what a chat would show; optional edits can be refused."""

    allow_optional: bool = True
    fail_sends: int = 0
    send_wait: float = 0.01  # seconds a send waits for its slot
    ops: list[tuple[float, str, int, str]] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    pieces: dict[int, TelegramPiece] = field(default_factory=dict)
    typings: list[float] = field(default_factory=list)
    recordings: list[float] = field(default_factory=list)
    voices: list[Path] = field(default_factory=list)
    refused_optional: int = 0
    tells_ids: bool = True  # calls ``on_id`` as the bridge does, from inside the send
    ids_told: list[float] = field(default_factory=list)

    async def send_text(
        self,
        chat_id: int,
        text: Text,
        *,
        reply_to: int | None,
        on_id: Callable[[int], None] | None = None,
    ) -> Sent:
        if self.fail_sends:
            self.fail_sends -= 1
            raise TelegramError("sendMessage failed: Bad Gateway")
        await trio.sleep(self.send_wait)
        piece = text() if callable(text) else text
        message_id = len(self.texts) + 1
        self.texts[message_id] = piece.text
        self.pieces[message_id] = piece
        self.ops.append((trio.current_time(), "send", message_id, piece.text))
        if on_id is not None and self.tells_ids:
            on_id(message_id)
            self.ids_told.append(trio.current_time())
            await trio.sleep(self.send_wait)  # the answer is parsed, the call returns
        return Sent(message_id, piece, piece.html is not None)

    async def edit_text(
        self, chat_id: int, message_id: int, text: TelegramPiece, *, optional: bool
    ) -> Sent | None:
        if optional and not self.allow_optional:
            self.refused_optional += 1
            return None
        assert self.pieces[message_id] != text, "an unchanged edit"
        await trio.sleep(0.01)
        self.texts[message_id] = text.text
        self.pieces[message_id] = text
        self.ops.append((trio.current_time(), "edit", message_id, text.text))
        return Sent(message_id, text, text.html is not None)

    async def typing(self, chat_id: int) -> None:
        self.typings.append(trio.current_time())

    async def recording_voice(self, chat_id: int) -> None:
        self.recordings.append(trio.current_time())

    async def send_voice(self, chat_id: int, note: VoiceNote, *, reply_to: int | None) -> None:
        self.voices.append(note.path)

    def shown(self) -> list[str]:
        return [self.texts[k] for k in sorted(self.texts)]

    def html(self) -> list[str | None]:
        return [self.pieces[k].html for k in sorted(self.pieces)]


def reply_to(
    api: FakeChatApi, limit: int = 4096, interval: float = 1.0
) -> AbstractAsyncContextManager[StreamingReply]:
    return open_streaming_reply(api, 42, reply_to=None, limit=limit, edit_interval=interval)


async def stream_answer(
    api: FakeChatApi,
    partials: list[str],
    final: str,
    *,
    every: float,
    limit: int = 4096,
    thinking: bool = False,
) -> StreamingReply:
    """Show ``partials`` one every ``every`` seconds, then the final text."""
    async with reply_to(api, limit=limit) as reply:
        if thinking:
            await reply.thinking()
        for text in partials:
            await reply.partial(text)
            await trio.sleep(every)
        await reply.final(final)
    return reply


def growing(words: list[str]) -> list[str]:
    """The texts of an answer that grows by one word at a time."""
    return [" ".join(words[: i + 1]) for i in range(len(words))]


async def test_first_text_is_sent_at_once_then_edited_at_the_interval(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    texts = growing([f"w{i}" for i in range(50)])  # 5 s of tokens, one every 0.1 s
    start = trio.current_time()
    reply = await stream_answer(api, texts, texts[-1], every=0.1, thinking=True)
    assert api.shown() == [texts[-1]]
    sends = [op for op in api.ops if op[1] == "send"]
    edits = [op for op in api.ops if op[1] == "edit"]
    assert len(sends) == 1
    assert sends[0][0] - start < FIRST_TEXT_DELAY + 0.05  # visible almost at once
    assert 4 <= len(edits) <= 7  # about one per second, not one per token
    gaps = [b[0] - a[0] for a, b in zip(api.ops, api.ops[1:-1], strict=False)]
    assert all(gap >= 0.99 for gap in gaps)
    assert reply.timings.first_visible is not None


async def test_typing_is_repeated_until_text_and_placeholder_appears_when_slow(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.thinking()
        await trio.sleep(10)
        assert api.shown() == [PLACEHOLDER]
        assert reply.timings.first_visible is None
        await reply.partial("finally")
        await trio.sleep(0.1)
        await reply.final("finally here")
    assert len(api.typings) >= 2
    assert api.ops[0][0] == pytest.approx(PLACEHOLDER_AFTER, abs=0.05)
    assert api.shown() == ["finally here"]


async def test_fast_answer_costs_one_message(autojump_clock: trio.abc.Clock) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.thinking()
        await trio.sleep(0.1)
        await reply.final("quick")
    assert [op[1] for op in api.ops] == ["send"]
    assert api.typings == []  # it came before "typing" was worth showing


async def test_a_send_that_waited_for_its_slot_shows_the_newest_text(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi(send_wait=3.0)  # a busy bot: the first send waits 3 s
    await stream_answer(api, ["The", "The whole"], "The whole answer.", every=0.5)
    ((sent_at, *sent),) = api.ops
    assert sent_at == pytest.approx(FIRST_TEXT_DELAY + 3.0)
    assert sent == ["send", 1, "The whole answer."]


async def test_an_answer_streamed_within_the_first_moment_is_one_message(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    await stream_answer(api, ["a", "a b"], "a b c", every=0.05)
    assert [op[1:] for op in api.ops] == [("send", 1, "a b c")]


async def test_no_edit_when_the_final_text_is_already_shown(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    await stream_answer(api, ["same text"], "same text", every=2)
    assert [op[1] for op in api.ops] == ["send"]


async def test_every_edit_is_formatted_with_what_is_open_closed(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    seen: list[str | None] = []
    async with reply_to(api) as reply:
        for text in ("Use **bol", "Use **bold** and\n\n```python\nprint(1 < 2", "Use **bold**"):
            await reply.partial(text)
            await trio.sleep(2)
            seen.append(api.html()[-1])
        await reply.final("Use **bold** and\n\n```python\nprint(1 < 2)\n```\n\nDone.")
    assert seen[0] == "Use <b>bol</b>"
    assert seen[1] == (
        'Use <b>bold</b> and\n\n<pre><code class="language-python">print(1 &lt; 2</code></pre>'
    )
    assert api.html() == [
        'Use <b>bold</b> and\n\n<pre><code class="language-python">print(1 &lt; 2)</code></pre>'
        "\n\nDone."
    ]
    assert api.shown() == ["Use bold and\n\nprint(1 < 2)\n\nDone."]


async def test_plain_notices_and_the_placeholder_go_without_parse_mode(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await trio.sleep(5)
        assert api.html() == [None]  # the placeholder
        await reply.final("<b>not a tag</b>")
        await reply.voice_pending()
        await reply.voice_failed("no <voice> today")
    assert api.html() == ["&lt;b&gt;not a tag&lt;/b&gt;", None]
    assert api.shown() == ["<b>not a tag</b>", "(no <voice> today)"]


async def test_busy_limits_skip_intermediate_edits_but_not_the_final(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi(allow_optional=False)
    texts = growing([f"w{i}" for i in range(30)])
    await stream_answer(api, texts, texts[-1], every=0.2)
    assert api.refused_optional > 0
    assert [op[1] for op in api.ops] == ["send", "edit"]
    assert api.shown() == [texts[-1]]


async def test_long_answer_continues_in_new_messages(autojump_clock: trio.abc.Clock) -> None:
    api = FakeChatApi()
    sentence = "A sentence of the answer. "
    text = sentence * 12
    partials = [sentence * n for n in range(1, 13)]
    await stream_answer(api, partials, text, every=0.5, limit=100)
    shown = api.shown()
    assert len(shown) == 4
    assert all(len(t) <= 100 for t in shown)
    assert " ".join(shown) == text.strip()


async def test_failure_keeps_the_partial_text_and_adds_the_notice(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.partial("Half of")
        await trio.sleep(2)
        await reply.failed("the answer was cut short")
    assert api.shown() == ["Half of\n\n⚠️ The answer was cut short"]


async def test_failure_without_text_sends_only_the_notice(autojump_clock: trio.abc.Clock) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.failed("the LLM server is not reachable")
    assert api.shown() == ["⚠️ The LLM server is not reachable"]


async def test_empty_answer_is_said(autojump_clock: trio.abc.Clock) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.final("   ")
    assert api.shown() == [EMPTY_ANSWER]


async def test_failed_intermediate_send_is_retried_by_the_final(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeChatApi(fail_sends=1)
    await stream_answer(api, ["first"], "first and last", every=2)
    assert api.shown() == ["first and last"]
    assert "telegram.stream.update_failed" in caplog.messages


async def test_error_of_the_block_is_not_wrapped_in_a_group(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi(fail_sends=5)
    with pytest.raises(TelegramError):
        async with reply_to(api) as reply:
            await reply.final("cannot be sent")


async def test_voice_is_sent(autojump_clock: trio.abc.Clock, tmp_path: Path) -> None:
    api = FakeChatApi()
    note = VoiceNote(tmp_path / "a.ogg", 1.0, 4)
    async with reply_to(api) as reply:
        await reply.final("text")
        await reply.voice_pending()
        await reply.voice(note)
    assert api.voices == [note.path]
    assert api.shown() == ["text"]


async def test_recording_is_shown_while_the_voice_is_made(
    autojump_clock: trio.abc.Clock, tmp_path: Path
) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.final("text")
        await trio.sleep(1)
        assert api.recordings == []  # not before the turn says a voice is coming
        pending = trio.current_time()
        await reply.voice_pending()
        await trio.sleep(10)  # a long synthesis
        await reply.voice(VoiceNote(tmp_path / "a.ogg", 1.0, 4))
        await trio.sleep(10)
    assert api.recordings[0] == pytest.approx(pending)  # at once
    gaps = [b - a for a, b in zip(api.recordings, api.recordings[1:], strict=False)]
    assert gaps == [pytest.approx(RECORDING_EVERY)] * 2  # renewed before it fades
    assert len(api.recordings) == 3  # and no more once the voice is sent


async def test_a_voice_that_failed_is_told_in_a_short_line(
    autojump_clock: trio.abc.Clock,
) -> None:
    api = FakeChatApi()
    async with reply_to(api) as reply:
        await reply.final("The answer.")
        await reply.voice_pending()
        await trio.sleep(2)
        await reply.voice_failed("I could not make the voice note this time.")
        await trio.sleep(10)
    assert api.shown() == ["The answer.", "(I could not make the voice note this time.)"]
    assert len(api.recordings) == 1
    assert api.voices == []


async def test_a_failing_chat_action_is_not_an_error(
    autojump_clock: trio.abc.Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class NoActions(FakeChatApi):
        async def recording_voice(self, chat_id: int) -> None:
            raise TelegramError("sendChatAction failed: Bad Gateway")

    caplog.set_level("DEBUG", logger="tauro.telegram")
    api = NoActions()
    async with reply_to(api) as reply:
        await reply.final("text")
        await reply.voice_pending()
        await trio.sleep(5)
        await reply.voice(VoiceNote(tmp_path / "a.ogg", 1.0, 4))
    assert len(api.voices) == 1
    assert "telegram.chat_action.failed" in caplog.messages


# -- delivery notes: every message id at once, then "delivered" -------------------------


@dataclass
class Notes:
    """A ``ShownNotes`` that records what memory would be told, in order."""

    log: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    created_at: list[float] = field(default_factory=list)

    async def sending(self, shown: tuple[int, ...]) -> None:
        self.log.append(("sending", shown))

    def created(self, index: int, message_id: int) -> None:
        self.log.append(("created", (index, message_id)))
        self.created_at.append(trio.current_time())

    async def shown(self, shown: tuple[int, ...], *, delivered: bool) -> None:
        self.log.append(("delivered" if delivered else "shown", shown))


async def test_each_message_id_is_noted_when_telegram_returns_it(
    autojump_clock: trio.abc.Clock,
) -> None:
    api, notes = FakeChatApi(), Notes()
    text = "First paragraph here.\n\nSecond paragraph follows."
    async with open_streaming_reply(
        api, 42, reply_to=None, limit=30, edit_interval=1.0, notes=notes
    ) as reply:
        await reply.final(text)
    assert notes.log == [
        ("sending", ()),
        ("created", (0, 1)),  # from inside the send: Telegram's answer just arrived
        ("created", (0, 1)),  # once more when the send returns (harmless)
        ("shown", (1,)),
        ("sending", (1,)),
        ("created", (1, 2)),
        ("created", (1, 2)),
        ("shown", (1, 2)),
        ("delivered", (1, 2)),
    ]


async def test_a_new_id_is_noted_the_moment_the_api_has_it_not_when_the_send_returns(
    autojump_clock: trio.abc.Clock,
) -> None:
    api, notes = FakeChatApi(send_wait=0.5), Notes()
    async with open_streaming_reply(
        api, 42, reply_to=None, limit=4096, edit_interval=1.0, notes=notes
    ) as reply:
        await reply.final("the answer")
    assert notes.created_at == [api.ids_told[0], api.ids_told[0] + 0.5]


async def test_an_api_that_never_tells_ids_early_still_gets_them_noted(
    autojump_clock: trio.abc.Clock,
) -> None:
    api, notes = FakeChatApi(tells_ids=False), Notes()
    async with open_streaming_reply(
        api, 42, reply_to=None, limit=4096, edit_interval=1.0, notes=notes
    ) as reply:
        await reply.final("the answer")
    assert notes.log == [
        ("sending", ()),
        ("created", (0, 1)),
        ("shown", (1,)),
        ("delivered", (1,)),
    ]


async def test_a_resumed_reply_edits_the_messages_recorded_for_it(
    autojump_clock: trio.abc.Clock,
) -> None:
    api, notes = FakeChatApi(), Notes()
    api.texts.update({1: "First paragraph", 2: "unrelated"})
    api.pieces.update({1: plain_piece("First paragraph"), 2: plain_piece("unrelated")})
    async with open_streaming_reply(
        api, 42, reply_to=None, limit=30, edit_interval=1.0, notes=notes, shown_ids=(1,)
    ) as reply:
        await reply.final("First paragraph here.\n\nSecond paragraph follows.")
    assert [op[1:3] for op in api.ops] == [("edit", 1), ("send", 3)]
    assert api.texts[1] == "First paragraph here."
    assert notes.log[-1] == ("delivered", (1, 3))


async def test_a_recorded_message_deleted_in_the_chat_is_sent_anew(
    autojump_clock: trio.abc.Clock,
) -> None:
    api, notes = FakeChatApi(), Notes()

    async def gone(*args: object, **kwargs: object) -> Sent:
        raise TelegramError("editMessageText failed: Bad Request: message to edit not found")

    api.edit_text = gone  # type: ignore[method-assign]
    async with open_streaming_reply(
        api, 42, reply_to=None, limit=4096, edit_interval=1.0, notes=notes, shown_ids=(9,)
    ) as reply:
        await reply.final("the answer")
    assert api.shown() == ["the answer"]
    assert notes.log[-1] == ("delivered", (1,))
