"""Restart strategies and types, intensity, backoff, escalation, nesting, ordered stop."""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from tauro.errors import EscalationError
from tauro.runtime import (
    Actor,
    ActorSpec,
    ActorState,
    ActorSystem,
    Restart,
    Strategy,
    SupervisorSpec,
    open_actor_system,
)
from tauro.runtime.testing import FaultyActor, InjectedFault, ProbeActor

Clock = trio.testing.MockClock


def itself(probe: FaultyActor) -> FaultyActor:
    """A factory's body that hands out the same probe at every (re)start."""
    return probe


def crashing(**kwargs: Any) -> FaultyActor:
    return FaultyActor(fail_when=lambda m: m == "crash", **kwargs)


def three(strategy: Strategy, probes: dict[str, FaultyActor], **kw: Any) -> SupervisorSpec:
    return SupervisorSpec(
        name="root",
        strategy=strategy,
        backoff_initial=0.5,
        children=tuple(ActorSpec(name=n, factory=partial(itself, p)) for n, p in probes.items()),
        **kw,
    )


def starts(probes: dict[str, FaultyActor]) -> dict[str, int]:
    return {name: probe.starts for name, probe in probes.items()}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.ONE_FOR_ONE, {"a": 1, "b": 2, "c": 1}),
        (Strategy.ONE_FOR_ALL, {"a": 2, "b": 2, "c": 2}),
        (Strategy.REST_FOR_ONE, {"a": 1, "b": 2, "c": 2}),
    ],
)
async def test_strategies_restart_the_right_children(
    strategy: Strategy, expected: dict[str, int], autojump_clock: Clock
) -> None:
    probes = {name: crashing() for name in "abc"}
    async with open_actor_system(three(strategy, probes)) as system:
        await system.ref("b").tell("crash")
        await trio.sleep(5)
        assert starts(probes) == expected
        assert system.statistics().actor("b").restarts == 1
        assert (
            system.statistics().actor("b").last_error
            == "InjectedFault: injected failure on 'crash'"
        )


async def test_the_mailbox_survives_a_restart(autojump_clock: Clock) -> None:
    probe = crashing()
    spec = three(Strategy.ONE_FOR_ONE, {"a": probe})
    async with open_actor_system(spec) as system:
        await system.ref("a").tell("crash")
        await system.ref("a").tell("after")  # waits in the mailbox during the backoff
        await trio.sleep(5)
        assert probe.received == ["crash", "after"]


@pytest.mark.parametrize(
    ("restart", "exit_kind", "restarted"),
    [
        (Restart.PERMANENT, "normal", True),
        (Restart.PERMANENT, "crash", True),
        (Restart.TRANSIENT, "normal", False),
        (Restart.TRANSIENT, "crash", True),
        (Restart.TEMPORARY, "crash", False),
    ],
)
async def test_restart_types(
    restart: Restart, exit_kind: str, restarted: bool, autojump_clock: Clock
) -> None:
    class StopsItself(FaultyActor):
        async def handle(self, message: Any) -> object:
            if message == "exit":
                self.context.request_stop()
            return await super().handle(message)

    probe = StopsItself(fail_when=lambda m: m == "crash")
    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="a", factory=lambda: probe, restart=restart),
            ActorSpec(name="other", factory=ProbeActor),
        ),
    )
    async with open_actor_system(spec) as system:
        await system.ref("a").tell("exit" if exit_kind == "normal" else "crash")
        await trio.sleep(5)
        assert probe.starts == (2 if restarted else 1)
        state = system.statistics().actor("a").state
        assert (state is ActorState.RUNNING) == restarted
        assert system.statistics().actor("other").state is ActorState.RUNNING


async def test_backoff_doubles_up_to_its_maximum(autojump_clock: Clock) -> None:
    restart_times: list[float] = []

    class Recorder(FaultyActor):
        async def on_start(self) -> None:
            restart_times.append(trio.current_time())
            await super().on_start()

    recorder = Recorder(fail_starts=5)
    spec = SupervisorSpec(
        name="root",
        max_restarts=10,
        restart_window=1000,
        backoff_initial=1,
        backoff_max=4,
        children=(ActorSpec(name="a", factory=lambda: recorder),),
    )
    async with open_actor_system(spec):
        pass
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(restart_times)]
    assert gaps == [1, 2, 4, 4, 4]


