"""How a message reaches an actor: envelopes, reply slots, and the recipient protocol.

An ``ActorRef`` delivers envelopes to its actor's slot (the ``Cell``) through the
narrow ``Recipient`` protocol defined here, so the reference stands below the cell
that implements it instead of importing it.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import outcome
import trio

from tauro.runtime._statistics import ActorState

MessageT = TypeVar("MessageT")  # the type of the messages an actor takes


class ReplySlot:
    """Where the reply to one ask lands; the first outcome set wins."""

    def __init__(self) -> None:
        self._event = trio.Event()
        self._outcome: outcome.Outcome[object] | None = None

    def set(self, result: outcome.Outcome[object]) -> None:
        if self._outcome is None:
            self._outcome = result
            self._event.set()

    async def wait(self) -> outcome.Outcome[object]:
        await self._event.wait()
        assert self._outcome is not None  # invariant: the event is set only with an outcome
        return self._outcome


class Envelope:
    """A message in a mailbox; ``reply`` is set for an ask.

    A plain slotted class: one is made per message, and a frozen dataclass
    costs twice as much to construct.
    """

    __slots__ = ("message", "reply")

    def __init__(self, message: object, reply: ReplySlot | None) -> None:
        self.message = message
        self.reply = reply


class Recipient(Protocol):
    """An actor's slot as its references see it (``Cell`` implements it)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> ActorState: ...

    @property
    def accepting(self) -> bool:
        """Whether the actor takes messages now (cached: read on every delivery)."""

    @property
    def ask_timeout(self) -> float:
        """Seconds an ask waits for its reply when the caller gives no timeout."""

    @property
    def preparing(self) -> trio.Event | None:
        """Set once ``Actor.prepare`` is over; None when the actor is not preparing."""

    @property
    def mailbox(self) -> trio.MemorySendChannel[Envelope]:
        """The current mailbox; a restart after a final stop opens a new one."""

    async def deliver(self, envelope: Envelope) -> None:
        """Put ``envelope`` in the mailbox, waiting for space; raise if not accepting."""

    def deliver_nowait(self, envelope: Envelope) -> bool:
        """Put ``envelope`` in the mailbox now, or count a drop or dead letter."""
