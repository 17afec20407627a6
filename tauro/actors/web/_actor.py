"""WebActor: the web app as one actor of the system, and its backend of actor asks.

A graceful stop first drains (``drain``): new questions get 503 at once, and
the answers already being written run to the end, streamed to their pages,
within STOP_GRACE_PERIOD; answers still running at that deadline are
cancelled (their questions are recorded).

Why the server runs shielded: the runtime cancels an actor's background tasks
as soon as its mailbox is drained, before ``on_stop``. A cancelled hypercorn
would drop every open answer stream mid-sentence. So the server runs in a
shielded scope, and a sentinel task that *is* cancelled starts the graceful
shutdown instead (streams told and closed, connections finished, turns given
the rest of the deadline), with a deadline of its own so the shield never
outlives WEB grace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from tauro.actors.web._app import WebState, build_app
from tauro.actors.web._auth import (
    REVOKED_FILE_NAME,
    RevokedSessions,
    WebAuth,
    load_or_create_token,
)
from tauro.actors.web._backend_actors import ActorBackend
from tauro.actors.web._chat import TurnRunner, VoiceClips, WebCounters, make_clip_parent
from tauro.actors.web._events import OpenStreams
from tauro.actors.web._history import MetricsHistory, sample_every_minute
from tauro.actors.web._server import serve_app
from tauro.actors.web._static import StaticFiles
from tauro.actors.web._webhook import WebhookEndpoint
from tauro.config import Settings
from tauro.errors import TauroError, UnsafePathError
from tauro.runtime import Actor, ActorSpec, Request, Restart, SystemStatistics

__all__ = ["PWA_ROOT", "WEB_ACTOR", "GetWebAddress", "WebActor", "WebMessage", "web_actor_spec"]

log = logging.getLogger("tauro.web")

WEB_ACTOR = "web"
PWA_ROOT = Path(__file__).resolve().parent.parent.parent / "pwa"


@dataclass(frozen=True, slots=True)
class GetWebAddress(Request[str]):
    """Ask for the base URL the app listens on (with the real port when WEB_PORT=0)."""


WebMessage = GetWebAddress


class WebActor(Actor[WebMessage]):
    """Serves the PWA and its API on WEB_HOST:WEB_PORT while it runs.

    ``statistics`` reads the runtime's ``system.statistics()`` for the status
    page (an actor has no handle on its system; the application passes one).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        statistics: Callable[[], SystemStatistics | None] = lambda: None,
        pwa_root: Path = PWA_ROOT,
        grace: float | None = None,
        history: MetricsHistory | None = None,
        webhook: WebhookEndpoint | None = None,
    ) -> None:
        self._settings = settings
        self._webhook = webhook
        self._history = history if history is not None else MetricsHistory()
        self._statistics = statistics
        self._pwa_root = pwa_root
        # Leave the runtime's stop deadline a margin for on_stop.
        self._grace = grace if grace is not None else settings.runtime.stop_timeout * 0.8
        self._shutdown = trio.Event()
        self._shield: trio.CancelScope | None = None
        self._clips: VoiceClips | None = None
        self._runner: TurnRunner | None = None
        self._url = ""

    async def on_start(self) -> None:
        limiter = trio.CapacityLimiter(max(1, self._settings.runtime.io_threads))
        token = await trio.to_thread.run_sync(
            load_or_create_token, self._settings.web.token, self._settings.memory.file
        )
        revoked = RevokedSessions(self._settings.memory.file.parent / REVOKED_FILE_NAME)
        await trio.to_thread.run_sync(revoked.load)
        clip_parent = self._settings.audio_directory() / "web"
        await trio.to_thread.run_sync(make_clip_parent, clip_parent)  # refuse a planted one
        state = self._state(WebAuth(token.value, revoked), limiter, clip_parent)
        url = await self.context.start(self._serve, state)
        assert isinstance(url, str)
        self._url = url
        self.context.start_soon(self._watch_stop)
        self.context.start_soon(self._resume_pending, state)
        self.context.start_soon(sample_every_minute, self._history, state.backend.status)
        _log_address(url, token.value if token.generated else None, token.path)

    def _state(self, auth: WebAuth, limiter: trio.CapacityLimiter, clip_parent: Path) -> WebState:
        streams, counters = OpenStreams(), WebCounters()
        capacity = max(1, self._settings.voice.cache_entries)
        clips = self._clips = VoiceClips(capacity, clip_parent)
        backend = ActorBackend(
            self.context.ref,
            self._settings,
            clips=clips,
            counters=counters,
            streams=streams,
            statistics=self._statistics,
            limiter=limiter,
        )
        self._runner = TurnRunner(backend, streams, counters)
        return WebState(
            auth=auth,
            backend=backend,
            static=StaticFiles(self._pwa_root, limiter),
            runner=self._runner,
            streams=streams,
            clips=clips,
            counters=counters,
            max_body=self._settings.web.max_body_bytes,
            default_language=self._settings.language.default,
            history=self._history,
            webhook=self._webhook,
        )

    async def _serve(self, state: WebState, *, task_status: trio.TaskStatus[str]) -> None:
        web = self._settings.web
        serve = partial(
            serve_app,
            build_app(state),
            state.runner,
            state.streams,
            host=web.host,
            port=web.port,
            shutdown=self._shutdown,
            grace=self._grace,
        )
        with trio.CancelScope(shield=True) as self._shield:
            async with trio.open_nursery() as nursery:
                task_status.started(await nursery.start(serve))
        log.info("web.stopped")

    async def _resume_pending(self, state: WebState) -> None:
        """Answer the web questions a crash left unanswered (they show in history)."""
        try:
            pending = await state.backend.pending_turns()
        except TauroError as error:
            log.warning("web.pending.unavailable", extra={"fields": {"error": str(error)}})
            return
        by_conversation: dict[str, list[tuple[int, str]]] = {}
        for conversation, turn_id, text in pending:
            by_conversation.setdefault(conversation, []).append((turn_id, text))
        if by_conversation:
            log.info("web.pending.resumed", extra={"fields": {"turns": len(pending)}})
            # Their readers' languages were not stored: BOT_LANGUAGE, as for a new reader.
            state.runner.resume(by_conversation, language=state.default_language)

    async def _watch_stop(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            self._begin_shutdown()

    def _begin_shutdown(self) -> None:
        if self._shield is not None and not self._shutdown.is_set():
            self._shield.deadline = trio.current_time() + self._grace + 0.5
        self._shutdown.set()

    async def drain(self) -> None:
        """Refuse new questions; return once the answers being written are complete.

        At the grace deadline (this is cancelled) the answers still running are
        cancelled at once rather than given the server's shutdown grace too.
        """
        runner = self._runner
        if runner is None:
            return
        log.info("web.draining", extra={"fields": {"turns": runner.in_flight}})
        runner.close()
        try:
            await runner.wait_idle()
        finally:
            if runner.in_flight:
                log.warning("web.turns.cancelled", extra={"fields": {"turns": runner.in_flight}})
                runner.cancel()

    async def handle(self, message: WebMessage) -> object:
        match message:
            case GetWebAddress():
                return self._url
        raise TypeError(f"WebActor does not handle {type(message).__name__}")

    async def on_stop(self) -> None:
        self._begin_shutdown()
        if self._clips is not None:  # the server has finished: no clip is being sent
            await self._clips.aclose()


def _log_address(url: str, new_token: str | None, path: Path | None) -> None:
    """The login link is logged once, when the secret was just generated.

    The secret travels in the #fragment, which browsers never send to a server,
    so it stays out of access logs and proxies.
    """
    if new_token is None:
        log.info("web.listening", extra={"fields": {"url": url}})
        return
    log.warning(
        "web.login_link",
        extra={"fields": {"url": f"{url}/login#token={new_token}", "stored_in": str(path)}},
    )


def web_actor_spec(
    settings: Settings,
    *,
    statistics: Callable[[], SystemStatistics | None] = lambda: None,
    pwa_root: Path = PWA_ROOT,
    history: MetricsHistory | None = None,
    webhook: WebhookEndpoint | None = None,
) -> ActorSpec:
    """The web actor's spec; start it after memory, LLM and voice so it stops first.

    Its stop deadline leaves room for the graceful shutdown (80 % of it) plus
    ``on_stop``; an answer still streaming then gets a "shutting down" event.
    """
    stop = settings.runtime.stop_timeout
    kept = history if history is not None else MetricsHistory()  # outlives restarts
    return ActorSpec(
        name=WEB_ACTOR,
        factory=lambda: WebActor(
            settings, statistics=statistics, pwa_root=pwa_root, history=kept, webhook=webhook
        ),
        restart=Restart.PERMANENT,
        fatal_errors=(UnsafePathError,),
        mailbox_size=settings.runtime.mailbox_size,
        ask_timeout=settings.runtime.ask_timeout,
        stop_timeout=stop,
        cleanup_timeout=stop,
        grace_period=settings.runtime.grace_period,
    )
