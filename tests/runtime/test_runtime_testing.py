"""The test kit itself: probes, faults, and swapping an actor in a spec."""

from __future__ import annotations

import dataclasses
from functools import partial
from types import ModuleType

import pytest
import trio
import trio.testing

from tauro.runtime import ActorSpec, Restart, SupervisorSpec, open_actor_system
from tauro.runtime.testing import (
    FaultyActor,
    InjectedFault,
    ProbeActor,
    crash_actor,
    replace_actor,
    unfrozen_classes,
    wait_restarted,
)

Clock = trio.testing.MockClock


def production() -> SupervisorSpec:
    return SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="memory", factory=ProbeActor, restart=Restart.TRANSIENT, mailbox_size=3),
            SupervisorSpec(name="inner", children=(ActorSpec(name="llm", factory=ProbeActor),)),
        ),
    )


async def test_expect_message_and_expect_no_message(autojump_clock: Clock) -> None:
    probe = ProbeActor()
    spec = replace_actor(production(), "llm", lambda: probe)
    async with open_actor_system(spec) as system:
        await system.ref("llm").tell("hello")
        assert await probe.expect_message(of_type=str) == "hello"
        await probe.expect_no_message(duration=5)
        with pytest.raises(AssertionError, match="no message within 2 s"):
            await probe.expect_message(timeout=2)
        await system.ref("llm").tell(42)
        with pytest.raises(AssertionError, match="expected a str, got 42"):
            await probe.expect_message(of_type=str)
        await system.ref("llm").tell("unexpected")
        with pytest.raises(AssertionError, match="expected no message, got 'unexpected'"):
            await probe.expect_no_message(duration=5)


async def test_replace_actor_keeps_everything_else() -> None:
    original = production()
    probe = ProbeActor()
    replaced = replace_actor(original, "memory", lambda: probe)
    memory = next(s for s in replaced.walk() if s.name == "memory")
    assert isinstance(memory, ActorSpec)
    assert (memory.restart, memory.mailbox_size) == (Restart.TRANSIENT, 3)
    assert memory.factory() is probe
    assert [s.name for s in replaced.walk()] == [s.name for s in original.walk()]
    with pytest.raises(KeyError, match="no actor named 'nope'"):
        replace_actor(original, "nope", ProbeActor)


async def test_faulty_actor_fails_as_configured(autojump_clock: Clock) -> None:
    faulty = FaultyActor(fail_starts=1, fail_when=lambda m: m == "bad", reply=lambda m: "ok")
    spec = replace_actor(production(), "llm", lambda: faulty)
    async with open_actor_system(spec) as system:
        assert faulty.starts == 2  # the first start failed and was retried
        assert await system.ref("llm").ask("good") == "ok"
        with pytest.raises(InjectedFault):
            await system.ref("llm").ask("bad")


def itself(probe: ProbeActor) -> ProbeActor:
    """A factory's body that hands out the same probe at every (re)start."""
    return probe


async def test_crash_actor_restarts_that_actor_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probes = {name: ProbeActor() for name in ("a", "b")}
    spec = SupervisorSpec(
        name="root",
        children=tuple(ActorSpec(name=n, factory=partial(itself, p)) for n, p in probes.items()),
    )
    async with open_actor_system(spec) as system:
        crash_actor(system, "a")
        await wait_restarted(system, "a", restarts=1)
        assert (probes["a"].starts, probes["b"].starts) == (2, 1)
        assert system.statistics().actor("a").last_error == "InjectedFault: injected crash of a"


def test_unfrozen_classes_names_every_class_that_could_change() -> None:
    @dataclasses.dataclass(frozen=True)
    class Frozen:
        value: int

    @dataclasses.dataclass
    class Mutable:
        value: int

    class Plain:
        pass

    module = ModuleType("messages")
    for cls in (Frozen, Mutable, Plain):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    module.Imported = trio.Event  # type: ignore[attr-defined]  # defined elsewhere: not its own
    assert unfrozen_classes(module) == ["Mutable", "Plain"]
