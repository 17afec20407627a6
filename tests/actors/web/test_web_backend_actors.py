"""ActorBackend on small in-test askers: what it asks each actor, and how it copes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from tauro.actors.llm import GetLLMStats, LatencyHistogram, LatencyStatistics, LLMStatistics
from tauro.actors.memory import (
    Append,
    AppendReceipt,
    BeginTurn,
    Clear,
    GetContext,
    GetPreferences,
    GetStats,
    MemoryStatistics,
    SetPreference,
    StoredMessage,
    TurnStart,
)
from tauro.actors.voice import GetVoiceStatistics
from tauro.actors.web import (
    ActorBackend,
    Failed,
    HistoryEntry,
    OpenStreams,
    VoiceClips,
    WebCounters,
)
from tauro.actors.web._events import open_turn_events
from tauro.actors.web._status import render_metrics
from tauro.actors.web.testing import web_bot_settings
from tauro.errors import AskTimeoutError, MemoryStoreError, PersistenceError
from tauro.runtime import ActorState, ActorStatistics, SystemStatistics


class Asker:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[Any] = []

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        self.asked.append(message)
        result = self.answer(message) if callable(self.answer) else self.answer
        if isinstance(result, Exception):
            raise result
        return result


def _backend(
    actors: dict[str, Asker], *, voice: bool = True, statistics: SystemStatistics | None = None
) -> ActorBackend:
    settings = web_bot_settings(Path("unused"), "http://127.0.0.1:1", voice=voice)

    def lookup(name: str) -> Asker:
        return actors[name]  # KeyError: not in this system

    return ActorBackend(
        lookup,
        settings,
        clips=VoiceClips(),
        counters=WebCounters(),
        streams=OpenStreams(),
        statistics=lambda: statistics,
        limiter=trio.CapacityLimiter(1),
    )


MEMORY_STATS = MemoryStatistics(
    conversations=2,
    messages=5,
    conversation_messages=0,
    average_per_conversation=2.5,
    journal_appends=5,
    fsyncs=3,
    snapshots=1,
    bytes_written=900,
    errors=0,
    last_error=None,
    writable=False,
    unwritable_seconds=75.0,
)


async def test_history_clear_and_voice_are_memory_asks() -> None:
    memory = Asker(
        lambda m: {
            GetContext: (StoredMessage("user", "ciao", "2025-11-05T19:52:21"),),
            GetPreferences: {"voice": True},
        }.get(type(m))
    )
    backend = _backend({"memory": memory, "voice": Asker(None)})
    assert list(await backend.history("web:1", 50)) == [
        HistoryEntry("user", "ciao", "2025-11-05T19:52:21")
    ]
    await backend.clear("web:1")
    await backend.set_voice("web:1", False)
    assert await backend.voice_enabled("web:1")
    assert memory.asked[:3] == [
        GetContext("web:1", 50),
        Clear("web:1"),
        SetPreference("web:1", "voice", False),
    ]


async def test_voice_needs_the_setting_and_the_actor() -> None:
    memory = Asker({"voice": True})
    assert _backend({"memory": memory, "voice": Asker(None)}).voice_available
    without_actor = _backend({"memory": memory})
    assert not without_actor.voice_available
    assert not await without_actor.voice_enabled("web:1")  # the stored choice cannot apply
    assert not _backend({"memory": memory, "voice": Asker(None)}, voice=False).voice_available


async def test_status_gathers_every_actor_and_survives_a_silent_one() -> None:
    llm_stats = LLMStatistics(
        provider="ollama",
        base_url="u",
        model="llama3.2",
        max_parallel=2,
        max_parallel_source="llama.cpp /props total_slots",
        completed=4,
        time_to_first_token=LatencyStatistics(count=4, p50=0.1, p95=0.2, p99=0.3, max=0.4),
        histograms=(
            LatencyHistogram(
                kind="first_token",
                provider="ollama",
                model="llama3.2",
                buckets=((0.1, 2), (float("inf"), 4)),
                sum=1.0,
                count=4,
            ),
        ),
    )
    system = SystemStatistics(
        (
            ActorStatistics(
                name="memory",
                supervisor="root",
                state=ActorState.RUNNING,
                restarts=1,
                mailbox_depth=2,
                mailbox_capacity=100,
                handled=9,
                dead_letters=0,
                drops=0,
                failures=1,
                last_error=None,
            ),
        )
    )
    actors = {
        "memory": Asker(MEMORY_STATS),
        "llm": Asker(llm_stats),
        "voice": Asker(AskTimeoutError("voice", "no reply")),
    }
    report = await _backend(actors, statistics=system).status()
    assert [(a.name, a.state, a.restarts, a.mailbox_depth, a.handled) for a in report.actors] == [
        ("memory", "running", 1, 2, 9)
    ]
    assert report.memory["fsyncs"] == 3
    assert "conversation_messages" not in report.memory
    assert (report.memory["writable"], report.memory["unwritable_seconds"]) == (False, 75.0)
    assert report.llm.first_token == {"p50": 0.1, "p95": 0.2, "p99": 0.3, "max": 0.4}
    assert report.llm.total == {}  # no complete answer measured yet
    assert report.llm.counters["completed"] == 4
    assert report.llm.counters["max_parallel"] == 2  # the limit in use, and its source
    assert report.llm.counters["max_parallel_source"] == "llama.cpp /props total_slots"
    assert report.llm.histograms == llm_stats.histograms
    metrics = render_metrics(report).decode()
    assert "tauro_llm_max_parallel 2.0" in metrics
    assert 'tauro_llm_first_token_seconds_count{model="llama3.2",provider="ollama"} 4.0' in metrics
    assert report.voice == {}
    assert actors["memory"].asked == [GetStats()]
    assert actors["llm"].asked == [GetLLMStats()]
    assert actors["voice"].asked == [GetVoiceStatistics()]


def _memory_that_fails(error: Exception) -> Asker:
    def reply(message: object) -> object:
        return error if isinstance(message, BeginTurn | Append) else None

    return Asker(reply)


async def test_a_memory_that_cannot_record_keeps_the_question_on_the_page() -> None:
    memory = _memory_that_fails(PersistenceError("memory/x.json", "No space left on device"))
    llm = Asker(None)
    backend = _backend({"memory": memory, "llm": llm})
    events, receive = open_turn_events()
    await backend.run_turn("web:1", "ciao", events)
    event = receive.receive_nowait()
    assert isinstance(event, Failed)
    assert event.kind == "memory_unwritable"
    assert "cannot save" in event.message
    assert "memory/x.json" not in event.message
    assert llm.asked == []  # no answer for a question that is not recorded
    events, receive = open_turn_events()
    await backend.run_turn("web:1", "ciao", events, language="it")
    italian = receive.receive_nowait()
    assert isinstance(italian, Failed)
    assert italian.message.startswith("Il bot non riesce a salvare i messaggi")


async def test_another_memory_failure_becomes_a_safe_failed_event() -> None:
    memory = _memory_that_fails(MemoryStoreError("memory/x.json", "memory is closed"))
    backend = _backend({"memory": memory, "llm": Asker(None)})
    events, receive = open_turn_events()
    await backend.run_turn("web:1", "ciao", events)
    event = receive.receive_nowait()
    assert isinstance(event, Failed)
    assert event.kind == "internal"
    assert "memory/x.json" not in event.message


def _memory_that_stores() -> Asker:
    replies = {BeginTurn: TurnStart("new"), Append: AppendReceipt(1)}
    return Asker(lambda message: replies[type(message)])


async def test_a_system_without_an_llm_fails_the_turn_clearly() -> None:
    events, receive = open_turn_events()
    await _backend({"memory": _memory_that_stores()}).run_turn("web:1", "ciao", events)
    event = receive.receive_nowait()
    assert isinstance(event, Failed)
    assert event.kind == "internal"


def _states(**states: ActorState) -> SystemStatistics:
    return SystemStatistics(
        tuple(
            ActorStatistics(name, "root", state, 0, 0, 100, 0, 0, 0, 0, None)
            for name, state in states.items()
        )
    )


async def test_health_says_starting_while_actors_start_and_none_is_down() -> None:
    def health(statistics: SystemStatistics | None) -> tuple[str, bool]:
        backend = _backend({}, statistics=statistics)
        return backend.health(), backend.memory_loading()

    running, starting = ActorState.RUNNING, ActorState.STARTING
    assert health(_states(memory=running, web=running)) == ("ok", False)
    assert health(_states(memory=starting, llm=starting, web=running)) == ("starting", True)
    assert health(_states(memory=running, telegram=ActorState.NEW)) == ("starting", False)
    assert health(_states(memory=starting, llm=ActorState.RESTARTING)) == ("unavailable", True)
    assert health(_states(memory=ActorState.STOPPING)) == ("unavailable", False)
    assert health(None) == ("unavailable", False)


async def test_the_status_does_not_wait_for_an_actor_still_starting() -> None:
    memory = Asker(MEMORY_STATS)
    statistics = _states(memory=ActorState.STARTING, web=ActorState.RUNNING)
    backend = _backend({"memory": memory}, statistics=statistics)
    report = await backend.status()
    assert memory.asked == []  # its preparation would hold the ask (the page) until done
    assert (report.actors[0].name, report.actors[0].state) == ("memory", "starting")
