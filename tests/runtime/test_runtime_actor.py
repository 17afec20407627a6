"""What an actor sees: its context, background tasks, batches, hooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import outcome
import pytest
import trio
import trio.testing

from tauro.runtime import Actor, ActorSpec, SupervisorSpec, open_actor_system

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
        replies: list[object] = []
        async with trio.open_nursery() as nursery:
            for n in range(6):
                nursery.start_soon(lambda n=n: _ask_into(ref, n, replies))
                await trio.sleep(0.1)  # the first arrives alone, the rest queue behind it
    assert batches == [[0], [1, 2, 3], [4, 5]]
    assert sorted(replies) == [0, 10, 20, 30, 40, 50]


async def _ask_into(ref: Any, n: int, replies: list[object]) -> None:
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
