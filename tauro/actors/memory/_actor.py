"""The MemoryActor: the runtime's shell around ``MemoryEngine``.

``batch_size`` is SAVE_INTERVAL, so the runtime hands over up to that many
messages already waiting in the mailbox and they are committed with one write
and one fsync; a lone message is handed over, and committed, at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import outcome

from tauro.actors.memory._engine import REWRITE_GROWTH, REWRITE_MIN_BYTES, MemoryEngine
from tauro.actors.memory._messages import MemoryMessage
from tauro.config import MemorySettings
from tauro.errors import UnsafePathError
from tauro.runtime import Actor, ActorSpec, Restart

__all__ = ["MEMORY_ACTOR", "MemoryActor", "memory_actor_spec"]

MEMORY_ACTOR = "memory"
_CLEANUP_MARGIN = 5.0  # seconds on top of flush_timeout for closing files


class MemoryActor(Actor[MemoryMessage]):
    """Owns every conversation; ``Append`` is answered only once it is durable."""

    def __init__(
        self,
        settings: MemorySettings,
        *,
        wall_clock: Callable[[], datetime] = datetime.now,
        rewrite_growth: float = REWRITE_GROWTH,
        rewrite_min_bytes: int = REWRITE_MIN_BYTES,
    ) -> None:
        self.batch_size = settings.save_interval
        self.engine = MemoryEngine(
            settings,
            wall_clock=wall_clock,
            rewrite_growth=rewrite_growth,
            rewrite_min_bytes=rewrite_min_bytes,
        )

    async def on_start(self) -> None:
        await self.engine.lock()

    async def prepare(self) -> None:
        """The load of a large history, while the other actors start (the web app
        answers "starting" meanwhile); messages wait for it in the mailbox."""
        await self.engine.load()
        self.context.start_soon(self.engine.run)

    async def handle(self, message: MemoryMessage) -> object:
        (result,) = await self.engine.process([message])
        return result.unwrap()

    async def handle_batch(
        self, messages: Sequence[MemoryMessage]
    ) -> Sequence[outcome.Outcome[object]]:
        return await self.engine.process(messages)

    async def on_stop(self) -> None:
        """The final snapshot; the runtime shields this, the engine bounds it."""
        await self.engine.close()


def memory_actor_spec(
    settings: MemorySettings,
    *,
    mailbox_size: int = 100,
    ask_timeout: float = 30.0,
    stop_timeout: float = 5.0,
    grace_period: float = 30.0,
) -> ActorSpec:
    """The spec of the memory actor, with a cleanup deadline that fits its flush."""
    return ActorSpec(
        name=MEMORY_ACTOR,
        factory=lambda: MemoryActor(settings),
        restart=Restart.PERMANENT,
        fatal_errors=(UnsafePathError,),  # a folder others may write: restarting cannot help
        mailbox_size=mailbox_size,
        ask_timeout=ask_timeout,
        stop_timeout=stop_timeout,
        grace_period=grace_period,
        cleanup_timeout=settings.flush_timeout + _CLEANUP_MARGIN,
    )
