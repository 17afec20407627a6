"""The TauroBot system: which actors, under which supervisors, with which settings.

Start order (and so the reverse stop order)::

    tauro (one_for_one)
    ├── memory                 first up, last down: everything else writes to it
    ├── services (one_for_one)
    │   ├── llm
    │   └── voice              (only with ENABLE_TTS)
    └── channels (one_for_one)
        ├── web                (only with WEB_ENABLED)
        └── telegram

The web server starts first: it answers "starting" while memory loads, and with
TELEGRAM_WEBHOOK_URL Telegram's POSTs reach the bot through it, so it must
listen before the Telegram actor calls setWebhook, and still answers them (503,
"try again later") while the Telegram actor stops.

A graceful stop therefore stops taking new messages first (channels), lets
answers in progress finish within their deadlines, and ends with memory's
final snapshot.

Memory loads its file in ``prepare`` (a large history takes seconds), and the
LLM reads its saved model there too, so the others start meanwhile: the web
app, started before Telegram (whose start waits for memory's pending turns),
answers ``/healthz`` with "starting" during the load. ``system.ready`` comes
once every actor has started and prepared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tauro.actors.llm import LLMActor
from tauro.actors.memory import GetPreferences, memory_actor_spec
from tauro.actors.telegram import BOT_PREFERENCES, TelegramActor, WebhookInbox
from tauro.actors.voice import VoiceActor
from tauro.actors.web import web_actor_spec
from tauro.config import Settings
from tauro.errors import (
    InvalidTokenError,
    PollingConflictError,
    UnsafePathError,
    WebhookRefusedError,
)
from tauro.runtime import (
    Actor,
    ActorContext,
    ActorSpec,
    ActorSystem,
    SupervisorSpec,
    SystemStatistics,
    open_systemd_notifier,
    run_until_signalled,
)

__all__ = ["build_system", "build_system_spec", "serve"]


@dataclass
class _StatisticsSource:
    """Lets the web status page read the statistics of the system it runs in."""

    system: ActorSystem | None = field(default=None)

    def __call__(self) -> SystemStatistics | None:
        return self.system.statistics() if self.system is not None else None


def build_system_spec(
    settings: Settings, statistics: _StatisticsSource | None = None
) -> SupervisorSpec:
    services: list[ActorSpec | SupervisorSpec] = [
        _actor(settings, "llm", lambda: LLMActor(settings.llm, saved_model=saved_model))
    ]
    if settings.voice.enabled:
        notes = settings.audio_directory() / "notes"
        services.append(
            _actor(
                settings,
                "voice",
                lambda: VoiceActor(settings.voice_actor_settings(), directory=notes),
                fatal_errors=(UnsafePathError,),
            )
        )
    voice = "voice" if settings.voice.enabled else None
    # One inbox for the life of the system: it outlives restarts of either channel.
    webhook = (
        WebhookInbox(settings.telegram.webhook_path) if settings.telegram.webhook_url else None
    )
    channels: list[ActorSpec | SupervisorSpec] = []
    if settings.web.enabled:  # first: "starting" while memory loads; the webhook's POSTs
        statistics_source = statistics or _StatisticsSource()
        channels.append(web_actor_spec(settings, statistics=statistics_source, webhook=webhook))
    channels.append(
        _actor(
            settings,
            "telegram",
            lambda: TelegramActor(settings, voice=voice, webhook=webhook),
            fatal_errors=(InvalidTokenError, PollingConflictError, WebhookRefusedError),
        )
    )
    runtime = settings.runtime
    memory = memory_actor_spec(
        settings.memory,
        mailbox_size=runtime.mailbox_size,
        ask_timeout=runtime.ask_timeout,
        stop_timeout=runtime.stop_timeout,
        grace_period=runtime.grace_period,
    )
    return _supervisor(
        "tauro",
        settings,
        [
            memory,
            _supervisor("services", settings, services),
            _supervisor("channels", settings, channels),
        ],
    )


async def saved_model(context: ActorContext) -> str | None:
    """The model an admin chose with /model, as memory keeps it (read at every LLM start)."""
    preferences = await context.ref("memory").ask(GetPreferences(BOT_PREFERENCES))
    model = preferences.get("model") if isinstance(preferences, dict) else None
    return model if isinstance(model, str) and model else None


def _actor(
    settings: Settings,
    name: str,
    factory: Callable[[], Actor[Any]],
    fatal_errors: tuple[type[Exception], ...] = (),
) -> ActorSpec:
    runtime = settings.runtime
    return ActorSpec(
        name=name,
        factory=factory,
        fatal_errors=fatal_errors,
        mailbox_size=runtime.mailbox_size,
        ask_timeout=runtime.ask_timeout,
        stop_timeout=runtime.stop_timeout,
        grace_period=runtime.grace_period,
    )


def _supervisor(
    name: str, settings: Settings, children: list[ActorSpec | SupervisorSpec]
) -> SupervisorSpec:
    runtime = settings.runtime
    return SupervisorSpec(
        name=name,
        children=tuple(children),
        max_restarts=runtime.max_restarts,
        restart_window=runtime.restart_window,
        backoff_initial=runtime.backoff_initial,
        backoff_max=runtime.backoff_max,
    )


def build_system(settings: Settings) -> ActorSystem:
    """The whole bot as an actor system, not yet running."""
    source = _StatisticsSource()
    system = ActorSystem(build_system_spec(settings, source))
    source.system = system
    return system


async def serve(system: ActorSystem) -> bool:
    """Run until SIGINT/SIGTERM; True after a graceful stop, False after a forced one.

    Under systemd (``Type=notify``) the service manager is told when the bot is
    ready and stopping, and its watchdog is fed while every actor is running.
    """
    async with open_systemd_notifier(system):
        return await run_until_signalled(system)
