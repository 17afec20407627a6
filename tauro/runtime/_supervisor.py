"""Supervisors: start children in order, restart them by strategy, stop them in reverse.

A child is either an actor's Cell or a nested Supervisor; both offer the small
``Child`` protocol below. Each running child lives in its own cancel scope, so
the supervisor can give it a graceful stop with a deadline and then cancel it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from tauro.errors import EscalationError, TauroError
from tauro.runtime._exceptions import describe, single_cause
from tauro.runtime._spec import Restart, Strategy, SupervisorSpec

log = logging.getLogger("tauro.runtime")


class Child(Protocol):
    name: str
    restarts: int

    @property
    def restart_type(self) -> Restart: ...
    @property
    def shutdown_budget(self) -> float: ...
    @property
    def stop_timeout(self) -> float: ...
    async def run(self, on_started: Callable[[], None]) -> None: ...
    def request_stop(self, *, drain: bool = True) -> None: ...
    def begin_drain(self) -> None: ...
    async def wait_drained(self) -> None: ...
    def is_fatal(self, error: Exception) -> bool: ...
    def record_failure(self, error: BaseException) -> None: ...
    def finalize(self, *, failed: bool = False) -> None: ...


@dataclass
class _Running:
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)
    stopping: bool = False


@dataclass(frozen=True)
class _Exited:
    child: Child
    error: Exception | None


class _StopRequested:
    pass


_Event = _Exited | _StopRequested


class Supervisor:
    """Runs its children; ``run`` returns after a requested stop, raises on escalation."""

    def __init__(self, spec: SupervisorSpec, children: Sequence[Child]) -> None:
        self.spec = spec
        self.name = spec.name
        self.children = list(children)
        self.restarts = 0
        self._running: dict[str, _Running] = {}
        self._nursery: trio.Nursery | None = None
        self._restart_times: list[float] = []
        self._events_in, self._events = trio.open_memory_channel[_Event](math.inf)
        self._stop_requested = False
        self._stopped = trio.Event()  # set with _stop_requested: ends a restart backoff
        self._starting: Child | None = None  # the child being started, if any

    # -- Child protocol, so that supervisors nest --------------------------------------

    @property
    def restart_type(self) -> Restart:
        return self.spec.restart

    @property
    def shutdown_budget(self) -> float:
        return self.spec.shutdown_budget

    @property
    def stop_timeout(self) -> float:
        return self.spec.shutdown_budget  # its children keep their own deadlines

    def request_stop(self, *, drain: bool = True) -> None:
        """Stop whatever state the children are in: running, starting or backing off.

        A graceful stop (drain) first lets every actor below begin draining at
        once; a start in progress is stopped and a restart backoff ends.
        """
        if self._stop_requested:
            return
        self._stop_requested = True
        self._stopped.set()
        if drain:
            self.begin_drain()
        if self._starting is not None:
            self._starting.request_stop(drain=True)
        self._events_in.send_nowait(_StopRequested())

    def begin_drain(self) -> None:
        for child in self.children:
            child.begin_drain()

    async def wait_drained(self) -> None:
        pass  # each child below waits for its own drain when this one stops it

    def record_failure(self, error: BaseException) -> None:
        pass  # the failing actor below already recorded it

    def is_fatal(self, error: Exception) -> bool:
        return isinstance(error, EscalationError) and error.fatal

    def finalize(self, *, failed: bool = False) -> None:
        for child in self.children:
            child.finalize(failed=failed)

    # -- running -----------------------------------------------------------------------

    async def run(self, on_started: Callable[[], None]) -> None:
        self._restart_times = []
        try:
            if self._stop_requested:
                return  # stopped before it could start: nothing runs yet
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if await self._start_all():
                    on_started()
                await self._supervise()
        except BaseExceptionGroup as group:
            raise single_cause(group) from None
        finally:
            self._nursery = None
            self._reset_stop()

    def _reset_stop(self) -> None:
        """A later run (a restart) starts afresh: no stop, no events of this run."""
        self._stop_requested = False
        self._stopped = trio.Event()
        while True:
            try:
                self._events.receive_nowait()
            except trio.WouldBlock:
                break

    async def _start_all(self) -> bool:
        """Start the children in order; False if a stop came first."""
        for child in self.children:
            if not await self._start_until_running(child):
                return False
        return True

    async def _supervise(self) -> None:
        while True:
            event = await self._events.receive()
            if isinstance(event, _StopRequested):
                await self._stop_children(self.children, drain=True)
                return
            await self._on_exit(event.child, event.error)

    async def _start_until_running(self, child: Child) -> bool:
        """Start one child; a start failure counts against the restart intensity.

        False when a stop is requested first (the child is then not running).
        """
        while not self._stop_requested:
            error = await self._start(child)
            if error is None:
                return True
            if self._stop_requested:
                break  # stopped while starting: not a failure
            child.record_failure(error)
            _log_failure(self.name, child.name, error, "start")
            if child.is_fatal(error):
                await self._escalate(child, error, fatal=True)
            await self._before_restart(child, error)
            if not self._stop_requested:
                child.restarts += 1
        return False

    async def _start(self, child: Child) -> Exception | None:
        assert self._nursery is not None  # invariant: only called inside run()
        self._starting = child
        try:
            result = await self._nursery.start(self._child_task, child)
        finally:
            self._starting = None
        return result if isinstance(result, Exception) else None

    async def _child_task(self, child: Child, task_status: trio.TaskStatus[object]) -> None:
        running = _Running()
        self._running[child.name] = running
        started = False

        def on_started() -> None:
            nonlocal started
            started = True
            task_status.started(None)

        error: Exception | None = None
        try:
            with running.scope:
                await child.run(on_started)
        except Exception as exc:
            error = exc
        except BaseException:
            child.finalize()  # cancelled from outside: a forced stop
            raise
        finally:
            running.done.set()
            if self._running.get(child.name) is running:
                del self._running[child.name]
        if not started:
            task_status.started(error or RuntimeError(f"{child.name} exited while starting"))
        elif self._stop_requested and not running.stopping and error is not None:
            # Failed while the stop drains the others: logged, never restarted.
            child.record_failure(error)
            _log_failure(self.name, child.name, error, "stop")
        elif not running.stopping and not self._stop_requested:
            self._events_in.send_nowait(_Exited(child, error))

    # -- restarts ----------------------------------------------------------------------

    async def _on_exit(self, child: Child, error: Exception | None) -> None:
        if error is not None:
            child.record_failure(error)
            _log_failure(self.name, child.name, error, "run")
            if child.is_fatal(error):
                await self._escalate(child, error, fatal=True)
        if not _should_restart(child.restart_type, error):
            child.finalize(failed=error is not None)
            return
        affected = self._affected_by(child)
        await self._stop_children([c for c in affected if c is not child], drain=False)
        await self._before_restart(child, error)
        for restarting in affected:
            if self._stop_requested:
                return  # the stop that interrupted the backoff finalizes them
            restarting.restarts += 1
            log.info("actor.restarting", extra={"fields": {"actor": restarting.name}})
            await self._start_until_running(restarting)

    def _affected_by(self, child: Child) -> list[Child]:
        if self.spec.strategy is Strategy.ONE_FOR_ALL:
            return list(self.children)
        if self.spec.strategy is Strategy.REST_FOR_ONE:
            return self.children[self.children.index(child) :]
        return [child]

    async def _before_restart(self, child: Child, error: Exception | None) -> None:
        """Apply the restart intensity (escalating past it) and wait the backoff."""
        now = trio.current_time()
        window = self.spec.restart_window
        self._restart_times = [t for t in self._restart_times if now - t < window]
        if self._stop_requested:
            return
        if len(self._restart_times) >= self.spec.max_restarts:
            await self._escalate(child, error)
        self._restart_times.append(now)
        with trio.move_on_after(self.spec.backoff(len(self._restart_times))):
            await self._stopped.wait()  # a stop ends the backoff at once

    async def _escalate(
        self, child: Child, error: Exception | None, *, fatal: bool = False
    ) -> None:
        cause: BaseException = error or RuntimeError(f"{child.name} exited")
        actor = child.name
        if isinstance(cause, EscalationError):
            fatal = cause.fatal or fatal
            actor, cause = cause.actor, cause.cause
        log.error(
            "supervisor.escalating",
            extra={
                "fields": {
                    "supervisor": self.name,
                    "actor": actor,
                    "fatal": fatal,
                    "error": describe(cause),
                }
            },
        )
        await self._stop_children(self.children, drain=True)
        self.finalize(failed=True)
        raise EscalationError(self.name, actor, cause, fatal=fatal) from cause

    # -- stopping ----------------------------------------------------------------------

    async def _stop_children(self, children: Sequence[Child], *, drain: bool) -> None:
        """Stop in reverse start order; each gets its deadline, then is cancelled."""
        for child in reversed(children):
            await self._stop_child(child, drain=drain)
            if drain:
                child.finalize()

    async def _stop_child(self, child: Child, *, drain: bool) -> None:
        running = self._running.get(child.name)
        if running is None:
            return
        running.stopping = True
        child.request_stop(drain=drain)
        if drain:
            await child.wait_drained()  # the work in progress, within the grace period
        with trio.move_on_after(child.stop_timeout):
            await running.done.wait()
        if not running.done.is_set():
            log.warning(
                "actor.stop.deadline",
                extra={"fields": {"actor": child.name, "seconds": child.stop_timeout}},
            )
            running.scope.cancel()
            await running.done.wait()


def _should_restart(restart: Restart, error: Exception | None) -> bool:
    if restart is Restart.PERMANENT:
        return True
    return restart is Restart.TRANSIENT and error is not None


def _log_failure(supervisor: str, actor: str, error: BaseException, phase: str) -> None:
    if isinstance(error, EscalationError):
        return  # the supervisor below logged it when it gave up
    log.error(
        "actor.failed",
        extra={
            "fields": {
                "supervisor": supervisor,
                "actor": actor,
                "phase": phase,
                "error": describe(error),
            }
        },
        # A TauroError says what is wrong and what to do; anything else is a bug
        # whose traceback the operator will want.
        exc_info=None if isinstance(error, TauroError) else error,
    )
