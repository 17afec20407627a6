"""Running the whole bot for the web's tests, screenshots and benchmark.

Shipped in the package like ``tauro.runtime.testing``. Nothing in ``tauro``
proper imports it. Three pieces:

- :func:`open_web_bot`: the production actors (memory, LLM, optional voice, web)
  under one supervisor, inside the caller's trio run;
- :class:`BotThread`: the same plus the LLM emulator in a thread with its own
  ``trio.run``, for callers that are not trio (Playwright's sync API drives an
  asyncio loop of its own and cannot run inside trio);
- :func:`open_chromium`: Debian's Chromium with a fresh profile, as CI runs it,
  driven by Playwright's sync API.

Playwright's sync API makes its own asyncio loop. Once ``trio_asyncio`` is
imported (the Telegram actor uses it), ``asyncio.new_event_loop()`` makes a
trio-asyncio loop instead, which Playwright cannot drive; so
:func:`open_chromium` sets a plain asyncio policy for the calling thread while
the browser runs (trio-asyncio honours a policy set per thread, outside trio).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import trio

from tauro.actors.llm import LLMActor
from tauro.actors.memory import memory_actor_spec
from tauro.actors.voice import VoiceActor
from tauro.actors.web._actor import PWA_ROOT, WEB_ACTOR, GetWebAddress, web_actor_spec
from tauro.actors.web._history import MetricsHistory, MinuteSample
from tauro.config import (
    LLMSettings,
    MemorySettings,
    RuntimeSettings,
    Settings,
    VoiceSettings,
    WebSettings,
)
from tauro.runtime import ActorSpec, ActorSystem, SupervisorSpec, open_actor_system

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Playwright

    from tauro.testing import LlmServerEmulator

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "TEST_SECRET",
    "BotThread",
    "WebBot",
    "launch_chromium",
    "open_chromium",
    "open_web_bot",
    "wait_until",
    "web_bot_settings",
]

T = TypeVar("T")
TEST_SECRET = "correct horse battery staple"  # noqa: S105 (tests only)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


@dataclass
class WebBot:
    system: ActorSystem
    url: str
    settings: Settings

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=20)

    @contextlib.asynccontextmanager
    async def logged_in(self, token: str = TEST_SECRET) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as client:
            response = await client.post("/api/login", json={"token": token})
            response.raise_for_status()
            yield client


def web_bot_settings(
    root: Path,
    llm_url: str,
    *,
    voice: bool = False,
    token: str = TEST_SECRET,
    stop_timeout: float = 3.0,
    grace_period: float = 30.0,
) -> Settings:
    """Settings for a bot whose files live under ``root`` and whose LLM is ``llm_url``."""
    return Settings(
        llm=LLMSettings(host=llm_url, model="llama3.2", max_retries=0, connect_timeout=2.0),
        memory=MemorySettings(file=root / "memory" / "conversations.json"),
        voice=VoiceSettings(enabled=voice, language="en"),
        web=WebSettings(host="127.0.0.1", port=0, token=token),
        runtime=RuntimeSettings(stop_timeout=stop_timeout, grace_period=grace_period),
    )


@contextlib.asynccontextmanager
async def open_web_bot(
    settings: Settings,
    *,
    pwa_root: Path = PWA_ROOT,
    voice_dir: Path | None = None,
    history: MetricsHistory | None = None,
) -> AsyncIterator[WebBot]:
    """The production actors under one supervisor, web last (so it stops first)."""
    holder: list[ActorSystem] = []
    children: list[ActorSpec] = [
        memory_actor_spec(settings.memory),
        ActorSpec(name="llm", factory=lambda: LLMActor(settings.llm)),
    ]
    if settings.voice.enabled:
        voice = ActorSpec(
            name="voice", factory=lambda: VoiceActor(settings.voice, directory=voice_dir)
        )
        children.append(voice)
    statistics = lambda: holder[0].statistics() if holder else None  # noqa: E731
    web = web_actor_spec(settings, statistics=statistics, pwa_root=pwa_root, history=history)
    children.append(web)
    async with open_actor_system(SupervisorSpec(name="root", children=tuple(children))) as system:
        holder.append(system)
        url = await system.ref(WEB_ACTOR).ask(GetWebAddress())
        yield WebBot(system, url, settings)


@dataclass
class BotThread:
    """The LLM emulator and a whole bot in a thread of their own.

    ``start()`` returns once the web app listens; ``call(fn)`` runs an async
    function in the bot's trio run (to read memory, script the emulator...);
    ``stop()`` stops the bot gracefully and joins the thread.
    """

    root: Path
    pwa_root: Path = PWA_ROOT
    voice: bool = False
    llm_options: dict[str, Any] = field(default_factory=dict)
    llm_url: str | None = None  # instead of the emulator's (e.g. a closed port)
    history: MetricsHistory | None = None  # the status page's last hour, e.g. prefilled
    url: str = ""
    bot: WebBot | None = None
    llm: LlmServerEmulator | None = None
    _token: trio.lowlevel.TrioToken | None = None
    _stop: trio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: queue.Queue[BaseException | None] = field(default_factory=queue.Queue)

    def start(self, timeout: float = 30.0) -> str:
        self._thread = threading.Thread(target=self._run, name="tauro-bot", daemon=True)
        self._thread.start()
        error = self._ready.get(timeout=timeout)
        if error is not None:
            raise error
        return self.url

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as error:  # reported to start() if it failed early
            self._ready.put(error)

    async def _main(self) -> None:
        from tauro.testing import open_llm_server

        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with open_llm_server(**self.llm_options) as llm:
            self.llm = llm
            settings = web_bot_settings(self.root, self.llm_url or llm.url, voice=self.voice)
            voice_dir = self.root / "voice"
            async with open_web_bot(
                settings, pwa_root=self.pwa_root, voice_dir=voice_dir, history=self.history
            ) as bot:
                self.bot, self.url = bot, bot.url
                self._ready.put(None)
                await self._stop.wait()

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        assert self._token is not None, "start() the bot first"
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def stop(self, timeout: float = 30.0) -> None:
        if self._token is not None and self._stop is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"the bot did not stop within {timeout} s")


def launch_chromium(playwright: Playwright, user_data_dir: Path, **options: Any) -> BrowserContext:
    """Debian's Chromium, headless, with a fresh profile and no background traffic."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        args=list(CHROMIUM_ARGS),
        **options,
    )


