"""VoiceActor: answers ``Synthesize`` with an OGG/Opus ``VoiceNote``.

The actor itself only plans and keeps books: it prepares the text, picks the
voice, looks in the cache, and hands the job to a worker process
(``_workers``). Nothing slow runs on the event loop. ``batch_size`` is
TTS_WORKERS, so up to that many requests waiting together run side by side.

A worker that dies or hangs mid-job is an engine crash: the request gets a
``VoiceError`` and then the actor fails on purpose, so its supervisor restarts
it with fresh workers and an empty folder, and the next voice works. Requests
that merely cannot be spoken (nothing to read, espeak-ng missing) get a
``VoiceError`` and the actor carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import outcome
import trio

from tauro.actors.voice._cache import CachedAudio, NoteCache, cache_key
from tauro.actors.voice._engine import VoiceChoice, VoiceInfo, choose_voice
from tauro.actors.voice._messages import (
    ChooseVoice,
    GetVoiceStatistics,
    Synthesize,
    VoiceMessage,
    VoiceNote,
    VoiceStatistics,
)
from tauro.actors.voice._speechtext import prepare_speech
from tauro.actors.voice._store import NoteStore, default_directory
from tauro.actors.voice._workers import WORKER_COMMAND, Job, JobDone, JobFailed, WorkerPool
from tauro.config import VoiceSettings
from tauro.errors import VoiceError
from tauro.runtime import Actor

log = logging.getLogger("tauro.voice")

JOB_TIMEOUT_BASE = 30.0  # seconds a job may take, plus JOB_TIMEOUT_PER_CHAR per character
JOB_TIMEOUT_PER_CHAR = 0.02  # seconds; measured cost is about 1 ms per character
EXPIRE_INTERVAL = 60.0  # seconds between looks for notes nobody discarded


class VoiceActor(Actor[VoiceMessage]):
    """Speech synthesis with pyttsx3 on espeak-ng, in TTS_WORKERS worker processes."""

    def __init__(
        self,
        settings: VoiceSettings,
        *,
        directory: Path | None = None,
        worker_command: Sequence[str] = WORKER_COMMAND,
    ) -> None:
        self._settings = settings
        self.batch_size = settings.workers
        self._store = NoteStore(directory or default_directory())
        self._pool = WorkerPool(settings.workers, worker_command)
        self._cache = NoteCache(settings.cache_entries)
        self._voices: tuple[VoiceInfo, ...] | None = None
        self._fallbacks_logged: set[str] = set()
        self._crash: VoiceError | None = None
        self._syntheses = self._cache_hits = self._failures = 0

    async def on_start(self) -> None:
        removed = await self._store.open()
        if removed:
            log.info("voice.leftovers.removed", extra={"fields": {"files": removed}})
        self.context.start_soon(self._warm_up)
        self.context.start_soon(self._expire_forever)

    async def on_stop(self) -> None:
        await self._pool.aclose()
        await self._store.sweep()

    async def handle(self, message: VoiceMessage) -> object:
        if isinstance(message, GetVoiceStatistics):
            return self.statistics()
        (result,) = await self.handle_batch([message])
        return result.unwrap()

    async def handle_batch(self, messages: Sequence[VoiceMessage]) -> list[outcome.Outcome[object]]:
        results: list[outcome.Outcome[object]] = [outcome.Value(None)] * len(messages)
        async with trio.open_nursery() as nursery:
            for index, message in enumerate(messages):
                nursery.start_soon(self._answer_into, results, index, message)
        if self._crash is not None:
            self.context.start_soon(self._fail, self._crash)  # after the replies are set
        return results

    def statistics(self) -> VoiceStatistics:
        return VoiceStatistics(
            syntheses=self._syntheses,
            cache_hits=self._cache_hits,
            failures=self._failures,
            engine_crashes=self._pool.crashes,
            workers_running=len(self._pool.pids),
            worker_pids=self._pool.pids,
            notes_outstanding=self._store.outstanding,
        )

    async def _answer_into(
        self, results: list[outcome.Outcome[object]], index: int, message: VoiceMessage
    ) -> None:
        try:
            if isinstance(message, GetVoiceStatistics):
                results[index] = outcome.Value(self.statistics())
            elif isinstance(message, ChooseVoice):
                results[index] = outcome.Value(await self._choice(message.language))
            else:
                results[index] = outcome.Value(await self._synthesize(message))
        except VoiceError as error:
            self._failures += 1
            log.warning("voice.synthesis.failed", extra={"fields": {"error": str(error)}})
            results[index] = outcome.Error(error)

    async def _synthesize(self, message: Synthesize) -> VoiceNote:
        language = message.language or self._settings.language
        text = prepare_speech(message.text, language, self._settings.max_chars)
        if not text:
            raise VoiceError("the answer has nothing to read aloud (only code, links or emoji)")
        voice = await self._voice_for(language)
        key = cache_key(text, voice.id, self._settings.rate, self._settings.volume)
        cached = await self._from_cache(key)
        if cached is not None:
            self._cache_hits += 1
            return cached
        return await self._make(text, voice, key)

    async def _choice(self, language: str) -> VoiceChoice:
        if self._voices is None:
            self._voices = await self._pool.voices()
        return choose_voice(self._voices, language)

    async def _voice_for(self, language: str) -> VoiceInfo:
        choice = await self._choice(language)
        if not choice.exact and choice.language not in self._fallbacks_logged:
            self._fallbacks_logged.add(choice.language)
            log.warning(
                "voice.language.fallback",
                extra={"fields": {"language": choice.language, "voice": choice.voice.id}},
            )
        return choice.voice

    async def _from_cache(self, key: str) -> VoiceNote | None:
        item = self._cache.get(key)
        if item is None:
            return None
        _, path = self._store.new_job()
        if not await self._store.link(item.path, path):
            self._cache.forget(key)
            return None
        if not await self._store.verify(path, item.size):  # never send what we did not make
            log.warning("voice.cache.rejected", extra={"fields": {"file": str(item.path)}})
            self._cache.forget(key)
            await self._store.remove([path, item.path])
            return None
        self._store.issue(path)
        return VoiceNote(path, item.duration_seconds, item.size)

    async def _make(self, text: str, voice: VoiceInfo, key: str) -> VoiceNote:
        wav, ogg = self._store.new_job()
        job = Job(text, voice.id, self._settings.rate, self._settings.volume, wav, ogg)
        made = False
        try:
            result = await self._pool.run(job, JOB_TIMEOUT_BASE + JOB_TIMEOUT_PER_CHAR * len(text))
            made = isinstance(result, JobDone)
        finally:
            if not made:  # failed or cancelled: leave nothing behind
                await self._store.remove([wav, ogg])
        if isinstance(result, JobFailed):
            self._note_failure(result)
            raise VoiceError(f"speech synthesis failed: {result.reason}")
        self._syntheses += 1
        self._store.issue(ogg)
        await self._remember(key, ogg, result)
        return VoiceNote(ogg, result.duration_seconds, result.size)

    def _note_failure(self, failure: JobFailed) -> None:
        if failure.engine_crashed and self._crash is None:
            log.error("voice.engine.crashed", extra={"fields": {"error": failure.reason}})
            self._crash = VoiceError(f"the speech engine crashed: {failure.reason}")

    async def _remember(self, key: str, ogg: Path, done: JobDone) -> None:
        if not self._cache.enabled:
            return
        path = self._store.cache_path(key)
        if await self._store.put_in_cache(ogg, path):
            evicted = self._cache.put(key, CachedAudio(path, done.duration_seconds, done.size))
            await self._store.remove(item.path for item in evicted)

    async def _warm_up(self) -> None:
        """Start a worker now, so the first voice note does not wait for one."""
        try:
            voice = await self._voice_for(self._settings.language)
        except VoiceError as error:
            log.error("voice.engine.unavailable", extra={"fields": {"error": str(error)}})
            return
        fields = {"voice": voice.id, "library": self._pool.library, "workers": self.batch_size}
        log.info("voice.ready", extra={"fields": fields})

    async def _expire_forever(self) -> None:
        while True:
            await trio.sleep(EXPIRE_INTERVAL)
            expired = await self._store.expire()
            if expired:
                log.info("voice.notes.expired", extra={"fields": {"notes": expired}})

    @staticmethod
    async def _fail(error: VoiceError) -> None:
        raise error
