"""Shared pieces of the web tests: a recording fake backend and a real server on port 0."""

from __future__ import annotations

import contextlib
import shutil
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.lowlevel

from tauro.actors.web import (
    PWA_ROOT,
    Delta,
    Done,
    Failed,
    Health,
    HistoryEntry,
    OpenStreams,
    StaticFiles,
    StatusReport,
    TurnEvents,
    TurnRunner,
    VoiceClips,
    WebAuth,
    WebCounters,
    WebState,
    build_app,
    serve_app,
)
from tauro.actors.web.testing import TEST_SECRET, open_web_bot, web_bot_settings

SECRET = TEST_SECRET


@dataclass
class FakeBackend:
    """A ChatBackend that answers with fixed words and records every call."""

    words: Sequence[str] = ("Hello", ", ", "world")
    fail: Failed | None = None
    hold: trio.Event | None = None  # a turn waits for it before answering
    crash: bool = False  # run_turn raises, as a bug would
    entered: trio.Event = field(default_factory=trio.Event)  # a turn has begun
    calls: list[tuple[str, Any]] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)  # of each run_turn
    stored: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    voice: dict[str, bool] = field(default_factory=dict)
    voice_available: bool = True
    report: StatusReport = field(default_factory=lambda: StatusReport(uptime_s=1.0))
    up: bool = True  # every actor running
    loading: bool = False  # the memory still loading (health says "starting")

    async def run_turn(
        self,
        conversation: str,
        text: str,
        events: TurnEvents,
        *,
        language: str = "en",
        turn_id: int | None = None,
    ) -> None:
        self.calls.append(("run_turn", (conversation, text)))
        self.languages.append(language)
        self.entered.set()
        self._store(conversation, "user", text)
        if self.crash:
            raise RuntimeError("boom")
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            events.emit(self.fail)
            return
        for word in self.words:
            events.emit(Delta(word))
            await trio.lowlevel.checkpoint()
        answer = "".join(self.words)
        self._store(conversation, "assistant", answer)
        events.emit(Done(answer))

    def _store(self, conversation: str, role: str, content: str) -> None:
        entry = HistoryEntry(role, content, "2025-11-05T19:52:21")
        self.stored.setdefault(conversation, []).append(entry)

    async def pending_turns(self) -> Sequence[tuple[str, int, str]]:
        return []

    async def history(self, conversation: str, limit: int) -> Sequence[HistoryEntry]:
        self.calls.append(("history", conversation))
        return self.stored.get(conversation, [])[-limit:]

    async def clear(self, conversation: str) -> None:
        self.calls.append(("clear", conversation))
        self.stored.pop(conversation, None)

    async def voice_enabled(self, conversation: str) -> bool:
        return self.voice.get(conversation, False)

    async def set_voice(self, conversation: str, enabled: bool) -> None:
        self.calls.append(("set_voice", (conversation, enabled)))
        self.voice[conversation] = enabled

    async def status(self) -> StatusReport:
        self.calls.append(("status", None))
        return self.report

    def health(self) -> Health:
        if self.loading:
            return "starting"
        return "ok" if self.up else "unavailable"

    def memory_loading(self) -> bool:
        return self.loading

    @property
    def turn_calls(self) -> list[Any]:
        return [args for name, args in self.calls if name in ("run_turn", "clear", "set_voice")]


@dataclass
class RunningWeb:
    url: str
    state: WebState
    backend: FakeBackend
    shutdown: trio.Event

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)

    @contextlib.asynccontextmanager
    async def logged_in(self) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as client:
            response = await client.post("/api/login", json={"token": SECRET})
            assert response.status_code == 204
            yield client


def make_state(backend: FakeBackend, root: Path, *, max_body: int = 65536) -> WebState:
    streams, counters = OpenStreams(), WebCounters()
    return WebState(
        auth=WebAuth(SECRET),
        backend=backend,
        static=StaticFiles(root, trio.CapacityLimiter(2)),
        runner=TurnRunner(backend, streams, counters),
        streams=streams,
        clips=VoiceClips(4),
        counters=counters,
        max_body=max_body,
    )


@pytest.fixture
def backend_type() -> type[FakeBackend]:
    """The fake backend class (fixtures, not imports: test folders share no modules)."""
    return FakeBackend


@pytest.fixture
def pwa_copy(tmp_path: Path) -> Path:
    """A private copy of the PWA, so tests may change shell files."""
    root = tmp_path / "pwa"
    shutil.copytree(PWA_ROOT, root)
    return root


@pytest.fixture
def new_state(pwa_copy: Path) -> Callable[..., WebState]:
    """make_state over the private PWA copy, for tests that run serve_app themselves."""
    return lambda backend, **kwargs: make_state(backend, pwa_copy, **kwargs)


StartWeb = Callable[..., Awaitable[RunningWeb]]


@pytest.fixture
def start_web(nursery: trio.Nursery, pwa_copy: Path) -> StartWeb:
    """Start the real app on hypercorn (127.0.0.1, port 0) in the test's nursery."""

    async def start(
        backend: FakeBackend | None = None, *, max_body: int = 65536, grace: float = 2.0
    ) -> RunningWeb:
        backend = backend or FakeBackend()
        state = make_state(backend, pwa_copy, max_body=max_body)
        shutdown = trio.Event()
        url = await nursery.start(_serve, state, shutdown, grace)
        return RunningWeb(url, state, backend, shutdown)

    return start


async def _serve(
    state: WebState, shutdown: trio.Event, grace: float, *, task_status: trio.TaskStatus[str]
) -> None:
    await serve_app(
        build_app(state),
        state.runner,
        state.streams,
        host="127.0.0.1",
        port=0,
        shutdown=shutdown,
        grace=grace,
        task_status=task_status,
    )


# -- the whole bot: real memory, LLM (against the emulator), voice, web ----------------------


@pytest.fixture
def bot_kit() -> Any:
    """open_web_bot and web_bot_settings (fixtures: test folders share no modules)."""
    return types.SimpleNamespace(open_bot=open_web_bot, settings=web_bot_settings, secret=SECRET)
