"""A turn's memory work before the first token: one BeginTurn vs the four asks it replaced.

Before, ``run_turn`` asked the MemoryActor ``UpdateStatus``, ``Append`` (the
question, durable before the reply), ``GetContext`` and ``GetPreferences`` one
after the other; now one ``BeginTurn`` records the question and replies with all
of it. Both run here against the same real MemoryActor (fsync on, in a temporary
folder unless ``--dir``), ``--chats`` turns at once, in alternating rounds so that
both see the same machine. Reports the time from the first request to the
last reply of each turn start (what the user waits before the LLM is asked).

    python bench/bench_turn_start.py [--chats 1,10,100] [--rounds 6] [--turns 200]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from _figures import percentile

from tauro.actors.memory import (
    Append,
    BeginTurn,
    GetContext,
    GetPreferences,
    UpdateStatus,
    memory_actor_spec,
)
from tauro.config import MemorySettings
from tauro.runtime import ActorRef, SupervisorSpec, open_actor_system

CONTEXT = 10  # LLM_CONTEXT_MESSAGES, the default
Start = Callable[[ActorRef[Any], str, int], Awaitable[None]]


async def four_asks(memory: ActorRef[Any], chat: str, update_id: int) -> None:
    """What run_turn asked before BeginTurn."""
    if await memory.ask(UpdateStatus(chat, update_id)) == "new":
        await memory.ask(Append(chat, "user", f"question {update_id}", update_id=update_id))
    await memory.ask(GetContext(chat, CONTEXT))
    await memory.ask(GetPreferences(chat))


async def begin_turn(memory: ActorRef[Any], chat: str, update_id: int) -> None:
    await memory.ask(BeginTurn(chat, f"question {update_id}", CONTEXT, update_id=update_id))


async def one_round(
    memory: ActorRef[Any], start: Start, chats: int, turns: int, ids: itertools.count[int]
) -> list[float]:
    """``turns`` turn starts, ``chats`` at a time (one per chat); their latencies."""
    latencies: list[float] = []

    async def chat(name: str, count: int) -> None:
        for _ in range(count):
            began = time.perf_counter()
            await start(memory, name, next(ids))
            latencies.append(time.perf_counter() - began)

    async with trio.open_nursery() as nursery:
        for number in range(chats):
            nursery.start_soon(chat, f"c{number}", max(1, turns // chats))
    return latencies


async def run(directory: Path, chats: int, rounds: int, turns: int) -> dict[str, list[float]]:
    settings = MemorySettings(file=directory / f"bench-{chats}" / "conversations.json")
    spec = SupervisorSpec(name="root", children=(memory_actor_spec(settings),))
    found: dict[str, list[float]] = {"four asks": [], "BeginTurn": []}
    ids = itertools.count(1)
    async with open_actor_system(spec) as system:
        memory = system.ref("memory")
        for _ in range(rounds):
            found["four asks"] += await one_round(memory, four_asks, chats, turns, ids)
            found["BeginTurn"] += await one_round(memory, begin_turn, chats, turns, ids)
    return found


def report(chats: int, found: dict[str, list[float]]) -> list[str]:
    def ms(values: list[float], q: float) -> float:
        return percentile(values, q) * 1000

    rows = []
    for name, values in found.items():
        rows.append(
            f"| {chats} | {name} | {len(values)} | {ms(values, 50):.2f} | {ms(values, 99):.2f} |"
        )
    ratio = percentile(found["four asks"], 50) / percentile(found["BeginTurn"], 50)
    rows.append(f"| {chats} | ratio p50 (four asks / BeginTurn) | | {ratio:.2f} x | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", default="1,10,100")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--turns", type=int, default=200, help="turn starts per round")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a real disk)")
    args = parser.parse_args()
    lines = ["| chats at once | how | turns | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-turn-") as folder:
        for chats in (int(c) for c in args.chats.split(",")):
            found = trio.run(run, Path(folder), chats, args.rounds, args.turns)
            lines += report(chats, found)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
