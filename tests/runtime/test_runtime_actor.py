"""What an actor sees: its context, background tasks, batches, hooks (drain, on_stop)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import outcome
import pytest
import trio
import trio.testing

from tauro.errors import ActorNotRunningError
from tauro.runtime import (
    Actor,
    ActorSpec,
    ActorState,
    ActorSystem,
    SupervisorSpec,
    open_actor_system,
)

Clock = trio.testing.MockClock


def one(name: str, factory: Any, **kw: Any) -> SupervisorSpec:
    return SupervisorSpec(name="root", children=(ActorSpec(name=name, factory=factory, **kw),))


async def test_context_is_unavailable_outside_a_run() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = Actor().context


async def test_batches_take_what_is_waiting_up_to_batch_size(autojump_clock: Clock) -> None:
    batches: list[list[int]] = []

    class Batcher(Actor[int]):
        batch_size = 3

        async def handle_batch(self, messages: Sequence[int]) -> Sequence[outcome.Outcome[object]]:
            batches.append(list(messages))
            await trio.sleep(1)
            return [outcome.Value(m * 10) for m in messages]

    async with open_actor_system(one("b", Batcher)) as system:
        ref = system.ref("b")
        replies: list[int] = []
        async with trio.open_nursery() as nursery:
            for n in range(6):
                nursery.start_soon(_ask_into, ref, n, replies)
                await trio.sleep(0.1)  # the first arrives alone, the rest queue behind it
    assert batches == [[0], [1, 2, 3], [4, 5]]
    assert sorted(replies) == [0, 10, 20, 30, 40, 50]


async def _ask_into(ref: Any, n: int, replies: list[int]) -> None:
    replies.append(await ref.ask(n))


async def test_a_failed_outcome_in_a_batch_goes_to_its_asker_only() -> None:
    class Picky(Actor[int]):
        batch_size = 5

        async def handle(self, message: int) -> object:
            if message == 2:
                raise ValueError("no twos")
            return message

    async with open_actor_system(one("p", Picky)) as system:
        with pytest.raises(ValueError, match="no twos"):
            await system.ref("p").ask(2)
        assert await system.ref("p").ask(3) == 3


async def test_background_tasks_run_until_the_actor_stops(autojump_clock: Clock) -> None:
    ticks: list[float] = []

    class Ticker(Actor[Any]):
        async def on_start(self) -> None:
            self.context.start_soon(self.tick)

        async def tick(self) -> None:
            while True:
                await trio.sleep(1)
                ticks.append(trio.current_time())

    async with open_actor_system(one("t", Ticker)):
        await trio.sleep(3.5)
    assert ticks == [1, 2, 3]


async def test_context_start_waits_for_readiness(autojump_clock: Clock) -> None:
    class Server(Actor[Any]):
        port: object = None

        async def on_start(self) -> None:
            self.port = await self.context.start(self.serve)

        async def serve(self, task_status: trio.TaskStatus[int]) -> None:
            await trio.sleep(2)
            task_status.started(8080)
            await trio.sleep_forever()

        async def handle(self, message: Any) -> object:
            return self.port

    async with open_actor_system(one("s", Server)) as system:
        assert trio.current_time() == 2
        assert await system.ref("s").ask("port?") == 8080


async def test_on_stop_runs_after_the_mailbox_is_drained(autojump_clock: Clock) -> None:
    log: list[str] = []

    class Writer(Actor[str]):
        async def handle(self, message: str) -> object:
            await trio.sleep(0.5)
            log.append(message)
            return None

        async def on_stop(self) -> None:
            log.append("flush")

    async with open_actor_system(one("w", Writer)) as system:
        for text in ("a", "b", "c"):
            await system.ref("w").tell(text)
    assert log == ["a", "b", "c", "flush"]


class Channel(Actor[Any]):
    """Takes work until drained; each job asks the "store" actor when it is done."""

    def __init__(self, log: list[str], work: float) -> None:
        self.log = log
        self.work = work
        self.open = True
        self.jobs = 0
        self.idle = trio.Event()
        self.idle.set()

    async def handle(self, message: Any) -> object:
        if not self.open:
            return "refused"
        self.jobs += 1
        self.idle = trio.Event()
        self.context.start_soon(self.job, message)
        return "taken"

    async def job(self, name: str) -> None:
        try:
            await trio.sleep(self.work)
            await self.context.ref("store").ask(f"{name} done")
            self.log.append(f"{name} done at {trio.current_time():g}")
        finally:
            self.jobs -= 1
            if not self.jobs:
                self.idle.set()

    async def drain(self) -> None:
        self.open = False
        self.log.append(f"{self.context.name} drains at {trio.current_time():g}")
        await self.idle.wait()

    async def on_stop(self) -> None:
        self.log.append(f"{self.context.name} stopped at {trio.current_time():g}")


class Store(Actor[Any]):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def handle(self, message: Any) -> object:
        return None

    async def on_stop(self) -> None:
        self.log.append(f"store flushed at {trio.current_time():g}")


def two_channels(log: list[str], work: float, grace: float) -> SupervisorSpec:
    return SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="store", factory=lambda: Store(log)),
            *(
                ActorSpec(name=name, factory=lambda: Channel(log, work), grace_period=grace)
                for name in ("telegram", "web")
            ),
        ),
    )


async def test_a_graceful_stop_lets_work_in_progress_finish_then_flushes_last(
    autojump_clock: Clock,
) -> None:
    log: list[str] = []
    async with open_actor_system(two_channels(log, work=5, grace=30)) as system:
        assert await system.ref("web").ask("w1") == "taken"
        await trio.sleep(1)
        assert await system.ref("telegram").ask("t1") == "taken"
    # Both channels drain at once (not one after the other), the store still
    # serves their jobs, and is stopped last.
    assert set(log[:2]) == {"telegram drains at 1", "web drains at 1"}
    assert log[2:] == [
        "w1 done at 5",
        "web stopped at 5",
        "t1 done at 6",
        "telegram stopped at 6",
        "store flushed at 6",
    ]


async def test_work_still_running_at_the_grace_deadline_is_cancelled(
    autojump_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    async with open_actor_system(two_channels(log, work=100, grace=3)) as system:
        await system.ref("telegram").ask("t1")
        await trio.sleep(1)
    assert trio.current_time() == 4
    assert "t1 done at 100" not in " ".join(log)
    assert log[-1] == "store flushed at 4"
    assert "actor.drain.deadline" in caplog.messages


class Loading(Actor[Any]):
    """Prepares for ``seconds`` (a long load), then answers asks with what it loaded."""

    def __init__(self, seconds: float = 60.0, error: Exception | None = None) -> None:
        self.seconds = seconds
        self.error = error
        self.loaded = False
        self.stopped = False

    async def prepare(self) -> None:
        await trio.sleep(self.seconds)
        if self.error is not None:
            raise self.error
        self.loaded = True

    async def handle(self, message: Any) -> object:
        return (message, self.loaded)

    async def on_stop(self) -> None:
        self.stopped = True


async def test_prepare_lets_the_next_actors_start_and_holds_messages(
    autojump_clock: Clock,
) -> None:
    loading = Loading(seconds=60)
    started_at: list[float] = []

    class Next(Actor[Any]):
        async def on_start(self) -> None:
            started_at.append(trio.current_time())

    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="memory", factory=lambda: loading, ask_timeout=1.0),
            ActorSpec(name="web", factory=Next),
        ),
    )
    async with open_actor_system(spec) as system:
        # ready only once prepared; the next actor started at once meanwhile
        assert trio.current_time() == pytest.approx(60)
        assert started_at == [0]
        assert await system.ref("memory").ask("hello") == ("hello", True)


async def test_an_actor_is_starting_while_it_prepares(autojump_clock: Clock) -> None:
    system = ActorSystem(one("memory", lambda: Loading(seconds=60), ask_timeout=1.0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep(30)
        assert system.statistics().actor("memory").state is ActorState.STARTING
        # asked while loading: the load does not count against the 1 s timeout
        assert await system.ref("memory").ask("early") == ("early", True)
        assert trio.current_time() == pytest.approx(60)
        assert system.statistics().actor("memory").state is ActorState.RUNNING
        system.request_stop()


async def test_a_stop_cancels_prepare_and_fails_the_waiting_asks(autojump_clock: Clock) -> None:
    loading = Loading(seconds=3600)
    system = ActorSystem(one("memory", lambda: loading))
    errors: list[Exception] = []

    async def ask_early() -> None:
        try:
            await system.ref("memory").ask("early")
        except ActorNotRunningError as error:
            errors.append(error)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep(10)
        nursery.start_soon(ask_early)
        await trio.sleep(10)
        system.request_stop()
    assert trio.current_time() == pytest.approx(20)
    assert loading.stopped
    assert not loading.loaded
    assert len(errors) == 1


async def test_a_failed_prepare_restarts_the_actor(autojump_clock: Clock) -> None:
    instances: list[Loading] = []

    def factory() -> Loading:
        instances.append(
            Loading(seconds=5, error=ValueError("bad file") if not instances else None)
        )
        return instances[-1]

    async with open_actor_system(one("memory", factory)) as system:
        assert len(instances) == 2
        assert instances[0].stopped
        assert await system.ref("memory").ask("x") == ("x", True)
