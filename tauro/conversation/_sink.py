"""What a channel (Telegram, the web app) must provide for a conversation turn.

The turn knows nothing of how a channel shows text; the channel knows nothing of
memory or the LLM. They meet at ``TurnSink``, one object per turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tauro.actors.voice import VoiceNote


class Asker(Protocol):
    """The one thing the turn needs of an actor: ``ActorRef.ask``."""

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any: ...


class TurnSink(Protocol):
    """A channel's side of one turn, called by ``run_turn`` in this order.

    ``thinking`` once, then ``partial`` zero or more times, then exactly one of
    ``final`` or ``failed``, then ``voice`` at most once (only after ``final``).
    Throttling of partial updates is the sink's job: ``partial`` is called for
    every chunk the model produces and must return quickly.
    """

    async def thinking(self) -> None:
        """The answer is being prepared (Telegram: the "typing" action)."""

    async def partial(self, text_so_far: str) -> None:
        """The answer so far; each call carries the whole text, not a delta."""

    async def final(self, text: str) -> None:
        """The complete answer; it is already recorded in memory when this runs."""

    async def failed(self, user_message: str) -> None:
        """The answer failed; ``user_message`` is safe to show (no secrets).

        Text already given to ``partial`` may stay visible; the sink should
        add the notice rather than replace it.
        """

    async def voice(self, note: VoiceNote) -> None:
        """Send the spoken answer; the turn discards ``note`` afterwards."""
