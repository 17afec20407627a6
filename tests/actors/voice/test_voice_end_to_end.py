"""Voice answers end to end: the real python-telegram-bot against the Bot API
emulator, the LLM emulator, the real memory, LLM, voice and Telegram actors, and
real espeak-ng workers. Real sockets and processes, so trio's real clock."""

from __future__ import annotations

import math
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio
from voice_audio import Audio

from tauro.actors.llm import LLMActor
from tauro.actors.memory import memory_actor_spec
from tauro.actors.telegram import TelegramActor
from tauro.actors.voice import GetVoiceStatistics, VoiceActor, VoiceStatistics
from tauro.config import LLMSettings, MemorySettings, Settings, TelegramSettings, VoiceSettings
from tauro.conversation import NO_VOICE
from tauro.runtime import ActorSpec, ActorSystem, SupervisorSpec, open_actor_system
from tauro.testing import BotApiEmulator, BotMessage, open_botapi_emulator, open_llm_server

CHAT = 42
QUESTION = "raccontami qualcosa sui tori che vivono in montagna e sul loro carattere"
ANSWER = f"Echo: {QUESTION}"  # what the LLM emulator answers by default


@dataclass
class Bot:
    emu: BotApiEmulator
    system: ActorSystem

    def final_texts(self) -> list[str]:
        return [m.text for m in self.emu.messages(CHAT) if m.kind == "text" and m.text != "…"]

    def voices(self) -> list[BotMessage]:
        return [m for m in self.emu.messages(CHAT) if m.kind == "voice"]

    async def say(self, text: str, *, voices: int, texts: int) -> None:
        """Send ``text``, then wait until the chat holds that many voices and texts."""
        self.emu.push_message(CHAT, text)
        await self.emu.wait_for(
            lambda: len(self.voices()) >= voices and len(self.final_texts()) >= texts, 30
        )

    async def voice_statistics(self) -> VoiceStatistics:
        stats = await self.system.ref("voice").ask(GetVoiceStatistics())
        assert isinstance(stats, VoiceStatistics)
        return stats


def make_settings(tmp_path: Path, emu: BotApiEmulator, llm_url: str) -> Settings:
    return Settings(
        telegram=TelegramSettings(
            token=emu.token,
            api_base_url=emu.base_url,
            poll_timeout=1.0,
            request_timeout=5.0,
            edit_interval=0.1,
            max_retries=3,
        ),
        llm=LLMSettings(host=llm_url, model="llama3.2"),
        memory=MemorySettings(file=tmp_path / "memory" / "conversations.json"),
        voice=VoiceSettings(language="it"),
    )


def system_spec(settings: Settings, voice_folder: Path) -> SupervisorSpec:
    voice = ActorSpec(
        name="voice", factory=lambda: VoiceActor(settings.voice, directory=voice_folder)
    )
    telegram = ActorSpec(name="telegram", factory=lambda: TelegramActor(settings, voice="voice"))
    llm = ActorSpec(name="llm", factory=lambda: LLMActor(settings.llm))
    return SupervisorSpec(
        name="root", children=(memory_actor_spec(settings.memory), llm, voice, telegram)
    )


@asynccontextmanager
async def emulators(tmp_path: Path) -> AsyncIterator[tuple[BotApiEmulator, Settings]]:
    async with open_botapi_emulator() as emu, open_llm_server() as llm:
        yield emu, make_settings(tmp_path, emu, llm.url)


@asynccontextmanager
async def running(emu: BotApiEmulator, settings: Settings, folder: Path) -> AsyncIterator[Bot]:
    async with open_actor_system(system_spec(settings, folder)) as system:
        yield Bot(emu, system)


def assert_voice_note(message: BotMessage, text: str, folder: Path, audio: Audio) -> None:
    """Uploaded as a file (multipart), valid Ogg/Opus speech, with its duration."""
    assert message.file is not None
    assert message.file.data is not None  # the bytes came in the request, not a file_id
    path = folder / f"received-{message.message_id}.ogg"
    path.write_bytes(message.file.data)
    ogg = audio.assert_speech(path, text)
    assert message.raw["voice"]["duration"] == math.ceil(ogg.decoded_seconds)


