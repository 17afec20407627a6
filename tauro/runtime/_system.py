"""ActorSystem: builds the tree from a SupervisorSpec and runs it until stopped."""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio

from tauro.runtime._cell import Cell
from tauro.runtime._exceptions import single_cause
from tauro.runtime._ref import ActorRef
from tauro.runtime._spec import ActorSpec, SupervisorSpec
from tauro.runtime._statistics import SystemStatistics
from tauro.runtime._supervisor import Child, Supervisor

log = logging.getLogger("tauro.runtime")


class ActorSystem:
    """A tree of supervisors and actors built from one description.

    Every actor's reference exists from construction on, before anything runs,
    so actors may look each other up in any start order.
    """

    def __init__(self, spec: SupervisorSpec) -> None:
        self.spec = spec
        self._cells: dict[str, Cell] = {}
        self._root = self._build(spec)
        self._run_scope: trio.CancelScope | None = None
        self._stopping = False
        self._caller_scope: trio.CancelScope | None = None
        # Called with "ready" / "stopping", whatever the log level (systemd notify):
        self.lifecycle_listeners: list[Callable[[str], None]] = []

    def _announce(self, event: str) -> None:
        for listener in self.lifecycle_listeners:
            listener(event)

    def _build(self, spec: SupervisorSpec) -> Supervisor:
        children: list[Child] = []
        for child in spec.children:
            if isinstance(child, SupervisorSpec):
                children.append(self._build(child))
            else:
                children.append(self._make_cell(child, spec.name))
        return Supervisor(spec, children)

    def _make_cell(self, spec: ActorSpec, supervisor: str) -> Cell:
        cell = Cell(spec, supervisor, self.ref)
        self._cells[spec.name] = cell
        return cell

    def ref(self, name: str) -> ActorRef[Any]:
        """The reference of the actor named ``name`` in the spec."""
        try:
            return self._cells[name].ref
        except KeyError:
            known = ", ".join(sorted(self._cells))
            raise KeyError(f"no actor named {name!r} (actors: {known})") from None

    def statistics(self) -> SystemStatistics:
        return SystemStatistics(tuple(cell.statistics() for cell in self._cells.values()))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until a requested stop has completed; raise EscalationError on failure.

        ``task_status.started()`` is called once every actor has started and
        prepared (``Actor.prepare``): the moment ``system.ready`` is logged.
        """
        with trio.CancelScope() as self._run_scope:
            if self._stopping:
                return
            try:
                async with trio.open_nursery() as nursery:
                    await self._root.run(partial(nursery.start_soon, self._ready, task_status))
                    nursery.cancel_scope.cancel()  # stopped before every actor was up
            except BaseExceptionGroup as group:
                raise single_cause(group) from None

    async def _ready(self, task_status: trio.TaskStatus[None]) -> None:
        """Every actor has started; announce readiness once each has prepared too."""
        for cell in self._cells.values():
            await cell.up.wait()
        log.info("system.ready", extra={"fields": {"actors": len(self._cells)}})
        self._announce("ready")
        task_status.started()

    def request_stop(self) -> None:
        """Begin the graceful, ordered shutdown (idempotent)."""
        if not self._stopping:
            self._stopping = True
            log.info("system.stopping", extra={"fields": {"mode": "graceful"}})
            self._announce("stopping")
            self._root.request_stop(drain=True)

    def force_stop(self) -> None:
        """Cancel everything now; ``on_stop`` cleanups still run, shielded, with deadlines."""
        self._stopping = True
        log.warning("system.stopping", extra={"fields": {"mode": "forced"}})
        self._announce("stopping")
        if self._run_scope is not None:
            self._run_scope.cancel()


@asynccontextmanager
async def open_actor_system(spec: SupervisorSpec) -> AsyncIterator[ActorSystem]:
    """Start the system, yield it once every actor is ready, stop it gracefully on exit."""
    system = ActorSystem(spec)
    try:
        async with trio.open_nursery() as nursery:
            system._caller_scope = nursery.cancel_scope
            await nursery.start(_run_then_close, system)
            try:
                yield system
            finally:
                system.request_stop()
    except BaseExceptionGroup as group:
        raise single_cause(group) from None


async def _run_then_close(system: ActorSystem, task_status: trio.TaskStatus[None]) -> None:
    """Run the system; when it ends (stopped, forced or failed), end the caller's block too."""
    try:
        await system.run(task_status=task_status)
    finally:
        _cancel_caller(system)


def _cancel_caller(system: ActorSystem) -> None:
    if system._caller_scope is not None:
        system._caller_scope.cancel()


async def run_until_signalled(
    system: ActorSystem, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> bool:
    """Run the system; the first SIGINT/SIGTERM stops it gracefully, a second forces it.

    Returns True after a graceful stop, False after a forced one.
    """
    forced = False

    async def watch(signals: AsyncIterator[int]) -> None:
        nonlocal forced
        async for signum in signals:
            name = signal.Signals(signum).name
            if system._stopping and not forced:
                forced = True
                log.warning(
                    "signal.received", extra={"fields": {"signal": name, "action": "force"}}
                )
                system.force_stop()
            else:
                log.info("signal.received", extra={"fields": {"signal": name, "action": "stop"}})
                system.request_stop()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch, signals)
                await system.run(task_status=task_status)
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise single_cause(group) from None
    return not forced
