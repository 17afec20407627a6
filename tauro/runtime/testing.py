"""The test kit: probe and fault-injecting actors, and swapping them into a spec.

Shipped in the package so that users writing their own actors can test them the
way TauroBot's own tests do::

    probe = ProbeActor(reply=lambda message: "ok")
    spec = replace_actor(production_spec, "memory", lambda: probe)
    async with open_actor_system(spec) as system:
        ...
        message = await probe.expect_message(timeout=1)
        await probe.expect_no_message(duration=1)

``crash_actor`` makes one running actor of a real system fail, so its
supervisor restarts it alone: what it needs after a restart must come back.
``unfrozen_classes`` checks that a module's messages are frozen dataclasses.

Timeouts use trio's clock, so these work under ``trio.testing.MockClock``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import trio

from tauro.runtime._actor import Actor
from tauro.runtime._spec import ActorSpec, SupervisorSpec
from tauro.runtime._statistics import ActorState
from tauro.runtime._system import ActorSystem

__all__ = [
    "FaultyActor",
    "InjectedFault",
    "ProbeActor",
    "crash_actor",
    "replace_actor",
    "unfrozen_classes",
    "wait_restarted",
]

T = TypeVar("T")


class InjectedFault(Exception):
    """The error a FaultyActor raises on purpose."""


class ProbeActor(Actor[Any]):
    """Records every message it receives and answers asks with ``reply(message)``.

    One instance can serve every restart of its slot (``lambda: probe``), so a
    test keeps its view across restarts.
    """

    def __init__(self, reply: Callable[[Any], object] | None = None) -> None:
        self.received: list[Any] = []
        self.starts = 0
        self.stops = 0
        self._reply = reply
        self._inbox_in, self._inbox = trio.open_memory_channel[Any](math.inf)

    async def on_start(self) -> None:
        self.starts += 1

    async def on_stop(self) -> None:
        self.stops += 1

    async def handle(self, message: Any) -> object:
        self.received.append(message)
        self._inbox_in.send_nowait(message)
        return self._reply(message) if self._reply is not None else None

    async def expect_message(self, timeout: float = 1.0, of_type: type[T] | None = None) -> Any:
        """The next message not yet expected; AssertionError if none comes in time."""
        with trio.move_on_after(timeout):
            message = await self._inbox.receive()
            if of_type is not None and not isinstance(message, of_type):
                raise AssertionError(f"expected a {of_type.__name__}, got {message!r}")
            return message
        raise AssertionError(f"no message within {timeout:g} s")

    async def expect_no_message(self, duration: float = 1.0) -> None:
        """AssertionError if a message arrives within ``duration`` seconds."""
        with trio.move_on_after(duration):
            message = await self._inbox.receive()
            raise AssertionError(f"expected no message, got {message!r}")


class FaultyActor(ProbeActor):
    """A probe that fails on purpose: at start, on chosen messages, or when stopping.

    ``fail_starts`` makes the first N starts fail; ``fail_when(message)`` picks
    the messages whose handling raises; ``hang_on_stop`` makes ``on_stop`` block
    until its cleanup deadline.
    """

    def __init__(
        self,
        *,
        fail_starts: int = 0,
        fail_when: Callable[[Any], bool] | None = None,
        hang_on_stop: bool = False,
        reply: Callable[[Any], object] | None = None,
    ) -> None:
        super().__init__(reply)
        self.fail_starts = fail_starts
        self.fail_when = fail_when
        self.hang_on_stop = hang_on_stop

    async def on_start(self) -> None:
        await super().on_start()
        if self.starts <= self.fail_starts:
            raise InjectedFault(f"injected start failure {self.starts}")

    async def handle(self, message: Any) -> object:
        result = await super().handle(message)
        if self.fail_when is not None and self.fail_when(message):
            raise InjectedFault(f"injected failure on {message!r}")
        return result

    async def on_stop(self) -> None:
        await super().on_stop()
        if self.hang_on_stop:
            await trio.sleep_forever()


def replace_actor(
    spec: SupervisorSpec, name: str, factory: Callable[[], Actor[Any]]
) -> SupervisorSpec:
    """A copy of ``spec`` in which the actor ``name`` is made by ``factory``.

    Everything else (restart type, mailbox, deadlines, the other actors) stays.
    """
    if name not in {child.name for child in spec.walk() if isinstance(child, ActorSpec)}:
        raise KeyError(f"no actor named {name!r} in supervisor {spec.name!r}")
    return _replaced(spec, name, factory)


def _replaced(spec: SupervisorSpec, name: str, factory: Callable[[], Actor[Any]]) -> SupervisorSpec:
    children: list[ActorSpec | SupervisorSpec] = []
    for child in spec.children:
        if isinstance(child, SupervisorSpec):
            children.append(_replaced(child, name, factory))
        elif child.name == name:
            children.append(dataclasses.replace(child, factory=factory))
        else:
            children.append(child)
    return dataclasses.replace(spec, children=tuple(children))


def crash_actor(system: ActorSystem, name: str) -> None:
    """Make the running actor ``name`` fail (``InjectedFault``) as if its own task had raised.

    Its supervisor sees an ordinary failure and restarts it by its strategy
    (with TauroBot's one_for_one, that actor alone).
    """
    cell = system._cells[name]
    if cell._instance is None:
        raise RuntimeError(f"actor {name!r} is not running ({cell.state.value})")
    _, background = cell._instance

    async def fail() -> None:
        raise InjectedFault(f"injected crash of {name}")

    background.start_soon(fail)


async def wait_restarted(
    system: ActorSystem, name: str, *, restarts: int, timeout: float = 30.0
) -> None:
    """Wait until ``name`` has been restarted ``restarts`` times and runs again."""
    with trio.fail_after(timeout):
        while True:
            stats = system.statistics().actor(name)
            if stats.restarts >= restarts and stats.state is ActorState.RUNNING:
                return
            await trio.sleep(0.01)


def unfrozen_classes(module: ModuleType) -> list[str]:
    """The names of the classes defined in ``module`` that are not frozen dataclasses.

    Messages cross tasks and actors, so none may change once it is sent: a test of
    an actor's messages module asserts that this list is empty.
    """
    own = [
        c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__
    ]
    params = {c.__name__: getattr(c, "__dataclass_params__", None) for c in own}
    return [name for name, p in params.items() if p is None or not p.frozen]
