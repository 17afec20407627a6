"""BotApi with the real python-telegram-bot client against the Bot API emulator."""

from __future__ import annotations

import dataclasses
import io
import logging
import random
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import pytest
import trio
import trio.testing

from tauro.actors.telegram._bridge import BotApi, classify, open_bot_api
from tauro.actors.telegram._markdown import TelegramPiece, plain_piece, telegram_pieces
from tauro.actors.voice import VoiceNote
from tauro.config import TelegramSettings
from tauro.errors import InvalidTokenError, PollingConflictError, TelegramError
from tauro.testing import BotApiEmulator, open_botapi_emulator

TOKEN = "123456:SECRETsecretSECRETsecret"


def settings_for(emu: BotApiEmulator, **over: object) -> TelegramSettings:
    base = TelegramSettings(
        token=TOKEN, api_base_url=emu.base_url, poll_timeout=0.5, request_timeout=5.0,
        max_retries=2,
    )  # fmt: skip
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


@asynccontextmanager
async def bridge(**over: object) -> AsyncIterator[tuple[BotApiEmulator, BotApi]]:
    async with open_botapi_emulator(TOKEN) as emu, open_bot_api(settings_for(emu, **over)) as api:
        yield emu, api


async def test_identity_comes_from_get_me() -> None:
    async with bridge() as (_, api):
        assert api.identity.username == "tauro_test_bot"
        assert api.identity.name == "TauroBot"


async def test_bot_username_setting_wins() -> None:
    async with bridge(bot_username="@other_name") as (_, api):
        assert api.identity.username == "other_name"


async def test_bad_token_is_a_clear_fatal_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_botapi_emulator(TOKEN) as emu:
        wrong = dataclasses.replace(settings_for(emu), token="999:WRONGwrongWRONGwrong")
        with pytest.raises(InvalidTokenError) as caught:
            async with open_bot_api(wrong):
                pass
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)
    assert "WRONGwrong" not in str(caught.value)
    assert "WRONGwrong" not in caplog.text


async def test_webhook_conflict_is_a_clear_fatal_error() -> None:
    async with bridge() as (emu, api):
        emu.set_webhook("https://example.invalid/hook")
        with pytest.raises(PollingConflictError, match="deleteWebhook"):
            await api.get_updates(0, 0.1)


async def test_get_updates_with_offsets() -> None:
    async with bridge() as (emu, api):
        first = emu.push_message(42, "one")
        emu.push_message(42, "two")
        updates = await api.get_updates(0, 0.5)
        assert [u.text for u in updates] == ["one", "two"]
        again = await api.get_updates(first, 0.5)
        assert len(again) == 2  # not confirmed yet: they come back
        later = await api.get_updates(updates[-1].update_id + 1, 0.5)
        assert later == []


# anyio's asyncio backend imported before trio-asyncio patches asyncio (another
# library, or anyio's pytest plugin, may do that): the bridge must not need it.
_ANYIO_FIRST = """
import anyio
anyio.run(anyio.sleep, 0, backend="asyncio")  # imports anyio's asyncio backend now
import trio
from tauro.actors.telegram._bridge import open_bot_api
from tauro.actors.telegram._markdown import plain_piece
from tauro.config import TelegramSettings
from tauro.testing import open_botapi_emulator

async def main():
    async with open_botapi_emulator("1:T") as emu:
        settings = TelegramSettings(token="1:T", api_base_url=emu.base_url, max_retries=0)
        async with open_bot_api(settings) as api:
            emu.push_message(42, "hi")
            (update,) = await api.get_updates(0, 0.1)
            await api.send_text(42, plain_piece("re: " + update.text), reply_to=None)
            print(emu.texts(42))

trio.run(main)
"""


