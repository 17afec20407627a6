"""``ChatBackend`` over the real actors: memory, LLM and voice, by their asks.

The turn itself is ``tauro.conversation.run_turn``, the same one Telegram uses;
this module only adds what the web needs around it (history, the voice flag,
and the status report gathered from every actor at once).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from typing import NoReturn

import trio

from tauro.actors.llm import GetLLMStats, LatencyStatistics, LLMStatistics
from tauro.actors.memory import (
    Clear,
    GetContext,
    GetPreferences,
    GetStats,
    PendingTurns,
    SetPreference,
    StoredMessage,
)
from tauro.actors.voice import GetVoiceStatistics
from tauro.actors.web._backend import Health, HistoryEntry
from tauro.actors.web._chat import VoiceClips, WebCounters
from tauro.actors.web._events import Failed, OpenStreams, TurnEvents
from tauro.actors.web._sink import WatchedLLM, WebSink
from tauro.actors.web._status import (
    ActorStatus,
    LatencySummary,
    Scalar,
    StatusReport,
    numeric_fields,
)
from tauro.config import Settings
from tauro.conversation import Asker, TranslatedSink, TurnRefs, persona_prompt, run_turn
from tauro.errors import PersistenceError, TauroError
from tauro.i18n import N_, t
from tauro.runtime import ActorState, Request, SystemStatistics, all_running

__all__ = ["ActorBackend"]

log = logging.getLogger("tauro.web")

STATUS_ASK_TIMEOUT = 2.0  # seconds: a status page must not hang on one busy actor
WEB_CONVERSATION_PREFIX = "web:"
CANNOT_SAVE = N_(
    "The bot cannot save messages right now, so it did not answer. "
    "Your question is still in the box: send it again in a moment."
)
_NOT_YET_UP = frozenset({ActorState.NEW, ActorState.STARTING})
_UP_OR_STARTING = _NOT_YET_UP | {ActorState.RUNNING}
_STORE_FAILED = N_("Your message could not be stored right now; please try again in a moment.")


class ActorBackend:
    def __init__(
        self,
        lookup: Callable[[str], Asker],
        settings: Settings,
        *,
        clips: VoiceClips,
        counters: WebCounters,
        streams: OpenStreams,
        statistics: Callable[[], SystemStatistics | None],
        limiter: trio.CapacityLimiter,
    ) -> None:
        self._lookup = lookup
        self._settings = settings
        self._clips = clips
        self._counters = counters
        self._streams = streams
        self._statistics = statistics
        self._limiter = limiter
        self._started = trio.current_time()

    def _ref(self, name: str) -> Asker | None:
        try:
            return self._lookup(name)
        except KeyError:
            return None  # that actor is not part of this system (e.g. voice disabled)

    def _memory(self) -> Asker:
        memory = self._ref("memory")
        if memory is None:
            raise TauroError("the web app needs the memory actor, which is not in the system")
        return memory

    @property
    def voice_available(self) -> bool:
        return self._settings.voice.enabled and self._ref("voice") is not None

    async def run_turn(
        self,
        conversation: str,
        text: str,
        events: TurnEvents,
        *,
        language: str = "en",
        turn_id: int | None = None,
    ) -> None:
        llm = WatchedLLM(self._ref("llm") or _Missing("llm"))
        refs = TurnRefs(
            memory=self._memory(),
            llm=llm,
            voice=self._ref("voice") if self.voice_available else None,
            context_messages=self._settings.llm.context_messages,
            voice_language=self._settings.voice.language or language,
            language=language,
            system_prompt=persona_prompt(self._settings.llm.system_prompt, language),
        )
        sink = WebSink(
            events, conversation=conversation, llm=llm, clips=self._clips, limiter=self._limiter
        )
        # The turn id makes the question a pending turn until its answer is
        # stored, so an answer cut off by a crash is written at the next start.
        turn_id = turn_id if turn_id is not None else new_turn_id()
        try:
            await run_turn(
                refs, conversation, text, TranslatedSink(sink, language), update_id=turn_id
            )
        except PersistenceError:  # disk full, I/O error, read-only: nothing was answered
            events.emit(Failed("memory_unwritable", t(language, CANNOT_SAVE)))
        except TauroError as error:  # memory refused or an actor is restarting
            log.warning("web.turn.failed", extra={"fields": {"error": type(error).__name__}})
            events.emit(Failed("internal", t(language, _STORE_FAILED)))

    async def pending_turns(self) -> Sequence[tuple[str, int, str]]:
        pending = await self._memory().ask(PendingTurns())
        return [
            (turn.conversation, turn.update_id, turn.content)
            for turn in pending
            if turn.conversation.startswith(WEB_CONVERSATION_PREFIX) and turn.answer is None
        ]

    async def history(self, conversation: str, limit: int) -> Sequence[HistoryEntry]:
        stored = await self._memory().ask(GetContext(conversation, limit))
        return [_entry(message) for message in stored]

    async def clear(self, conversation: str) -> None:
        await self._memory().ask(Clear(conversation))

    async def voice_enabled(self, conversation: str) -> bool:
        preferences = await self._memory().ask(GetPreferences(conversation))
        return self.voice_available and preferences.get("voice") is True

    async def set_voice(self, conversation: str, enabled: bool) -> None:
        await self._memory().ask(SetPreference(conversation, "voice", enabled))

    async def status(self) -> StatusReport:
        answers: dict[str, object] = {}
        async with trio.open_nursery() as nursery:
            for name, message in (
                ("memory", GetStats()),
                ("llm", GetLLMStats()),
                ("voice", GetVoiceStatistics()),
            ):
                nursery.start_soon(self._ask_for_status, name, message, answers)
        return StatusReport(
            uptime_s=trio.current_time() - self._started,
            actors=_actors(self._statistics()),
            llm=_latency(answers.get("llm")),
            memory=_memory_counters(answers.get("memory")),
            voice=numeric_fields(answers.get("voice")),
            web=self._counters.snapshot(self._streams),
        )

    def health(self) -> Health:
        statistics = self._statistics()
        if statistics is None:
            return "unavailable"
        if all_running(statistics):
            return "ok"
        states = {actor.state for actor in statistics.actors}
        return "starting" if states <= _UP_OR_STARTING else "unavailable"

    def memory_loading(self) -> bool:
        return self._starting("memory")

    def _starting(self, name: str) -> bool:
        statistics = self._statistics()
        if statistics is None:
            return False
        try:
            return statistics.actor(name).state in _NOT_YET_UP
        except KeyError:
            return False

    async def _ask_for_status(
        self, name: str, message: Request[object], into: dict[str, object]
    ) -> None:
        ref = self._ref(name)
        if ref is None or self._starting(name):
            return  # an actor still starting (memory loading) would answer only then
        try:
            into[name] = await ref.ask(message, timeout=STATUS_ASK_TIMEOUT)
        except TauroError as error:
            log.info(
                "web.status.unavailable",
                extra={"fields": {"actor": name, "error": type(error).__name__}},
            )


def new_turn_id() -> int:
    """A web question's id in memory (its ``update_id``): random, so ids never
    collide across restarts or clock changes; order is kept by memory, not ids."""
    return secrets.randbits(62)


class _Missing:
    """Stands for an actor the system lacks, so the turn fails with a clear message."""

    def __init__(self, name: str) -> None:
        self._name = name

    async def ask(self, message: Request[object], *, timeout: float | None = None) -> NoReturn:
        raise TauroError(f"the {self._name} actor is not part of this system")


def _entry(message: StoredMessage) -> HistoryEntry:
    return HistoryEntry(message.role, message.content, message.timestamp)


def _actors(statistics: SystemStatistics | None) -> tuple[ActorStatus, ...]:
    if statistics is None:
        return ()
    return tuple(
        ActorStatus(a.name, a.state.value, a.restarts, a.mailbox_depth, a.handled)
        for a in statistics.actors
    )


def _latency(stats: object) -> LatencySummary:
    if not isinstance(stats, LLMStatistics):
        return LatencySummary()
    return LatencySummary(
        first_token=_percentiles(stats.time_to_first_token),
        total=_percentiles(stats.total),
        counters=numeric_fields(stats),
        histograms=stats.histograms,
    )


def _percentiles(latency: LatencyStatistics) -> dict[str, float]:
    if latency.count == 0:
        return {}  # "no answer yet", rather than a misleading 0 s
    return {"p50": latency.p50, "p95": latency.p95, "p99": latency.p99, "max": latency.max}


def _memory_counters(stats: object) -> dict[str, Scalar]:
    counters = numeric_fields(stats)
    counters.pop("conversation_messages", None)  # per conversation; none was asked about
    return counters
