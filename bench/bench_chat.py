"""Chat end to end: Telegram emulator -> TelegramActor -> memory -> LLMActor -> LLM emulator.

Both emulators run as separate processes (``python -m tauro.testing.botapi`` with
Telegram's flood limits on, ``python -m tauro.testing.llm_server``), so the CPU time
measured in this process is the bot's own (plus a driver that pushes one batch and
polls a counter). The bot is the real actor system: MemoryActor (fsync on a temp
file), LLMActor (httpx, Ollama NDJSON streaming), TelegramActor (python-telegram-bot
over trio-asyncio).

Each configuration pushes a burst of messages spread round-robin over N chats at
one instant and waits until all are answered; "sequential" is the same bot with
TELEGRAM_MAX_CHATS_IN_FLIGHT=1, i.e. one update at a time as the original bot did.

    python bench/bench_chat.py [--chats 1,10,100,1000] [--latencies 0,0.2,1]
                               [--modes concurrent,sequential] [--repeat N]
                               [--capacity N] [--parallel 16] [--tokens 30] [--quick]

Message counts are bounded so the whole run takes a few minutes on 2 cores: the
concurrent bot gets max(chats, about 8 s of work at its bound) messages, the
sequential one about 8 s of work (its throughput does not depend on the count; its
latency percentiles would only grow with a longer backlog).

Then the flat-out runs: latency 0, 1000 chats, Telegram's limits lifted in the
emulator and in the bot, so the one bot process answers as fast as it can; its
answers per second of CPU time are what one core serves.

Goals (issue "Chat on Telegram, end to end"): with slow answers, throughput >= 90% of
min(LLM parallelism / latency, chats x 1 msg/s, 30 msg/s); at latency 0, CPU per
message <= 1 s / (5 x 30) = 6.7 ms, i.e. one core serves 150 answers/s.
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio
from _figures import percentile

from tauro.actors.telegram import GetTelegramStats
from tauro.app import build_system_spec
from tauro.config import (
    LLMSettings,
    MemorySettings,
    Settings,
    TelegramSettings,
    VoiceSettings,
    WebSettings,
)
from tauro.runtime import open_actor_system
from tauro.testing import start_emulator_process

TOKEN = "123456:BENCHbenchBENCHbench"
MODEL = "llama3.2"
PER_CHAT_RATE = 1.0  # Telegram: messages per second per private chat
GLOBAL_RATE = 30.0  # Telegram: messages per second per bot
WORK_SECONDS = 8.0  # target duration of one configuration at its bound
CALLS = ("sendMessage", "editMessageText", "sendChatAction")
# How often the driver asks the Telegram actor whether all is answered. Only the
# CPU figure depends on it (times come from the emulator's clock), so it is slow.
POLL_INTERVAL = 0.2
UNLIMITED = 1e6  # messages per second: Telegram's limits lifted (capacity runs)
CAPACITY_GOAL = 5 * GLOBAL_RATE  # answers per second one core must serve (the goal)


@dataclass(frozen=True)
class Emulators:
    bot_root: str  # http://127.0.0.1:P (control endpoints)
    bot_base: str  # python-telegram-bot's base_url
    llm_root: str


@dataclass(frozen=True)
class Result:
    mode: str
    chats: int
    latency: float
    messages: int
    seconds: float
    throughput: float
    bound: float
    first_p50: float
    first_p99: float
    done_p50: float
    done_p99: float
    cpu_ms: float
    calls: float  # Bot API calls per answer (sendMessage, editMessageText, sendChatAction)
    floods: int


def bound(chats: int, latency: float, parallel: int) -> float:
    """Answers per second no bot can beat: LLM slots, per-chat and global limits."""
    llm = parallel / latency if latency > 0 else math.inf
    per_chat = min(1 / latency, PER_CHAT_RATE) if latency > 0 else PER_CHAT_RATE
    return min(llm, chats * per_chat, GLOBAL_RATE)


def message_count(chats: int, latency: float, parallel: int, sequential: bool) -> int:
    if sequential:
        rate = min(1 / (latency + 0.03), PER_CHAT_RATE if chats == 1 else math.inf)
        return max(4, min(40, round(WORK_SECONDS * rate)))
    return max(chats, round(WORK_SECONDS * bound(chats, latency, parallel)))


# Emulator processes -----------------------------------------------------------------


def root_of(url: str) -> str:
    return url.removesuffix("/bot")


# One configuration ----------------------------------------------------------------------


def settings_for(
    emus: Emulators, folder: Path, parallel: int, sequential: bool, *, unlimited: bool = False
) -> Settings:
    rates = {"per_chat_rate": UNLIMITED, "global_rate": UNLIMITED} if unlimited else {}
    return Settings(
        telegram=TelegramSettings(
            token=TOKEN,
            api_base_url=emus.bot_base,
            poll_timeout=1.0,
            max_chats_in_flight=1 if sequential else 64,
            **rates,  # type: ignore[arg-type]
        ),
        llm=LLMSettings(host=emus.llm_root, model=MODEL, max_parallel=parallel),
        memory=MemorySettings(file=folder / "conversations.json"),
        voice=VoiceSettings(enabled=False),
        web=WebSettings(enabled=False),
    )


async def run_one(
    client: httpx.AsyncClient, emus: Emulators, run: int, chats: int, latency: float,
    parallel: int, sequential: bool, folder: Path,
) -> Result:  # fmt: skip
    count = message_count(chats, latency, parallel, sequential)
    await client.post(f"{emus.llm_root}/_emulator/latency", json={"first_token": latency})
    first_chat = run * 100_000 + 1
    batch = [{"chat_id": first_chat + i % chats, "text": f"question {i}"} for i in range(count)]
    settings = settings_for(emus, folder / f"run{run}", parallel, sequential)
    async with open_actor_system(build_system_spec(settings)) as system:
        telegram = system.ref("telegram")
        before = await bot_stats(client, emus)
        cpu, wall = time.process_time(), time.time()
        await client.post(f"{emus.bot_root}/_emulator/push_messages", json={"messages": batch})
        await wait_answered(telegram, count)
        cpu = time.process_time() - cpu
        after = await bot_stats(client, emus)
    floods = after["rate_limited"] - before["rate_limited"]
    calls = sum(after["calls"].get(m, 0) - before["calls"].get(m, 0) for m in CALLS)
    firsts, dones = await answer_times(client, emus, range(first_chat, first_chat + chats), wall)
    seconds = max(dones)
    return Result(
        mode="sequential" if sequential else "concurrent", chats=chats, latency=latency,
        messages=count, seconds=seconds, throughput=count / seconds,
        bound=bound(chats, latency, parallel),
        first_p50=percentile(firsts, 50), first_p99=percentile(firsts, 99),
        done_p50=percentile(dones, 50), done_p99=percentile(dones, 99),
        cpu_ms=1000 * cpu / count, calls=calls / count, floods=floods,
    )  # fmt: skip


@dataclass(frozen=True)
class Capacity:
    chats: int
    messages: int
    throughput: float  # answers per second, flat out
    cpu_ms: float
    core_use: float  # the bot's CPU time / wall time


async def run_capacity(
    client: httpx.AsyncClient, emus: Emulators, run: int, chats: int, count: int,
    parallel: int, folder: Path,
) -> Capacity:  # fmt: skip
    """Latency 0 with Telegram's limits lifted in the emulator and in the bot.

    The bot then answers as fast as its one process can: its answers per
    second and CPU per answer say how many answers a core serves, which is
    what the goal is about; at Telegram's 30/s the process idles between
    sends, and every wake-up costs more than in a busy one.
    """
    await client.post(f"{emus.llm_root}/_emulator/latency", json={"first_token": 0.0})
    await client.post(f"{emus.bot_root}/_emulator/flood_limits", json={"enabled": False})
    first_chat = run * 100_000 + 1
    batch = [{"chat_id": first_chat + i % chats, "text": f"question {i}"} for i in range(count)]
    settings = settings_for(emus, folder / f"run{run}", parallel, False, unlimited=True)
    try:
        async with open_actor_system(build_system_spec(settings)) as system:
            cpu, wall = time.process_time(), time.time()
            await client.post(f"{emus.bot_root}/_emulator/push_messages", json={"messages": batch})
            await wait_answered(system.ref("telegram"), count)
            cpu = time.process_time() - cpu
    finally:
        await client.post(f"{emus.bot_root}/_emulator/flood_limits", json={})  # Telegram's
    _, dones = await answer_times(client, emus, range(first_chat, first_chat + chats), wall)
    seconds = max(dones)
    return Capacity(chats, count, count / seconds, 1000 * cpu / count, cpu / seconds)


async def bot_stats(client: httpx.AsyncClient, emus: Emulators) -> dict[str, Any]:
    reply = await client.get(f"{emus.bot_root}/_emulator/statistics")
    stats: dict[str, Any] = reply.json()
    return stats


async def wait_answered(telegram: Any, count: int) -> None:
    while True:
        stats = await telegram.ask(GetTelegramStats())
        if sum(stats.outcomes.get(k, 0) for k in ("answered", "failed", "error")) >= count:
            return
        await trio.sleep(POLL_INTERVAL)


async def answer_times(
    client: httpx.AsyncClient, emus: Emulators, chats: range, pushed: float
) -> tuple[list[float], list[float]]:
    """Seconds from the push to the first answer text, and to the final text."""
    reply = await client.get(f"{emus.bot_root}/_emulator/sent")
    firsts: list[float] = []
    dones: list[float] = []
    for message in reply.json()["messages"]:
        if message["chat_id"] not in chats:
            continue
        shown = [t for t, text in zip(message["unix_times"], message["history"], strict=True)
                 if text != "…"]  # fmt: skip
        firsts.append(shown[0] - pushed)
        dones.append(message["unix_times"][-1] - pushed)
    return firsts, dones


def median_run(repeats: list[Result]) -> Result:
    """The run with the median CPU time per message (CPU time is the noisiest figure)."""
    return sorted(repeats, key=lambda r: r.cpu_ms)[(len(repeats) - 1) // 2]


# Main -------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    bot_process, bot_base = start_emulator_process(
        "tauro.testing.botapi", "--token", TOKEN, "--flood-limits"
    )
    llm_process, llm_root = start_emulator_process(
        "tauro.testing.llm_server", "--model", MODEL, "--parallel", str(args.parallel),
        "--answer-tokens", str(args.tokens),
    )  # fmt: skip
    emus = Emulators(root_of(bot_base), bot_base, llm_root)
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with httpx.AsyncClient(timeout=600) as client:
                await run_all(client, emus, args, Path(folder))
    finally:
        for process in (bot_process, llm_process):
            process.terminate()
            process.wait()


async def run_all(
    client: httpx.AsyncClient, emus: Emulators, args: argparse.Namespace, folder: Path
) -> None:
    """Print the table row by row, then the flat-out runs."""
    runs = itertools.count(1)
    print(HEADER, flush=True)
    for chats, latency, mode in itertools.product(args.chats, args.latencies, args.modes):
        repeats = [
            await run_one(client, emus, next(runs), chats, latency, args.parallel,
                          mode == "sequential", folder)
            for _ in range(args.repeat)
        ]  # fmt: skip
        print(row(median_run(repeats)), flush=True)
    if args.capacity:
        print(f"\n{CAPACITY_HEADER}", flush=True)
        for _ in range(args.repeat):
            capacity = await run_capacity(
                client, emus, next(runs), 1000, args.capacity, args.parallel, folder
            )
            print(capacity_row(capacity), flush=True)


HEADER = (
    "| mode | chats | LLM latency s | messages | answers/s | bound/s | of bound "
    "| first text p50 / p99 s | complete p50 / p99 s | CPU ms/msg | calls/msg | 429s |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def row(r: Result) -> str:
    share = f"{100 * r.throughput / r.bound:.0f}%" if r.mode == "concurrent" else "-"
    return (
        f"| {r.mode} | {r.chats} | {r.latency:g} | {r.messages} | {r.throughput:.1f} "
        f"| {r.bound:.1f} | {share} | {r.first_p50:.2f} / {r.first_p99:.2f} "
        f"| {r.done_p50:.2f} / {r.done_p99:.2f} | {r.cpu_ms:.2f} | {r.calls:.2f} | {r.floods} |"
    )


CAPACITY_HEADER = (
    "| flat out: chats | messages | answers/s | bot CPU ms/answer | bot CPU use "
    "| answers/s per core | goal (5 x 30/s) |\n|---:|---:|---:|---:|---:|---:|---|"
)


def capacity_row(c: Capacity) -> str:
    per_core = 1000 / c.cpu_ms
    verdict = "met" if per_core >= CAPACITY_GOAL else "not met"
    return (
        f"| {c.chats} | {c.messages} | {c.throughput:.0f} | {c.cpu_ms:.2f} "
        f"| {c.core_use:.0%} | {per_core:.0f} | {verdict} |"
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    floats = lambda text: [float(x) for x in text.split(",")]  # noqa: E731
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    modes = lambda text: [m for m in text.split(",") if m in ("concurrent", "sequential")]  # noqa: E731
    parser.add_argument("--chats", type=ints, default=[1, 10, 100, 1000])
    parser.add_argument("--latencies", type=floats, default=[0.0, 0.2, 1.0])
    parser.add_argument("--parallel", type=int, default=16, help="LLM generations at once")
    parser.add_argument("--tokens", type=int, default=30, help="tokens per answer")
    parser.add_argument("--modes", type=modes, default=["concurrent", "sequential"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; the "
                        "row shown is the run with the median CPU per message")  # fmt: skip
    parser.add_argument("--capacity", type=int, default=2000, metavar="N",
                        help="messages per flat-out run (no Telegram limits); 0: none")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="1 and 100 chats, latency 0 and 1")
    args = parser.parse_args()
    if args.quick:
        args.chats, args.latencies, args.capacity = [1, 100], [0.0, 1.0], 1000
    return args


if __name__ == "__main__":
    arguments = parse()
    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"LLM parallel {arguments.parallel}, {arguments.tokens} tokens per answer")  # fmt: skip
    started = time.monotonic()
    trio.run(main, arguments)
    print(f"\ntotal {time.monotonic() - started:.0f} s")
