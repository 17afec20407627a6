"""VoiceActor in a real actor system, with real espeak-ng worker processes."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import outcome
import pytest
import trio
import trio.testing
from voice_audio import Audio, italian_text

from tauro.actors.voice import (
    GetVoiceStatistics,
    Synthesize,
    VoiceActor,
    VoiceNote,
    VoiceStatistics,
)
from tauro.actors.voice._actor import EXPIRE_INTERVAL
from tauro.actors.voice._store import NOTE_LIFETIME
from tauro.config import VoiceSettings
from tauro.errors import VoiceError
from tauro.runtime import ActorRef, ActorSpec, ActorSystem, SupervisorSpec, open_actor_system
from tauro.runtime.testing import ProbeActor


def voice_files(folder: Path) -> list[str]:
    """Every voice file, cached ones included."""
    return sorted(p.name for p in folder.rglob("*") if p.suffix in {".ogg", ".wav"})


def note_files(folder: Path) -> list[str]:
    """Voice files outside the cache: scratch files and notes handed out."""
    return sorted(p.name for p in folder.glob("*") if p.suffix in {".ogg", ".wav"})


async def wait_until(condition: Callable[[], Awaitable[bool]]) -> None:
    with trio.fail_after(30):
        while not await condition():  # noqa: ASYNC110  (another process does the work)
            await trio.sleep(0.01)


@asynccontextmanager
async def voice_system(
    settings: VoiceSettings, folder: Path, *others: ActorSpec, **spec: Any
) -> AsyncIterator[ActorSystem]:
    voice = ActorSpec(name="voice", factory=lambda: VoiceActor(settings, directory=folder), **spec)
    root = SupervisorSpec(name="root", children=(voice, *others), max_restarts=3)
    async with open_actor_system(root) as system:
        yield system


async def statistics(ref: ActorRef[Any]) -> VoiceStatistics:
    stats = await ref.ask(GetVoiceStatistics())
    assert isinstance(stats, VoiceStatistics)
    return stats


async def warm_worker(ref: ActorRef[Any]) -> int:
    """The pid of the worker the actor starts by itself, once it is ready."""

    async def started() -> bool:
        return bool((await statistics(ref)).worker_pids)

    await wait_until(started)
    return (await statistics(ref)).worker_pids[0]


async def speak(ref: ActorRef[Any], text: str, language: str | None = None) -> VoiceNote:
    note = await ref.ask(Synthesize(text, language), timeout=60)
    assert isinstance(note, VoiceNote)
    return note


async def ask_into(ref: ActorRef[Any], message: object, box: list[outcome.Outcome[Any]]) -> None:
    box.append(await outcome.acapture(ref.ask, message, timeout=60))


async def test_an_answer_becomes_a_valid_voice_note_of_plausible_length(
    tmp_path: Path, voice_settings: VoiceSettings, audio: Audio
) -> None:
    text = italian_text(400)
    async with voice_system(voice_settings, tmp_path) as system:
        note = await speak(system.ref("voice"), text)
        assert note.path.parent == tmp_path
        ogg = audio.assert_speech(note.path, text, rate=voice_settings.rate)
        assert note.duration_seconds == ogg.decoded_seconds
        assert note.size == note.path.stat().st_size
        note.discard()
        assert note_files(tmp_path) == []


async def test_markdown_and_emoji_are_not_read_out(
    tmp_path: Path, voice_settings: VoiceSettings, audio: Audio
) -> None:
    plain = "Ecco la risposta. Buona giornata."
    marked = "**Ecco** la [risposta](https://example.com/x/y/z). 🎉🎉🎉 _Buona_ giornata!!!"
    async with voice_system(voice_settings, tmp_path) as system:
        with (
            await speak(system.ref("voice"), plain) as a,
            await speak(system.ref("voice"), marked) as b,
        ):
            seconds = audio.inspect(a.path).decoded_seconds, audio.inspect(b.path).decoded_seconds
    assert seconds[1] == pytest.approx(seconds[0], abs=0.5)


async def test_a_long_answer_is_capped(tmp_path: Path, audio: Audio) -> None:
    settings = VoiceSettings(language="it", max_chars=120)
    async with voice_system(settings, tmp_path) as system:
        with await speak(system.ref("voice"), italian_text(2000)) as note:
            seconds = audio.inspect(note.path).decoded_seconds
    assert seconds < 20  # the whole text would take over two minutes


async def test_the_voice_follows_the_language_and_a_missing_one_falls_back_once(
    tmp_path: Path, voice_settings: VoiceSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tauro.voice")
    async with voice_system(voice_settings, tmp_path) as system:
        ref = system.ref("voice")
        (await speak(ref, "Good morning, this is English.", "en")).discard()
        for _ in range(2):
            (await speak(ref, "Bonjour.", "xx")).discard()
    fallbacks = [r for r in caplog.records if r.getMessage() == "voice.language.fallback"]
    assert len(fallbacks) == 1
    assert fallbacks[0].fields == {"language": "xx", "voice": "gmw/en"}  # type: ignore[attr-defined]


async def test_identical_text_in_the_same_voice_comes_from_the_cache(
    tmp_path: Path, voice_settings: VoiceSettings, audio: Audio
) -> None:
    async with voice_system(voice_settings, tmp_path) as system:
        ref = system.ref("voice")
        first = await speak(ref, "Ciao, ben tornato.")
        second = await speak(ref, "Ciao, ben tornato.")
        other_voice = await speak(ref, "Ciao, ben tornato.", "en")
        stats = await statistics(ref)
        assert (stats.syntheses, stats.cache_hits) == (2, 1)
        assert first.path != second.path
        first.discard()  # the caller's copy goes; the cached audio stays good
        assert audio.inspect(second.path).decoded_seconds == first.duration_seconds
        second.discard()
        other_voice.discard()


async def test_without_a_cache_every_request_is_synthesised(tmp_path: Path) -> None:
    settings = VoiceSettings(language="it", cache_entries=0)
    async with voice_system(settings, tmp_path) as system:
        ref = system.ref("voice")
        for _ in range(2):
            (await speak(ref, "Ciao.")).discard()
        stats = await statistics(ref)
        assert (stats.syntheses, stats.cache_hits) == (2, 0)
        assert voice_files(tmp_path) == []


async def test_nothing_to_say_is_a_voice_error_and_the_actor_goes_on(
    tmp_path: Path, voice_settings: VoiceSettings
) -> None:
    async with voice_system(voice_settings, tmp_path) as system:
        ref = system.ref("voice")
        with pytest.raises(VoiceError, match="nothing to read aloud"):
            await ref.ask(Synthesize("🎉🎉🎉"))
        (await speak(ref, "Eccomi.")).discard()
        assert (await statistics(ref)).failures == 1


async def test_leftovers_are_swept_at_start_and_everything_at_stop(
    tmp_path: Path, voice_settings: VoiceSettings, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cache").mkdir(mode=0o700)
    for name in ("note-old-1.wav", "note-old-2.ogg", "cache/abc.ogg"):
        (tmp_path / name).write_bytes(b"left by a crash")
    caplog.set_level(logging.INFO, logger="tauro.voice")
    async with voice_system(voice_settings, tmp_path) as system:
        assert voice_files(tmp_path) == []
        (swept,) = [r for r in caplog.records if r.getMessage() == "voice.leftovers.removed"]
        assert swept.fields == {"files": 3}  # type: ignore[attr-defined]
        await speak(system.ref("voice"), "Questa nota non viene mai scartata.")
        assert len(voice_files(tmp_path)) == 2  # the note and its cached copy
    assert voice_files(tmp_path) == []


async def test_a_note_nobody_discards_is_removed_after_its_lifetime(
    tmp_path: Path,
    voice_settings: VoiceSettings,
    mock_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tauro.voice")
    mock_clock.rate = 1.0  # real worker processes need time to pass
    settings = VoiceSettings(language="it", cache_entries=0)
    async with voice_system(settings, tmp_path) as system:
        note = await speak(system.ref("voice"), "Nessuno mi invierà.")
        mock_clock.jump(NOTE_LIFETIME + EXPIRE_INTERVAL)

        async def removed() -> bool:
            logged = any(r.getMessage() == "voice.notes.expired" for r in caplog.records)
            return logged and not note.path.exists()

        await wait_until(removed)
        assert (await statistics(system.ref("voice"))).notes_outstanding == 0
    assert voice_files(tmp_path) == []


async def test_stopping_mid_synthesis_leaves_no_file_and_no_worker(
    tmp_path: Path, voice_settings: VoiceSettings
) -> None:
    replies: list[outcome.Outcome[Any]] = []
    async with (
        trio.open_nursery() as nursery,
        voice_system(voice_settings, tmp_path, stop_timeout=0.01) as system,
    ):
        ref = system.ref("voice")
        pid = await warm_worker(ref)
        nursery.start_soon(ask_into, ref, Synthesize(italian_text(1000)), replies)
        await trio.testing.wait_all_tasks_blocked()  # the job is with the worker
    with pytest.raises(Exception, match="stopped while handling"):
        replies[0].unwrap()
    assert voice_files(tmp_path) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_an_engine_crash_fails_that_request_and_the_next_voice_works(
    tmp_path: Path, voice_settings: VoiceSettings, audio: Audio
) -> None:
    replies: list[outcome.Outcome[Any]] = []
    async with voice_system(voice_settings, tmp_path) as system:
        ref = system.ref("voice")
        pid = await warm_worker(ref)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_into, ref, Synthesize(italian_text(1000)), replies)
            await trio.testing.wait_all_tasks_blocked()
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(VoiceError, match="crashed|died"):
            replies[0].unwrap()
        text = "Sono di nuovo qui."
        with await speak(ref, text) as note:  # served by the restarted actor
            audio.assert_speech(note.path, text)
        assert system.statistics().actor("voice").restarts == 1
        assert pid not in (await statistics(ref)).worker_pids


async def test_other_actors_keep_answering_during_a_long_synthesis(
    tmp_path: Path, voice_settings: VoiceSettings
) -> None:
    probe = ProbeActor(reply=lambda message: message)
    echo = ActorSpec(name="echo", factory=lambda: probe)
    settings = VoiceSettings(language="it", max_chars=1000)
    answered = 0
    async with voice_system(settings, tmp_path, echo) as system:
        await warm_worker(system.ref("voice"))
        async with trio.open_nursery() as nursery:
            done = trio.Event()

            async def synthesise() -> None:
                (await speak(system.ref("voice"), italian_text(1000))).discard()
                done.set()

            nursery.start_soon(synthesise)
            while not done.is_set():
                assert await system.ref("echo").ask(answered) == answered
                answered += 1
                await trio.sleep(0.005)  # paces the asks; the synthesis takes ~100 of these
    assert answered >= 20


async def test_two_workers_speak_two_answers_at_once(tmp_path: Path, audio: Audio) -> None:
    settings = VoiceSettings(language="it", workers=2, cache_entries=0)
    replies: list[outcome.Outcome[Any]] = []
    async with voice_system(settings, tmp_path) as system:
        ref = system.ref("voice")
        await warm_worker(ref)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_into, ref, Synthesize(italian_text(300)), replies)
            await trio.testing.wait_all_tasks_blocked()  # the actor is busy with the first
            for n in (600, 700):  # so these two wait together and make one batch
                nursery.start_soon(ask_into, ref, Synthesize(italian_text(n)), replies)
        notes = [reply.unwrap() for reply in replies]
        # one worker was enough for the first; the batch of two needed a second one
        assert len((await statistics(ref)).worker_pids) == 2
        for note in notes:
            audio.inspect(note.path)
            note.discard()


def mode(path: Path) -> int:
    return os.lstat(path).st_mode & 0o777


async def test_notes_and_cached_notes_are_0600_in_0700_folders(
    tmp_path: Path, voice_settings: VoiceSettings
) -> None:
    folder = tmp_path / "voice" / "notes"
    async with voice_system(voice_settings, folder) as system:
        note = await speak(system.ref("voice"), "Solo per te.")
        cached = list((folder / "cache").glob("*.ogg"))
        assert len(cached) == 1
        assert [mode(p) for p in (tmp_path / "voice", folder, folder / "cache")] == [0o700] * 3
        assert mode(note.path) == mode(cached[0]) == 0o600
        note.discard()


@pytest.mark.parametrize("planted", ["other size", "same size, not Ogg"])
async def test_a_planted_cache_file_is_never_sent(
    tmp_path: Path,
    voice_settings: VoiceSettings,
    audio: Audio,
    planted: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with voice_system(voice_settings, tmp_path) as system:
        ref = system.ref("voice")
        first = await speak(ref, "Ciao, ben tornato.")
        (cached,) = (tmp_path / "cache").glob("*.ogg")
        size = cached.stat().st_size
        cached.unlink()  # someone swaps the entry for audio of their own
        fake = b"OggS" + b"x" * 100 if planted == "other size" else b"RIFF" + b"x" * (size - 4)
        cached.write_bytes(fake)
        second = await speak(ref, "Ciao, ben tornato.")
        stats = await statistics(ref)
        assert (stats.syntheses, stats.cache_hits) == (2, 0)  # made anew, not sent from cache
        assert second.path.read_bytes() != fake
        assert audio.inspect(second.path).decoded_seconds == second.duration_seconds > 1
        assert "voice.cache.rejected" in caplog.text
        third = await speak(ref, "Ciao, ben tornato.")  # the new entry is the bot's own
        assert (await statistics(ref)).cache_hits == 1
        for note in (first, second, third):
            note.discard()