async def test_intensity_exceeded_stops_children_in_order_and_escalates(
    autojump_clock: Clock,
) -> None:
    stopped: list[str] = []

    class Tracked(FaultyActor):
        def __init__(self, name: str) -> None:
            super().__init__(fail_when=lambda m: m == "crash")
            self.name = name

        async def on_stop(self) -> None:
            stopped.append(self.name)

    spec = SupervisorSpec(
        name="root",
        max_restarts=2,
        restart_window=60,
        backoff_initial=0.1,
        children=tuple(ActorSpec(name=n, factory=partial(Tracked, n)) for n in "abc"),
    )
    with pytest.raises(EscalationError) as caught:
        async with open_actor_system(spec) as system:
            for _ in range(3):
                await system.ref("b").tell("crash")
                await trio.sleep(1)
            await trio.sleep_forever()
    assert caught.value.actor == "b"
    assert caught.value.supervisor == "root"
    assert isinstance(caught.value.cause, InjectedFault)
    # three crashes of b, then the final ordered stop of the survivors: c then a
    assert stopped == ["b", "b", "b", "c", "a"]
    assert system.statistics().actor("b").state is ActorState.FAILED


async def test_failures_outside_the_window_do_not_add_up(autojump_clock: Clock) -> None:
    probe = crashing()
    spec = SupervisorSpec(
        name="root",
        max_restarts=1,
        restart_window=10,
        children=(ActorSpec(name="a", factory=lambda: probe),),
    )
    async with open_actor_system(spec) as system:
        for _ in range(4):
            await system.ref("a").tell("crash")
            await trio.sleep(11)
        assert probe.starts == 5


async def test_nested_supervisor_escalates_to_its_parent_which_restarts_it(
    autojump_clock: Clock,
) -> None:
    inner_probe = crashing()
    sibling = ProbeActor()
    inner = SupervisorSpec(
        name="inner",
        max_restarts=0,
        children=(ActorSpec(name="worker", factory=lambda: inner_probe),),
    )
    spec = SupervisorSpec(
        name="root",
        max_restarts=3,
        children=(ActorSpec(name="sibling", factory=lambda: sibling), inner),
    )
    async with open_actor_system(spec) as system:
        await system.ref("worker").tell("crash")
        await trio.sleep(5)
        assert inner_probe.starts == 2  # the parent restarted the whole inner supervisor
        assert sibling.starts == 1
        assert await system.ref("worker").ask("ping") is None


async def test_escalation_through_two_levels_names_the_failing_actor(autojump_clock: Clock) -> None:
    inner = SupervisorSpec(
        name="inner", max_restarts=0, children=(ActorSpec(name="worker", factory=crashing),)
    )
    spec = SupervisorSpec(name="root", max_restarts=0, children=(inner,))
    with pytest.raises(EscalationError) as caught:
        async with open_actor_system(spec) as system:
            await system.ref("worker").tell("crash")
            await trio.sleep_forever()
    assert (caught.value.supervisor, caught.value.actor) == ("root", "worker")


async def test_start_failures_count_against_the_intensity(autojump_clock: Clock) -> None:
    spec = SupervisorSpec(
        name="root",
        max_restarts=2,
        children=(ActorSpec(name="a", factory=lambda: FaultyActor(fail_starts=9)),),
    )
    with pytest.raises(EscalationError, match="'a'"):
        async with open_actor_system(spec):
            pass


async def test_shutdown_stops_children_in_reverse_start_order_after_draining(
    autojump_clock: Clock,
) -> None:
    events: list[str] = []

    class Worker(Actor[Any]):
        def __init__(self, name: str) -> None:
            self.name = name

        async def handle(self, message: Any) -> object:
            await trio.sleep(1)
            events.append(f"{self.name} handled {message}")
            return None

        async def on_stop(self) -> None:
            events.append(f"{self.name} stopped")

    spec = SupervisorSpec(
        name="root",
        children=tuple(
            ActorSpec(name=n, factory=partial(Worker, n)) for n in ("memory", "llm", "telegram")
        ),
    )
    async with open_actor_system(spec) as system:
        for name in ("memory", "telegram"):
            for n in range(2):
                await system.ref(name).tell(n)
    stops = [event for event in events if event.endswith("stopped")]
    assert stops == ["telegram stopped", "llm stopped", "memory stopped"]
    for name in ("memory", "telegram"):  # each drained its mailbox before it stopped
        handled = [i for i, e in enumerate(events) if e.startswith(f"{name} handled")]
        assert len(handled) == 2
        assert max(handled) < events.index(f"{name} stopped")