@contextlib.contextmanager
def plain_asyncio() -> Iterator[None]:
    """A standard asyncio loop policy for this thread, even if trio_asyncio is loaded."""
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(previous)


@contextlib.contextmanager
def open_chromium(user_data_dir: Path, **options: Any) -> Iterator[BrowserContext]:
    """Playwright (sync API) driving Debian's Chromium; closed on exit."""
    from playwright.sync_api import sync_playwright

    with plain_asyncio(), sync_playwright() as playwright:
        context = launch_chromium(playwright, user_data_dir, **options)
        try:
            yield context
        finally:
            context.close()


def wait_until(page: Page, expression: str, *, timeout: float = 15.0, every: float = 0.02) -> Any:
    """Poll ``expression`` in the page until it is truthy; return its value.

    Playwright's ``wait_for_function`` evaluates its predicate with ``eval``,
    which the app's Content-Security-Policy forbids; ``evaluate`` goes through
    the DevTools protocol, which the policy does not restrict.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(every * 1000)


def an_hour_of_samples(now: float) -> MetricsHistory:
    """A believable last hour for the status page's charts (tests and screenshots)."""
    history = MetricsHistory()
    for minute in range(60):
        busy = 4 + (minute * 7) % 11 + (12 if 35 <= minute <= 44 else 0)
        history.add(
            MinuteSample(
                at=now - (59 - minute) * 60.0,
                answers=busy if minute % 17 else 0,
                first_token_ms=(180.0 + busy * 9 + (minute % 5) * 12) if minute % 17 else None,
                errors=1 if minute in (12, 40, 41) else 0,
                restarts=1 if minute == 41 else 0,
            )
        )
    return history
