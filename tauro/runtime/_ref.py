"""ActorRef: how everyone else talks to an actor (tell, try_tell, ask)."""

from __future__ import annotations

import math
from typing import Generic, overload

import trio

from tauro.errors import ActorNotRunningError, AskTimeoutError
from tauro.runtime._delivery import Envelope, MessageT, Recipient, ReplySlot
from tauro.runtime._request import ReplyT, Request


class ActorRef(Generic[MessageT]):
    """A stable handle to an actor; it stays valid across restarts of the actor."""

    def __init__(self, cell: Recipient) -> None:
        self._cell = cell  # the actor's slot (a Cell), seen through what a reference needs

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

    @overload
    async def ask(self, message: Request[ReplyT], *, timeout: float | None = None) -> ReplyT: ...

    @overload
    async def ask(self, message: MessageT, *, timeout: float | None = None) -> object: ...

    async def ask(self, message: object, *, timeout: float | None = None) -> object:
        """Send a request and wait for the reply, at most ``timeout`` seconds.

        The reply has the type a ``Request`` names; any other message gets an
        ``object`` reply, for the caller to check.

        The time spent waiting for mailbox space counts. Raises AskTimeoutError,
        ActorNotRunningError if the actor is (or starts) stopping before it
        handles the message, or the error the handler raised.
        """
        limit = self._cell.ask_timeout if timeout is None else timeout
        slot = ReplySlot()
        with trio.move_on_after(limit) as scope:
            await self._cell.deliver(Envelope(message, slot))
            if self._cell.preparing is not None:
                await _while_preparing(self._cell, scope)
            return (await slot.wait()).unwrap()
        raise AskTimeoutError(self.name, f"no reply to {type(message).__name__} within {limit:g} s")

    def check_running(self) -> None:
        """Raise ActorNotRunningError now if a message could not be delivered."""
        if not self._cell.accepting:
            raise ActorNotRunningError(self.name, f"is {self._cell.state.value}")


async def _while_preparing(cell: Recipient, scope: trio.CancelScope) -> None:
    """An actor's ``prepare`` (a long load) does not count against an ask's timeout:
    the time left when it began is what the reply gets once it is over."""
    while (preparing := cell.preparing) is not None:
        left = scope.deadline - trio.current_time()
        scope.deadline = math.inf
        await preparing.wait()
        scope.deadline = trio.current_time() + left