async def test_the_bridge_works_when_anyio_found_asyncio_first() -> None:
    done = await trio.run_process(
        [sys.executable, "-c", _ANYIO_FIRST], capture_stdout=True, capture_stderr=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "['re: hi']"


async def test_send_and_edit_and_unchanged_edit() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        sent = await api.send_text(42, plain_piece("hello"), reply_to=None)
        assert emu.texts(42) == ["hello"]
        edited = await api.edit_text(42, sent.message_id, plain_piece("hello!"), optional=False)
        assert edited is not None
        # "message is not modified" counts as done.
        same = await api.edit_text(42, sent.message_id, plain_piece("hello!"), optional=False)
        assert same == edited
        assert emu.texts(42) == ["hello!"]


async def test_a_new_message_id_is_told_while_the_send_is_still_running() -> None:
    """``on_id`` hears the id from Telegram's raw answer, per chat, sends only."""
    async with bridge() as (emu, api):
        told: list[tuple[int, int, bool]] = []
        finished: set[int] = set()

        async def send(chat_id: int, text: str) -> None:
            def on_id(message_id: int) -> None:
                told.append((chat_id, message_id, chat_id in finished))

            sent = await api.send_text(chat_id, plain_piece(text), reply_to=None, on_id=on_id)
            finished.add(chat_id)
            assert (chat_id, sent.message_id, False) in told

        for chat_id in (41, 42, 43):
            emu.add_chat(chat_id)
        async with trio.open_nursery() as nursery:
            for chat_id in (41, 42, 43):
                nursery.start_soon(send, chat_id, f"hello {chat_id}")
        assert sorted(told) == sorted((m.chat_id, m.message_id, False) for m in emu.sent)
        sent = await api.send_text(41, plain_piece("no hook"), reply_to=None)
        await api.edit_text(41, sent.message_id, plain_piece("edited"), optional=False)
        emu.inject_error("sendMessage", 400, "Bad Request: chat not found")
        with pytest.raises(TelegramError):
            await api.send_text(
                41, plain_piece("refused"), reply_to=None, on_id=lambda i: told.append((0, i, True))
            )
        assert len(told) == 3


async def test_lazy_text_is_read_when_the_message_goes() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        sent = await api.send_text(42, lambda: plain_piece("computed late"), reply_to=None)
        assert sent.text == "computed late"
        assert emu.texts(42) == ["computed late"]


async def test_html_goes_in_html_parse_mode() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        piece = telegram_pieces("**Ciao** `x < y` 🎉")[0]
        sent = await api.send_text(42, piece, reply_to=None)
        assert sent.formatted
        (call,) = emu.calls_of("sendMessage")
        assert call.params["parse_mode"] == "HTML"
        assert call.params["text"] == "<b>Ciao</b> <code>x &lt; y</code> 🎉"
        assert emu.texts(42) == ["Ciao x < y 🎉"]
        entities = emu.messages(42)[0].raw["entities"]
        assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
            ("bold", 0, 4),
            ("code", 5, 5),
        ]


async def test_refused_html_is_resent_plain_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        broken = TelegramPiece("a <b broken", html="a <b broken")
        sent = await api.send_text(42, broken, reply_to=None)
        assert not sent.formatted
        assert emu.texts(42) == ["a <b broken"]
        assert len(emu.calls_of("sendMessage")) == 2  # one extra request, no more
        edited = await api.edit_text(
            42, sent.message_id, TelegramPiece("a <i", html="a <i"), optional=False
        )
        assert edited is not None
        assert not edited.formatted
        assert emu.texts(42) == ["a <i"]
        assert len(emu.calls_of("editMessageText")) == 2
        ok = await api.send_text(42, TelegramPiece("fine", html="<b>fine</b>"), reply_to=None)
        assert ok.formatted
        assert api.counters().markdown_fallbacks == 2
        assert caplog.messages.count("telegram.html.refused") == 2


async def test_5xx_is_retried_then_succeeds() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        emu.inject_error("sendMessage", 502, "Bad Gateway", times=2)
        await api.send_text(42, plain_piece("made it"), reply_to=None)
        assert emu.texts(42) == ["made it"]
        assert api.counters().retries == 2


async def test_retries_give_up_with_a_translated_error() -> None:
    async with bridge(max_retries=1) as (emu, api):
        emu.add_chat(42)
        emu.inject_error("sendMessage", 500, "Internal Server Error", times=5)
        with pytest.raises(TelegramError, match="sendMessage failed"):
            await api.send_text(42, plain_piece("lost?"), reply_to=None)
        assert api.counters().failures == 1


async def test_429_waits_retry_after_and_holds_the_chat_back() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        emu.inject_error("sendMessage", 429, "Too Many Requests: retry after 1", 1)
        start = trio.current_time()
        await api.send_text(42, plain_piece("after the flood"), reply_to=None)
        assert trio.current_time() - start >= 1.0
        assert api.counters().floods == 1


async def test_optional_edit_is_skipped_when_the_chat_is_busy() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        sent = await api.send_text(42, plain_piece("1"), reply_to=None)
        for text in ("2", "3"):
            await api.send_text(42, plain_piece(text), reply_to=None)
        assert await api.edit_text(42, sent.message_id, plain_piece("x"), optional=True) is None


class CountingFile(io.FileIO):
    """A note's file that records how it is read, and can cancel mid-upload."""

    def __init__(self, path: Path, after_first_read: Callable[[], None] | None) -> None:
        super().__init__(path, "rb")
        self.sizes: list[int] = []
        self.after_first_read = after_first_read

    def read(self, size: int | None = -1, /) -> bytes:
        self.sizes.append(-1 if size is None else size)
        data = super().read(size)
        if self.after_first_read is not None:
            self.after_first_read()
            self.after_first_read = None
        return data

    def readall(self) -> bytes:
        self.sizes.append(-1)
        return super().readall()


