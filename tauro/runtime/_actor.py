"""The Actor base class and the context an actor sees while it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic

import outcome
import trio

from tauro.runtime._delivery import MessageT
from tauro.runtime._ref import ActorRef


class ActorContext:
    """What a running actor may use: its name, other actors, its own task group."""

    def __init__(
        self,
        name: str,
        lookup: Callable[[str], ActorRef[Any]],
        nursery: trio.Nursery,
        request_stop: Callable[[], None],
    ) -> None:
        self.name = name
        self._lookup = lookup
        self._nursery = nursery
        self._request_stop = request_stop

    def ref(self, name: str) -> ActorRef[Any]:
        """The reference of another actor of the same system (by its spec name)."""
        return self._lookup(name)

    def start_soon(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run a background task for as long as this actor runs.

        It is cancelled when the actor stops; if it raises, the actor fails and
        its supervisor decides what happens next.
        """
        self._nursery.start_soon(fn, *args)

    async def start(self, fn: Callable[..., Awaitable[object]], *args: object) -> object:
        """Like ``start_soon``, but wait until the task calls ``task_status.started()``."""
        return await self._nursery.start(fn, *args)

    def request_stop(self) -> None:
        """Ask for a graceful stop of this actor: it drains its mailbox and exits."""
        self._request_stop()


class Actor(Generic[MessageT]):
    """A long-lived task that handles the messages of its mailbox one at a time.

    Subclasses implement ``handle`` (or ``handle_batch`` with ``batch_size`` > 1)
    and may override ``on_start``, ``drain`` and ``on_stop``. A new instance is made by the
    spec's factory for every (re)start, so state that must survive a restart
    belongs outside the instance (on disk, or in the mailbox).
    """

    batch_size: int = 1
    _context: ActorContext | None = None

    @property
    def context(self) -> ActorContext:
        if self._context is None:
            raise RuntimeError(f"{type(self).__name__} is not running: no context yet")
        return self._context

    async def on_start(self) -> None:
        """Called before the first message; raising here is a start failure."""

    async def prepare(self) -> None:
        """Long preparation (loading a large file) after ``on_start``, before any message.

        Unlike ``on_start``, it does not hold up the actors started after this one:
        they start meanwhile, and messages sent to this actor wait in its mailbox
        (an ask's timeout starts only once the preparation is over). The actor
        counts as running, and the system as ready, once it returns; raising
        here is a failure like one in ``handle``. A graceful stop cancels it.
        """

    async def handle(self, message: MessageT) -> object:
        """Handle one message; the return value is the reply to an ask."""
        raise NotImplementedError(f"{type(self).__name__} does not handle {message!r}")

    async def handle_batch(self, messages: Sequence[MessageT]) -> Sequence[outcome.Outcome[object]]:
        """Handle messages that were waiting together; one outcome per message.

        Only called when ``batch_size`` > 1. The default handles them one by one.
        """
        results: list[outcome.Outcome[object]] = []
        for message in messages:
            results.append(await outcome.acapture(self.handle, message))
        return results

    async def drain(self) -> None:
        """A graceful stop has begun: stop taking new work, finish the work in progress.

        Called once, in a task of its own, as soon as a graceful stop reaches
        this actor's supervisor: every actor of a stopping system drains at the
        same time, before any of them is stopped, so the actors it depends on
        still serve it meanwhile. Return once the work in progress is done; the
        runtime waits for that up to the spec's ``grace_period`` (counted from
        the stop request), then cancels the background tasks, and what was
        still running is cut. Meanwhile the actor takes messages until its
        supervisor, stopping children in reverse start order, reaches it.

        The default returns at once: an actor with no work of its own to finish
        (its callers finish theirs) needs nothing more.
        """

    async def on_stop(self) -> None:
        """Always called when the actor stops: gracefully, cancelled or failed.

        It runs shielded from cancellation, within the spec's cleanup_timeout,
        so this is where a final flush belongs.
        """
