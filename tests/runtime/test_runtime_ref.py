"""tell, try_tell and ask: delivery, backpressure, timeouts, errors."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from tauro.errors import ActorNotRunningError, AskTimeoutError
from tauro.runtime import Actor, ActorSpec, ActorState, SupervisorSpec, open_actor_system
from tauro.runtime.testing import ProbeActor


class Slow(Actor[Any]):
    """Handles each message after ``delay`` seconds; raises on 'boom'."""

    def __init__(self, delay: float = 10.0) -> None:
        self.delay = delay

    async def handle(self, message: Any) -> object:
        await trio.sleep(self.delay)
        if message == "boom":
            raise ValueError("boom!")
        return message


def system_of(*actors: ActorSpec) -> SupervisorSpec:
    return SupervisorSpec(name="root", children=actors)


async def test_ask_returns_the_handlers_reply() -> None:
    probe = ProbeActor(reply=lambda m: m * 2)
    async with open_actor_system(system_of(ActorSpec(name="p", factory=lambda: probe))) as system:
        assert await system.ref("p").ask(21) == 42


async def test_ask_times_out_with_the_actor_named(autojump_clock: trio.testing.MockClock) -> None:
    spec = system_of(ActorSpec(name="slow", factory=Slow, stop_timeout=1, cleanup_timeout=1))
    async with open_actor_system(spec) as system:
        start = trio.current_time()
        with pytest.raises(AskTimeoutError, match="'slow'.*within 2 s"):
            await system.ref("slow").ask("x", timeout=2)
        assert trio.current_time() - start == pytest.approx(2)


async def test_ask_timeout_defaults_to_the_spec(autojump_clock: trio.testing.MockClock) -> None:
    spec = system_of(ActorSpec(name="slow", factory=Slow, ask_timeout=3, stop_timeout=1))
    async with open_actor_system(spec) as system:
        start = trio.current_time()
        with pytest.raises(AskTimeoutError):
            await system.ref("slow").ask("x")
        assert trio.current_time() - start == pytest.approx(3)


async def test_an_error_while_handling_an_ask_goes_to_the_asker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = system_of(ActorSpec(name="slow", factory=lambda: Slow(0.1)))
    async with open_actor_system(spec) as system:
        with pytest.raises(ValueError, match="boom!"):
            await system.ref("slow").ask("boom")
        assert await system.ref("slow").ask("still alive") == "still alive"
        stats = system.statistics().actor("slow")
        assert (stats.restarts, stats.failures) == (0, 0)


async def test_tell_waits_while_the_mailbox_is_full(autojump_clock: trio.testing.MockClock) -> None:
    spec = system_of(ActorSpec(name="slow", factory=lambda: Slow(1.0), mailbox_size=2))
    async with open_actor_system(spec) as system:
        ref = system.ref("slow")
        start = trio.current_time()
        for n in range(5):  # 1 being handled + 2 waiting, then each tell waits a second
            await ref.tell(n)
        assert trio.current_time() - start == pytest.approx(2)
        assert system.statistics().actor("slow").mailbox_depth == 2


async def test_try_tell_never_waits_and_counts_drops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    spec = system_of(ActorSpec(name="slow", factory=lambda: Slow(1.0), mailbox_size=2))
    async with open_actor_system(spec) as system:
        ref = system.ref("slow")
        results = [ref.try_tell(n) for n in range(5)]
        # the idle actor takes the first message at once; two more fit the mailbox
        assert results == [True, True, True, False, False]
        assert system.statistics().actor("slow").drops == 2


async def test_messages_to_a_stopped_actor_fail_fast_and_are_dead_letters() -> None:
    probe = ProbeActor()
    async with open_actor_system(system_of(ActorSpec(name="p", factory=lambda: probe))) as system:
        ref = system.ref("p")
    with pytest.raises(ActorNotRunningError, match="'p'.*stopped"):
        await ref.ask("late")
    with pytest.raises(ActorNotRunningError):
        await ref.tell("late")
    assert ref.try_tell("late") is False
    assert system.statistics().actor("p").dead_letters == 3


async def test_pending_asks_fail_when_their_actor_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Asks still waiting in the mailbox when the stop deadline cancels the actor."""
    spec = system_of(ActorSpec(name="slow", factory=Slow, stop_timeout=1, cleanup_timeout=1))
    errors: list[BaseException] = []

    async def ask(ref: Any, n: int) -> None:
        try:
            await ref.ask(n, timeout=100)
        except ActorNotRunningError as error:
            errors.append(error)

    async with trio.open_nursery() as nursery, open_actor_system(spec) as system:
        for n in range(3):
            nursery.start_soon(ask, system.ref("slow"), n)
        await trio.sleep(0.5)
    assert len(errors) == 3
    assert trio.current_time() < 5  # nobody waited for the 100 s ask timeout


async def test_ask_to_a_stopping_actor_fails_fast(autojump_clock: trio.testing.MockClock) -> None:
    spec = system_of(ActorSpec(name="slow", factory=Slow, stop_timeout=5))
    async with open_actor_system(spec) as system:
        ref = system.ref("slow")
        ref.try_tell("keep it busy")
        system.request_stop()
        await trio.sleep(0.1)
        assert system.statistics().actor("slow").state is ActorState.STOPPING
        asked_at = trio.current_time()
        with pytest.raises(ActorNotRunningError, match="stopping"):
            await ref.ask("too late", timeout=100)
        assert trio.current_time() == asked_at
        with pytest.raises(ActorNotRunningError):
            ref.check_running()