def answer_shown(bot: Bot) -> float:
    """When the answer's text reached its final form (the last text message's last edit)."""
    answer = [m for m in bot.emu.messages(CHAT) if m.kind == "text"][-1]
    return answer.times[-1]


def assert_recording_shown_between(emu: BotApiEmulator, after: float, before: float) -> None:
    """ "record_voice" went out once the text was complete and before the voice note."""
    recordings = [a.time for a in emu.chat_actions if a.action == "record_voice"]
    assert recordings, [a.action for a in emu.chat_actions]
    assert after <= recordings[0] <= before


def assert_uploaded_whole(message: BotMessage, folder: Path) -> None:
    """The bytes the emulator received are exactly the note's file (the cache keeps a link)."""
    assert message.file is not None
    assert message.file.mime_type == "audio/ogg"
    cached = [path.read_bytes() for path in (folder / "cache").glob("*.ogg")]
    assert message.file.data in cached


async def test_with_voice_on_the_answer_comes_as_text_then_as_a_voice_note(
    tmp_path: Path, audio: Audio
) -> None:
    folder = tmp_path / "voice"
    async with emulators(tmp_path) as (emu, settings), running(emu, settings, folder) as bot:
        await bot.say("/voice on", voices=0, texts=1)
        await bot.say(QUESTION, voices=1, texts=2)
        kinds = [m.kind for m in emu.messages(CHAT) if m.text != "…"]
        assert kinds == ["text", "text", "voice"]  # the text first, then its voice
        assert bot.final_texts()[1] == ANSWER
        (voice,) = bot.voices()
        assert_voice_note(voice, ANSWER, tmp_path, audio)
        assert len(emu.calls_of("sendVoice")) == 1
        assert_recording_shown_between(emu, answer_shown(bot), voice.times[0])
        assert_uploaded_whole(voice, folder)
        assert (await bot.voice_statistics()).notes_outstanding in (0, 1)
    assert [p.name for p in folder.glob("*.ogg")] == []  # nothing left once stopped


async def test_voice_stays_off_until_asked(tmp_path: Path) -> None:
    async with (
        emulators(tmp_path) as (emu, settings),
        running(emu, settings, tmp_path / "v") as bot,
    ):
        await bot.say("ciao", voices=0, texts=1)
        await bot.say("/voice", voices=0, texts=2)  # toggles it on
        await bot.say("di nuovo ciao", voices=1, texts=3)
        await bot.say("/voice off", voices=1, texts=4)
        await bot.say("ultima", voices=1, texts=5)
        assert len(bot.voices()) == 1


async def test_the_voice_setting_survives_a_restart(tmp_path: Path, audio: Audio) -> None:
    folder = tmp_path / "voice"
    async with emulators(tmp_path) as (emu, settings):
        async with running(emu, settings, folder) as bot:
            await bot.say("/voice on", voices=0, texts=1)
        async with running(emu, settings, folder) as bot:
            await bot.say(QUESTION, voices=1, texts=2)
            assert_voice_note(bot.voices()[0], ANSWER, tmp_path, audio)


async def test_after_an_engine_crash_the_text_still_arrives_and_the_next_voice_works(
    tmp_path: Path, audio: Audio
) -> None:
    async with (
        emulators(tmp_path) as (emu, settings),
        running(emu, settings, tmp_path / "voice") as bot,
    ):
        await bot.say("/voice on", voices=0, texts=1)
        while not (stats := await bot.voice_statistics()).worker_pids:  # noqa: ASYNC110
            await trio.sleep(0.01)
        os.kill(stats.worker_pids[0], signal.SIGKILL)  # the idle worker dies
        await bot.say("prima domanda", voices=0, texts=3)  # the answer, then the note
        with trio.fail_after(30):
            while bot.system.statistics().actor("voice").restarts < 1:  # noqa: ASYNC110
                await trio.sleep(0.01)
        assert bot.final_texts()[1:] == ["Echo: prima domanda", f"({NO_VOICE})"]
        assert bot.voices() == []
        await bot.say(QUESTION, voices=1, texts=4)
        assert_voice_note(bot.voices()[0], ANSWER, tmp_path, audio)
        assert len(bot.final_texts()) == 4  # no note when the voice works
