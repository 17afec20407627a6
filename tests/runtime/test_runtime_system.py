"""The system: references, statistics, readiness, forced stop, signals in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from tauro.runtime import (
    Actor,
    ActorSpec,
    ActorState,
    ActorSystem,
    SupervisorSpec,
    open_actor_system,
)
from tauro.runtime.testing import ProbeActor


async def test_refs_exist_before_start_and_unknown_names_are_explained() -> None:
    system = ActorSystem(
        SupervisorSpec(name="root", children=(ActorSpec(name="memory", factory=ProbeActor),))
    )
    assert system.ref("memory").name == "memory"
    assert system.statistics().actor("memory").state is ActorState.NEW
    with pytest.raises(KeyError, match=r"no actor named 'memry' \(actors: memory\)"):
        system.ref("memry")


async def test_actors_can_find_each_other_in_on_start() -> None:
    class Greeter(Actor[Any]):
        async def on_start(self) -> None:
            await self.context.ref("later").tell("hello from greeter")

    later = ProbeActor()
    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="greeter", factory=Greeter),
            ActorSpec(name="later", factory=lambda: later),
        ),
    )
    async with open_actor_system(spec):
        assert await later.expect_message() == "hello from greeter"


def itself(probe: ProbeActor) -> ProbeActor:
    """A factory's body that hands out the same probe at every (re)start."""
    return probe


async def test_readiness_waits_for_every_actor(autojump_clock: trio.testing.MockClock) -> None:
    class SlowStart(ProbeActor):
        async def on_start(self) -> None:
            await trio.sleep(3)
            await super().on_start()

    probes = [SlowStart(), SlowStart()]
    spec = SupervisorSpec(
        name="root",
        children=tuple(
            ActorSpec(name=f"a{i}", factory=partial(itself, p)) for i, p in enumerate(probes)
        ),
    )
    async with open_actor_system(spec) as system:
        assert trio.current_time() == pytest.approx(6)
        assert all(p.starts == 1 for p in probes)
        assert {a.state for a in system.statistics().actors} == {ActorState.RUNNING}


async def test_statistics_count_handled_messages_and_mailbox_depth() -> None:
    probe = ProbeActor()
    spec = SupervisorSpec(
        name="root", children=(ActorSpec(name="p", factory=lambda: probe, mailbox_size=7),)
    )
    async with open_actor_system(spec) as system:
        for n in range(3):
            await system.ref("p").ask(n)
        stats = system.statistics().actor("p")
        assert (stats.handled, stats.mailbox_capacity, stats.mailbox_depth) == (3, 7, 0)
        assert stats.supervisor == "root"
        assert system.statistics().dead_letters == 0


async def test_the_caller_block_ends_when_the_system_is_forced_to_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = SupervisorSpec(name="root", children=(ActorSpec(name="p", factory=ProbeActor),))
    async with open_actor_system(spec) as system:
        system.force_stop()
        await trio.sleep(1000)
        pytest.fail("the block should have been cancelled")
    assert system.statistics().actor("p").state is ActorState.STOPPED


_SIGNAL_SCRIPT = textwrap.dedent("""
    import sys, trio
    from tauro.runtime import Actor, ActorSpec, ActorSystem, SupervisorSpec, run_until_signalled

    class Flusher(Actor):
        async def on_stop(self):
            await trio.sleep(float(sys.argv[1]))
            print("flushed", flush=True)

    async def main():
        system = ActorSystem(SupervisorSpec(name="root", children=(
            ActorSpec(name="memory", factory=Flusher, cleanup_timeout=30),)))
        result = []

        async def run(task_status):
            result.append(await run_until_signalled(system, task_status=task_status))

        async with trio.open_nursery() as nursery:
            await nursery.start(run)
            print("ready", flush=True)
        return result[0]

    graceful = trio.run(main)
    print("graceful" if graceful else "forced", flush=True)
    sys.exit(0 if graceful else 130)
""")


def _start_script(flush_seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SIGNAL_SCRIPT, str(flush_seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_sigterm_stops_gracefully_with_exit_code_0() -> None:
    process = _start_script(flush_seconds=0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.split() == ["flushed", "graceful"]


def test_a_second_sigint_forces_the_stop_but_the_shielded_flush_completes() -> None:
    process = _start_script(flush_seconds=2.0)
    process.send_signal(signal.SIGINT)
    # wait until the graceful stop has begun (logged to stderr would need config; poll)
    trio.run(trio.sleep, 0.5)  # a real subprocess runs on real time
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert out.split() == ["flushed", "forced"]