async def test_a_child_past_its_stop_deadline_is_cancelled_and_the_rest_still_stop(
    autojump_clock: Clock,
) -> None:
    class Stuck(Actor[Any]):
        async def handle(self, message: Any) -> object:
            await trio.sleep_forever()
            return None

    memory = ProbeActor()
    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="memory", factory=lambda: memory),
            ActorSpec(name="stuck", factory=Stuck, stop_timeout=2, cleanup_timeout=1),
        ),
    )
    async with open_actor_system(spec) as system:
        await system.ref("stuck").tell("hang")
        stop_began = trio.current_time()
    assert trio.current_time() - stop_began == pytest.approx(2)
    assert memory.stops == 1
    assert system.statistics().actor("stuck").state is ActorState.STOPPED


async def test_cleanup_runs_shielded_to_completion_while_the_system_is_force_cancelled(
    autojump_clock: Clock,
) -> None:
    flushed: list[float] = []

    class Flusher(Actor[Any]):
        async def on_stop(self) -> None:
            await trio.sleep(3)  # a flush that takes a while
            flushed.append(trio.current_time())

    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="memory", factory=Flusher, cleanup_timeout=10),
            ActorSpec(
                name="other", factory=lambda: FaultyActor(hang_on_stop=True), cleanup_timeout=1
            ),
        ),
    )
    async with open_actor_system(spec) as system:
        start = trio.current_time()
        system.force_stop()
        await trio.sleep_forever()  # cancelled by force_stop
    assert flushed
    assert flushed[0] - start == pytest.approx(3)


async def test_cleanup_past_its_own_deadline_is_abandoned(autojump_clock: Clock) -> None:
    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="a", factory=lambda: FaultyActor(hang_on_stop=True), cleanup_timeout=4),
        ),
    )
    async with open_actor_system(spec):
        start = trio.current_time()
    assert trio.current_time() - start == pytest.approx(4)


async def test_background_task_failure_crashes_and_restarts_the_actor(
    autojump_clock: Clock,
) -> None:
    class WithLoop(ProbeActor):
        async def on_start(self) -> None:
            await super().on_start()
            if self.starts == 1:
                self.context.start_soon(self.explode)

        async def explode(self) -> None:
            await trio.sleep(1)
            raise InjectedFault("loop died")

    probe = WithLoop()
    spec = SupervisorSpec(name="root", children=(ActorSpec(name="a", factory=lambda: probe),))
    async with open_actor_system(spec) as system:
        await trio.sleep(5)
        assert probe.starts == 2
        assert system.statistics().actor("a").last_error == "InjectedFault: loop died"


class Refused(Exception):
    """Stands for a refused credential: restarting cannot fix it."""


async def test_a_fatal_error_escalates_at_once_through_every_level(autojump_clock: Clock) -> None:
    class Refusing(FaultyActor):
        async def on_start(self) -> None:
            await super().on_start()
            raise Refused("token refused")

    refusing = Refusing()
    inner = SupervisorSpec(
        name="channels",
        max_restarts=5,
        children=(ActorSpec(name="telegram", factory=lambda: refusing, fatal_errors=(Refused,)),),
    )
    spec = SupervisorSpec(name="root", max_restarts=5, children=(inner,))
    with pytest.raises(EscalationError) as caught:
        async with open_actor_system(spec):
            pass
    assert refusing.starts == 1  # never restarted, neither alone nor with its supervisor
    assert caught.value.fatal
    assert (caught.value.supervisor, caught.value.actor) == ("root", "telegram")
    assert "fatal error that restarting cannot fix" in str(caught.value)
    assert trio.current_time() == 0  # no backoff was waited


async def test_errors_not_marked_fatal_are_still_restarted(autojump_clock: Clock) -> None:
    probe = crashing()
    spec = SupervisorSpec(
        name="root", children=(ActorSpec(name="a", factory=lambda: probe, fatal_errors=(Refused,)),)
    )
    async with open_actor_system(spec) as system:
        await system.ref("a").tell("crash")
        await trio.sleep(5)
        assert probe.starts == 2


# -- a graceful stop is honoured whatever state an actor is in -----------------------


class HangingStart(ProbeActor):
    """Starts the way a channel that cannot reach its server does: never, until stopped."""

    def __init__(self, *, hang_from_start: int = 1) -> None:
        super().__init__()
        self.hang_from_start = hang_from_start
        self.cancelled_starts = 0

    async def on_start(self) -> None:
        await super().on_start()
        if self.starts >= self.hang_from_start:
            try:
                await trio.sleep_forever()
            finally:
                self.cancelled_starts += 1


