"""What a channel (Telegram, the web app) must provide for a conversation turn.

The turn knows nothing of how a channel shows text; the channel knows nothing of
memory or the LLM. They meet at ``TurnSink``, one object per turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

from tauro.runtime import Request

if TYPE_CHECKING:
    from tauro.actors.voice import VoiceNote

ReplyT = TypeVar("ReplyT")


class Asker(Protocol):
    """The one thing the turn needs of an actor: ``ActorRef.ask``, typed by the request."""

    async def ask(self, message: Request[ReplyT], *, timeout: float | None = None) -> ReplyT: ...


class TurnSink(Protocol):
    """A channel's side of one turn, called by ``run_turn`` in this order.

    ``thinking`` once, then ``partial`` zero or more times, then exactly one of
    ``final`` or ``failed``. After ``final``, if the conversation wants voice:
    ``voice_pending`` once, then exactly one of ``voice`` or ``voice_failed``.
    Throttling of partial updates is the sink's job: ``partial`` is called for
    every chunk the model produces and must return quickly.

    The text is delivered before any voice call, and an error raised by a voice
    call is logged by the turn, never turned into a failed answer.
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

    async def voice_pending(self) -> None:
        """The spoken answer is being made (Telegram: "record_voice" until it is sent).

        Synthesis takes seconds; without a sign the user may think the bot is
        done. The sink keeps the sign up until ``voice`` or ``voice_failed``.
        """

    async def voice(self, note: VoiceNote) -> None:
        """Send the spoken answer; the turn discards ``note`` afterwards.

        Stream the file (``note.open()``), never read it whole; a sink that
        needs the audio later must keep its own link or copy of the file.
        """

    async def voice_failed(self, user_message: str) -> None:
        """No voice note this time; ``user_message`` is a short, safe note for the user.

        The text answer was already delivered; show this discreetly.
        """
