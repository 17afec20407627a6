"""The one narrow interface between the HTTP app and the rest of the bot.

The app knows nothing of actors: it calls a :class:`ChatBackend`. The web actor
implements it with the MemoryActor, the LLM and the shared conversation turn;
tests implement it with a few lines of fakes. This is what lets the app and the
PWA be tested without the runtime, and the runtime without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from tauro.actors.web._events import TurnEvents
from tauro.actors.web._status import StatusReport

__all__ = ["ChatBackend", "Health", "HistoryEntry"]

Health = Literal["ok", "starting", "unavailable"]


@dataclass(frozen=True)
class HistoryEntry:
    role: str  # "user" | "assistant"
    content: str
    timestamp: str  # ISO-8601 as stored


class ChatBackend(Protocol):
    @property
    def voice_available(self) -> bool:
        """Whether voice answers can be made at all (TTS enabled, voice actor present)."""

    async def run_turn(
        self,
        conversation: str,
        text: str,
        events: TurnEvents,
        *,
        language: str = "en",
        turn_id: int | None = None,
    ) -> None:
        """Answer ``text``, emitting deltas, maybe a voice clip, then Done or Failed.

        ``language`` is the reader's (a catalog language): notices are written in it.

        Must not raise for an LLM failure: that is a Failed event the user sees.
        ``turn_id`` finishes a recorded turn (``pending_turns``) instead of a new one.
        """

    async def pending_turns(self) -> Sequence[tuple[str, int, str]]:
        """Web questions recorded but never answered (a crash): conversation, id, text."""

    async def history(self, conversation: str, limit: int) -> Sequence[HistoryEntry]: ...

    async def clear(self, conversation: str) -> None: ...

    async def voice_enabled(self, conversation: str) -> bool: ...

    async def set_voice(self, conversation: str, enabled: bool) -> None: ...

    async def status(self) -> StatusReport: ...

    def health(self) -> Health:
        """For /healthz (cheap, asks no one): "ok" when every actor is running,
        "starting" while some are still starting (memory loading a large history)
        and none is down, "unavailable" otherwise."""

    def memory_loading(self) -> bool:
        """True while the memory has not finished loading: pages that need it say so."""