def channels_tree(channel: ProbeActor, memory: ProbeActor, **kw: Any) -> SupervisorSpec:
    """memory, then a nested supervisor with the channel: TauroBot's shape."""
    return SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="memory", factory=lambda: memory),
            SupervisorSpec(
                name="channels",
                children=(ActorSpec(name="channel", factory=lambda: channel),),
                **kw,
            ),
        ),
    )


async def run_then_stop(system: ActorSystem, stop_at: float) -> float:
    """Run ``system``, request a graceful stop at ``stop_at``; seconds the stop took."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep_until(stop_at)
        system.request_stop()
    return trio.current_time() - stop_at


async def test_a_stop_while_an_actor_is_starting_cancels_the_start(autojump_clock: Clock) -> None:
    channel, memory = HangingStart(), ProbeActor()
    system = ActorSystem(channels_tree(channel, memory))
    took = await run_then_stop(system, stop_at=10)
    assert took == 0
    assert (channel.starts, channel.cancelled_starts, channel.stops) == (1, 1, 1)
    assert memory.stops == 1  # the rest stopped in order, memory last
    states = {a.name: a.state for a in system.statistics().actors}
    assert states == {"memory": ActorState.STOPPED, "channel": ActorState.STOPPED}


async def test_a_stop_during_a_restart_backoff_ends_it_without_restarting(
    autojump_clock: Clock,
) -> None:
    channel, memory = FaultyActor(fail_starts=100), ProbeActor()
    system = ActorSystem(
        channels_tree(channel, memory, backoff_initial=50, backoff_max=50, max_restarts=100)
    )
    took = await run_then_stop(system, stop_at=10)  # the first backoff lasts until 50
    assert took == 0
    assert channel.starts == 1  # no start after the stop
    assert system.statistics().actor("channel").state is ActorState.STOPPED
    assert memory.stops == 1


class CrashThenHang(HangingStart):
    """Runs, crashes on "crash", and its restart then hangs in on_start."""

    async def handle(self, message: Any) -> object:
        await super().handle(message)
        if message == "crash":
            raise InjectedFault("crash")
        return None


async def test_a_stop_while_a_restart_is_starting_cancels_it(autojump_clock: Clock) -> None:
    channel, memory = CrashThenHang(hang_from_start=2), ProbeActor()
    system = ActorSystem(channels_tree(channel, memory, backoff_initial=1))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep(1)
        await system.ref("channel").tell("crash")
        await trio.sleep(10)  # the restart (after a 1 s backoff) hangs in on_start
        assert system.statistics().actor("channel").state is ActorState.STARTING
        system.request_stop()
    assert trio.current_time() == 11
    assert (channel.starts, channel.cancelled_starts) == (2, 1)
    assert system.statistics().actor("channel").state is ActorState.STOPPED
    assert memory.stops == 1


async def test_a_stop_after_a_crash_does_not_restart(autojump_clock: Clock) -> None:
    channel, memory = crashing(), ProbeActor()
    system = ActorSystem(channels_tree(channel, memory, backoff_initial=30))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep(1)
        await system.ref("channel").tell("crash")
        await trio.sleep(1)  # in the 30 s backoff now
        assert system.statistics().actor("channel").state is ActorState.RESTARTING
        system.request_stop()
    assert trio.current_time() == 2
    assert channel.starts == 1
    assert system.statistics().actor("channel").state is ActorState.STOPPED


async def test_a_stop_of_a_running_system_drains_and_stops_at_once(autojump_clock: Clock) -> None:
    channel, memory = ProbeActor(), ProbeActor()
    system = ActorSystem(channels_tree(channel, memory))
    took = await run_then_stop(system, stop_at=10)
    assert took == 0
    assert (channel.stops, memory.stops) == (1, 1)


async def test_a_failure_during_a_stop_is_recorded_not_restarted(
    autojump_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    class SlowDrain(ProbeActor):
        async def drain(self) -> None:
            await trio.sleep(10)

    failing, slow = crashing(), SlowDrain()
    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="failing", factory=lambda: failing),
            ActorSpec(name="slow", factory=lambda: slow),
        ),
    )
    async with trio.open_nursery() as nursery:
        system = ActorSystem(spec)
        await nursery.start(system.run)
        system.request_stop()  # "slow" drains for 10 s; "failing" fails meanwhile
        await system.ref("failing").tell("crash")
    assert failing.starts == 1
    stats = system.statistics().actor("failing")
    assert (stats.failures, stats.state) == (1, ActorState.STOPPED)
    assert "actor.failed" in caplog.messages