@dataclass
class OpenedNotes:
    """Every file ``VoiceNote.open`` handed out during a test."""

    handles: list[CountingFile] = field(default_factory=list)
    after_first_read: Callable[[], None] | None = None

    def open(self, note: VoiceNote) -> BinaryIO:
        handle = CountingFile(note.path, self.after_first_read)
        self.handles.append(handle)
        return cast(BinaryIO, handle)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> OpenedNotes:
    notes = OpenedNotes()
    monkeypatch.setattr(VoiceNote, "open", lambda note: notes.open(note))
    return notes


def voice_file(tmp_path: Path, size: int) -> tuple[VoiceNote, bytes]:
    content = b"OggS" + random.Random(size).randbytes(size - 4)
    path = tmp_path / "answer.ogg"
    path.write_bytes(content)
    return VoiceNote(path, 2.5, size), content


async def test_voice_note_is_streamed_from_its_file(tmp_path: Path, opened: OpenedNotes) -> None:
    note, content = voice_file(tmp_path, 300_000)  # about 75 s of speech
    async with bridge() as (emu, api):
        emu.add_chat(42)
        await api.send_voice(42, note, reply_to=None)
        (message,) = emu.messages(42)
    assert message.raw["voice"]["duration"] == 3
    assert message.file is not None
    assert message.file.data == content  # the whole file, as a multipart upload
    assert message.file.mime_type == "audio/ogg"
    (handle,) = opened.handles
    assert handle.closed
    assert len(handle.sizes) >= 5  # in chunks as it was sent ...
    assert max(handle.sizes) <= 64 * 1024  # ... never whole
    assert -1 not in handle.sizes


async def test_a_retried_upload_sends_the_whole_file_again(
    tmp_path: Path, opened: OpenedNotes
) -> None:
    note, content = voice_file(tmp_path, 150_000)
    async with bridge() as (emu, api):
        emu.add_chat(42)
        emu.inject_error("sendVoice", 502, "Bad Gateway")
        await api.send_voice(42, note, reply_to=None)
        (message,) = emu.messages(42)
        assert api.counters().retries == 1
    assert message.file is not None
    assert message.file.data == content  # rewound for the second attempt
    assert [h.closed for h in opened.handles] == [True]


async def test_a_refused_upload_closes_the_file(tmp_path: Path, opened: OpenedNotes) -> None:
    note, _ = voice_file(tmp_path, 10_000)
    async with bridge() as (emu, api):
        emu.add_chat(42)
        emu.inject_error("sendVoice", 400, "Bad Request: wrong file")
        with pytest.raises(TelegramError, match="sendVoice failed"):
            await api.send_voice(42, note, reply_to=None)
    assert [h.closed for h in opened.handles] == [True]


async def test_a_cancelled_upload_closes_the_file(tmp_path: Path, opened: OpenedNotes) -> None:
    note, _ = voice_file(tmp_path, 2_000_000)
    async with bridge() as (emu, api):
        emu.add_chat(42)
        with trio.CancelScope() as scope:
            opened.after_first_read = scope.cancel  # cancelled in the middle of the body
            await api.send_voice(42, note, reply_to=None)
        assert scope.cancelled_caught
        (handle,) = opened.handles
        assert handle.closed
        reads = len(handle.sizes)
        await trio.testing.wait_all_tasks_blocked()  # all that could still read has run
        assert len(handle.sizes) == reads < 2_000_000 // 65536
        assert emu.messages(42) == []


async def test_recording_voice_is_a_chat_action() -> None:
    async with bridge() as (emu, api):
        emu.add_chat(42)
        await api.recording_voice(42)
        assert [(a.chat_id, a.action) for a in emu.chat_actions] == [(42, "record_voice")]


async def test_token_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with bridge(max_retries=1) as (emu, api):
        emu.add_chat(42)
        await api.send_text(42, plain_piece("hi"), reply_to=None)
        emu.inject_error("sendMessage", 500, f"boom {TOKEN}", times=5)
        with pytest.raises(TelegramError) as caught:
            await api.send_text(42, plain_piece("fails"), reply_to=None)
        logging.getLogger("httpx").exception("request to %s failed", emu.base_url + TOKEN)
    assert any("HTTP Request" in record.getMessage() for record in caplog.records)
    secret = TOKEN.partition(":")[2]
    assert secret not in str(caught.value)
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in (record.exc_text or "")


def test_classify() -> None:
    import telegram.error as tg

    assert classify(tg.RetryAfter(3)) is not None
    assert classify(tg.TimedOut()) is not None
    assert classify(tg.NetworkError("Bad Gateway (502)")) is not None
    assert classify(tg.BadRequest("chat not found")) is None
    assert classify(tg.Forbidden("bot was blocked")) is None
