"""Runtime overhead: tell throughput and ask round trips, against a bare trio channel.

Both sides run in the same process and the same run, several rounds each,
alternating, and the best round of each is compared:

    python bench/bench_runtime.py [--messages 200000] [--asks 50000] [--rounds 5]

Goals (issue "The supervised actor runtime"): tell >= 0.7x and ask >= 0.5x the
bare channel's rate.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from tauro.runtime import Actor, ActorSpec, SupervisorSpec, open_actor_system

MAILBOX = 100


class Counter(Actor[int]):
    def __init__(self, done: trio.Event, expected: int) -> None:
        self.count = 0
        self.done = done
        self.expected = expected

    async def handle(self, message: int) -> object:
        self.count += 1
        if self.count == self.expected:
            self.done.set()
        return message


async def runtime_tell(n: int) -> float:
    done = trio.Event()
    spec = SupervisorSpec(
        name="root",
        children=(ActorSpec(name="c", factory=lambda: Counter(done, n), mailbox_size=MAILBOX),),
    )
    async with open_actor_system(spec) as system:
        ref = system.ref("c")
        start = time.perf_counter()
        for i in range(n):
            await ref.tell(i)
        await done.wait()
        return time.perf_counter() - start


async def bare_tell(n: int) -> float:
    send, receive = trio.open_memory_channel[int](MAILBOX)
    done = trio.Event()

    async def consume() -> None:
        count = 0
        async for _ in receive:
            count += 1
            if count == n:
                done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        start = time.perf_counter()
        for i in range(n):
            await send.send(i)
        await done.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed


async def runtime_ask(n: int) -> float:
    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(name="c", factory=lambda: Counter(trio.Event(), -1), mailbox_size=MAILBOX),
        ),
    )
    async with open_actor_system(spec) as system:
        ref = system.ref("c")
        start = time.perf_counter()
        for i in range(n):
            await ref.ask(i)
        return time.perf_counter() - start


async def bare_ask(n: int) -> float:
    """Request/reply over a bare channel: the request carries a one-shot reply slot."""
    send, receive = trio.open_memory_channel[tuple[int, list[Any], trio.Event]](MAILBOX)

    async def serve() -> None:
        async for value, box, ready in receive:
            box.append(value)
            ready.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        start = time.perf_counter()
        for i in range(n):
            box: list[Any] = []
            ready = trio.Event()
            await send.send((i, box, ready))
            with trio.move_on_after(30):  # a bare ask with a timeout, like the runtime's
                await ready.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed


def best_rate(run: Callable[[int], Awaitable[float]], n: int, rounds: int) -> float:
    return max(n / trio.run(run, n) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--asks", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for name, ours, bare, n, goal in (
        ("tell", runtime_tell, bare_tell, args.messages, 0.7),
        ("ask", runtime_ask, bare_ask, args.asks, 0.5),
    ):
        bare_rate = ours_rate = 0.0
        for _ in range(args.rounds):  # alternate, so that drift hits both sides alike
            bare_rate = max(bare_rate, best_rate(bare, n, 1))
            ours_rate = max(ours_rate, best_rate(ours, n, 1))
        ratio = ours_rate / bare_rate
        verdict = "meets" if ratio >= goal else "MISSES"
        rows.append(
            f"| {name} | {n} | {bare_rate:,.0f}/s | {ours_rate:,.0f}/s | "
            f"{ratio:.2f}x | >= {goal}x ({verdict}) |"
        )
    print(
        f"python {platform.python_version()}, trio {trio.__version__}, "
        f"best of {args.rounds} rounds, mailbox {MAILBOX}"
    )
    print("| operation | messages | bare trio channel | tauro.runtime | ratio | goal |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    assert math.isfinite(bare_rate)


if __name__ == "__main__":
    main()
