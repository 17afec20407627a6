"""A Cell is one actor's slot in a system: its mailbox, state and counters.

The cell outlives the actor instances it runs: the mailbox survives restarts,
so messages sent while an actor restarts wait for the next instance instead
of being lost.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import outcome
import trio

from tauro.errors import ActorNotRunningError
from tauro.runtime._actor import Actor, ActorContext
from tauro.runtime._delivery import Envelope
from tauro.runtime._exceptions import describe, single_cause
from tauro.runtime._ref import ActorRef
from tauro.runtime._spec import ActorSpec, Restart
from tauro.runtime._statistics import ActorState, ActorStatistics

log = logging.getLogger("tauro.runtime")

# Put in the mailbox by request_stop to wake an idle actor; never handled.
_WAKE_UP = Envelope(None, None)

_ACCEPTING = frozenset(
    {ActorState.NEW, ActorState.STARTING, ActorState.RUNNING, ActorState.RESTARTING}
)


class Cell:
    def __init__(self, spec: ActorSpec, supervisor: str, lookup: Callable[[str], ActorRef[Any]]):
        self.spec = spec
        self.name = spec.name
        self.supervisor = supervisor
        self._state = ActorState.NEW
        self.accepting = True  # cached `state in _ACCEPTING`: checked on every delivery
        self.ref: ActorRef[Any] = ActorRef(self)
        self._lookup = lookup
        self._open_mailbox()
        self.restarts = self.handled = self.dead_letters = self.drops = self.failures = 0
        self.last_error: str | None = None
        self._stop_mode: str | None = None  # None, "drain" or "pause"
        self._start_scope = trio.CancelScope()  # on_start, prepare; a graceful stop cancels it
        self._draining: _Draining | None = None
        self._instance: tuple[Actor[Any], trio.Nursery] | None = None
        self.preparing: trio.Event | None = None  # set when Actor.prepare is over
        # Set the first time an instance is running (started and prepared):
        # the system is ready once every cell is up.
        self.up = trio.Event()

    @property
    def restart_type(self) -> Restart:
        return self.spec.restart

    @property
    def ask_timeout(self) -> float:
        return self.spec.ask_timeout

    @property
    def stop_timeout(self) -> float:
        return self.spec.stop_timeout

    async def wait_drained(self) -> None:
        """Return once ``Actor.drain`` has returned or its grace deadline has passed."""
        draining = self._draining
        if draining is not None:
            with trio.move_on_at(draining.deadline):
                await draining.done.wait()

    @property
    def shutdown_budget(self) -> float:
        return self.spec.shutdown_budget

    def is_fatal(self, error: Exception) -> bool:
        return isinstance(error, self.spec.fatal_errors)

    def _open_mailbox(self) -> None:
        self._send, self._receive = trio.open_memory_channel[Envelope](self.spec.mailbox_size)

    @property
    def mailbox(self) -> trio.MemorySendChannel[Envelope]:
        """The current mailbox; a restart after a final stop opens a new one."""
        return self._send

    # -- delivery (called by ActorRef) ------------------------------------------------

    @property
    def state(self) -> ActorState:
        return self._state

    @state.setter
    def state(self, state: ActorState) -> None:
        self._state = state
        self.accepting = state in _ACCEPTING

    async def deliver(self, envelope: Envelope) -> None:
        while True:
            self._refuse_unless_accepting(envelope)
            try:
                await self._send.send(envelope)
                return
            except trio.BrokenResourceError:
                continue  # the mailbox was closed while we waited: stopped, or restarted

    def deliver_nowait(self, envelope: Envelope) -> bool:
        if not self.accepting:
            self.dead_letters += 1
            return False
        try:
            self._send.send_nowait(envelope)
        except trio.WouldBlock:
            self.drops += 1
            return False
        return True

    def _refuse_unless_accepting(self, envelope: Envelope) -> None:
        if not self.accepting:
            self.dead_letters += 1
            kind = type(envelope.message).__name__
            raise ActorNotRunningError(self.name, f"is {self.state.value}; {kind} not delivered")

    # -- lifecycle (called by the supervisor) -------------------------------------------

    async def run(self, on_started: Callable[[], None]) -> None:
        """Run one instance of the actor until it stops or fails."""
        if self.state in (ActorState.STOPPED, ActorState.FAILED):
            self._open_mailbox()  # restarted after a final stop: a fresh mailbox
        self._stop_mode = None
        self._draining = None
        self._start_scope = trio.CancelScope()
        self.state = ActorState.STARTING
        actor = self.spec.factory()
        try:
            await self._run_instance(actor, on_started)
        except BaseExceptionGroup as group:
            raise single_cause(group) from None
        finally:
            self._instance = None
            await self._cleanup(actor)

    async def _run_instance(self, actor: Actor[Any], on_started: Callable[[], None]) -> None:
        async with trio.open_nursery() as background:
            actor._context = ActorContext(self.name, self._lookup, background, self.request_stop)
            with self._start_scope:
                await actor.on_start()
            if self._stop_mode == "drain":  # stopped while starting: it never ran
                background.cancel_scope.cancel()
                return
            self._instance = (actor, background)
            if not await self._prepare(actor, on_started):
                background.cancel_scope.cancel()  # stopped while preparing: it never ran
                return
            await self._process(actor)
            if self._stop_mode == "drain" and self._draining is not None:
                await self._draining.done.wait()  # bounded by the grace deadline
            background.cancel_scope.cancel()

    async def _prepare(self, actor: Actor[Any], on_started: Callable[[], None]) -> bool:
        """Tell the supervisor it started, then run ``Actor.prepare``; False if cut short.

        The actors after this one start while it prepares; it is RUNNING (and its
        messages handled) only once the preparation is over.
        """
        if type(actor).prepare is Actor.prepare:  # nothing to prepare: running at once
            self._running()
            on_started()
            return True
        self.preparing = preparing = trio.Event()
        self._start_scope = trio.CancelScope()
        try:
            on_started()
            with self._start_scope:
                await actor.prepare()
        finally:
            self.preparing = None
            preparing.set()
        if self._start_scope.cancelled_caught:
            return False
        self._running()
        return True

    def _running(self) -> None:
        if self._stop_mode is None:  # else it is already STOPPING or RESTARTING
            self.state = ActorState.RUNNING
        self.up.set()
        log.debug("actor.started", extra={"fields": {"actor": self.name}})

    def begin_drain(self) -> None:
        """A graceful stop begins: run ``actor.drain`` within the grace period (once)."""
        if self._instance is None or self._draining is not None:
            return  # not running (starting, restarting, stopped), or draining already
        actor, background = self._instance
        deadline = trio.current_time() + self.spec.grace_period
        self._draining = _Draining(deadline)
        background.start_soon(self._drain, actor, self._draining)

    async def _drain(self, actor: Actor[Any], draining: _Draining) -> None:
        try:
            with trio.move_on_at(draining.deadline) as scope:
                await actor.drain()
            if scope.cancelled_caught:
                seconds = self.spec.grace_period
                log.warning(
                    "actor.drain.deadline",
                    extra={"fields": {"actor": self.name, "seconds": seconds}},
                )
        except Exception as error:
            log.error(
                "actor.drain.failed",
                extra={"fields": {"actor": self.name, "error": describe(error)}},
                exc_info=error,
            )
        finally:
            draining.done.set()

    async def _cleanup(self, actor: Actor[Any]) -> None:
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + self.spec.cleanup_timeout
            try:
                await actor.on_stop()
            except Exception as error:
                log.error(
                    "actor.cleanup.failed",
                    extra={"fields": {"actor": self.name, "error": describe(error)}},
                )
        if scope.cancelled_caught:
            log.error(
                "actor.cleanup.deadline",
                extra={"fields": {"actor": self.name, "seconds": self.spec.cleanup_timeout}},
            )

    def request_stop(self, *, drain: bool = True) -> None:
        """Stop after the current message; with drain, handle what is waiting first.

        A graceful stop (drain) also lets the actor finish its work in progress
        (``Actor.drain``, within the grace period), and cancels a start.
        """
        if drain:
            self._stop_mode = "drain"
            self.begin_drain()
            self._start_scope.cancel()
            if self.accepting:
                self.state = ActorState.STOPPING
        elif self._stop_mode is None:
            self._stop_mode = "pause"
            if self.accepting:
                self.state = ActorState.RESTARTING
        # Wake the loop if it waits on an empty mailbox. If the mailbox is full the
        # actor is busy and sees the stop mode after its current message.
        with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError):
            self._send.send_nowait(_WAKE_UP)

    def record_failure(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = describe(error)
        self.state = ActorState.RESTARTING

    def finalize(self, *, failed: bool = False) -> None:
        """The actor will not run again: fail what waits in the mailbox, close it."""
        self.state = ActorState.FAILED if failed else ActorState.STOPPED
        while True:
            try:
                envelope = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            if envelope is _WAKE_UP:
                continue
            self.dead_letters += 1
            if envelope.reply is not None:
                error = ActorNotRunningError(self.name, "stopped before handling the message")
                envelope.reply.set(outcome.Error(error))
        self._receive.close()  # senders waiting for space now get ActorNotRunningError

    # -- the mailbox loop ---------------------------------------------------------------

    async def _process(self, actor: Actor[Any]) -> None:
        receive = self._receive
        while True:
            envelope: Envelope | None
            if self._stop_mode is None:
                envelope = await receive.receive()
            else:
                envelope = self._receive_nowait()
                if envelope is None:
                    return  # drained
            if envelope is _WAKE_UP:
                continue
            if actor.batch_size > 1:
                await self._handle_many(
                    actor, [envelope, *self._take_waiting(actor.batch_size - 1)]
                )
            elif envelope.reply is None:
                await actor.handle(envelope.message)  # the hot path: a tell
                self.handled += 1
            else:
                await self._handle_ask(actor, envelope)
            if self._stop_mode == "pause":
                return

    def _receive_nowait(self) -> Envelope | None:
        try:
            return self._receive.receive_nowait()
        except trio.WouldBlock:
            return None

    def _take_waiting(self, limit: int) -> list[Envelope]:
        batch: list[Envelope] = []
        while len(batch) < limit and (envelope := self._receive_nowait()) is not None:
            if envelope is not _WAKE_UP:
                batch.append(envelope)
        return batch

    async def _handle_ask(self, actor: Actor[Any], envelope: Envelope) -> None:
        assert envelope.reply is not None  # invariant: only asks come here
        try:
            result = await outcome.acapture(actor.handle, envelope.message)
        finally:
            self.handled += 1
        if isinstance(result, outcome.Error) and not isinstance(result.error, Exception):
            _fail_replies([envelope], self.name)
            result.unwrap()  # Cancelled and KeyboardInterrupt are not replies
        envelope.reply.set(result)

    async def _handle_many(self, actor: Actor[Any], batch: list[Envelope]) -> None:
        try:
            results = await actor.handle_batch([envelope.message for envelope in batch])
        except BaseException:
            _fail_replies(batch, self.name)
            raise
        finally:
            self.handled += len(batch)
        if len(results) != len(batch):
            _fail_replies(batch, self.name)
            raise RuntimeError(
                f"{self.name}: handle_batch returned {len(results)} outcomes "
                f"for {len(batch)} messages"
            )
        failure: BaseException | None = None
        for envelope, result in zip(batch, results, strict=True):
            if envelope.reply is not None:
                envelope.reply.set(result)
            elif isinstance(result, outcome.Error) and failure is None:
                failure = result.error
        if failure is not None:
            raise failure  # a failed tell crashes the actor, as in handle()

    def statistics(self) -> ActorStatistics:
        depth = self._send.statistics().current_buffer_used
        return ActorStatistics(
            name=self.name,
            supervisor=self.supervisor,
            state=self.state,
            restarts=self.restarts,
            mailbox_depth=depth,
            mailbox_capacity=self.spec.mailbox_size,
            handled=self.handled,
            dead_letters=self.dead_letters,
            drops=self.drops,
            failures=self.failures,
            last_error=self.last_error,
        )


class _Draining:
    """One instance's drain: its deadline, and whether ``Actor.drain`` has returned."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.done = trio.Event()


def _fail_replies(batch: list[Envelope], actor: str) -> None:
    """Asks whose handling was cut short (cancelled, crashed) learn it at once."""
    for envelope in batch:
        if envelope.reply is not None:  # a no-op for replies already set
            error = ActorNotRunningError(actor, "stopped while handling the message")
            envelope.reply.set(outcome.Error(error))
