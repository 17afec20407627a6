"""ActorRef: how everyone else talks to an actor (tell, try_tell, ask)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic

import outcome
import trio

from tauro.errors import ActorNotRunningError, AskTimeoutError
from tauro.runtime._actor import MessageT

if TYPE_CHECKING:
    from tauro.runtime._cell import Cell


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


class ActorRef(Generic[MessageT]):
    """A stable handle to an actor; it stays valid across restarts of the actor."""

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        return self._cell.name

    def __repr__(self) -> str:
        return f"<ActorRef {self.name} {self._cell.state.value}>"

    async def tell(self, message: MessageT) -> None:
        """Deliver a message, waiting while the mailbox is full (backpressure)."""
        cell = self._cell
        if cell.accepting:  # the hot path, without the slow path's loop and checks
            try:
                await cell.mailbox.send(Envelope(message, None))
                return
            except trio.BrokenResourceError:
                pass  # stopped or restarted while we waited: the slow path explains
        await cell.deliver(Envelope(message, None))

    def try_tell(self, message: MessageT) -> bool:
        """Deliver without waiting; False (and a counted drop) if it cannot be."""
        return self._cell.deliver_nowait(Envelope(message, None))

    async def ask(self, message: MessageT, *, timeout: float | None = None) -> Any:
        """Send a request and wait for the reply, at most ``timeout`` seconds.

        The time spent waiting for mailbox space counts. Raises AskTimeoutError,
        ActorNotRunningError if the actor is (or starts) stopping before it
        handles the message, or the error the handler raised.
        """
        limit = self._cell.spec.ask_timeout if timeout is None else timeout
        slot = ReplySlot()
        with trio.move_on_after(limit):
            await self._cell.deliver(Envelope(message, slot))
            return (await slot.wait()).unwrap()
        raise AskTimeoutError(self.name, f"no reply to {type(message).__name__} within {limit:g} s")

    def check_running(self) -> None:
        """Raise ActorNotRunningError now if a message could not be delivered."""
        if not self._cell.accepting:
            raise ActorNotRunningError(self.name, f"is {self._cell.state.value}")
