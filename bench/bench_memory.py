"""MemoryActor vs the original bot's memory algorithm, side by side, in one run.

The original kept every conversation in one dict and, every SAVE_INTERVAL (5)
messages, rewrote the whole history with ``json.dumps(indent=2)`` to
``<file>.tmp`` and ``os.replace``d it, without fsync ("original"); "original+fsync"
is the same with the fsyncs a durable version needs. Ours appends each batch to
the journal with one write and one fdatasync, and rewrites the snapshot only
when the journal has outgrown it.

Histories of 10^2, 10^4 and 10^6 stored messages (conversations of up to 1000
messages, MAX_MEMORY_SIZE) are prefilled by writing the file directly; then a
bounded number of appends is timed. Each append's latency is the time until it
is acknowledged (ours: durable; the original: in memory, or saved when it is
the 5th). Prints a markdown table and the ratios the issue sets as goals.

    python bench/bench_memory.py                 # all sizes, a few minutes
    python bench/bench_memory.py --sizes 100,10000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from tauro.actors.memory import Append, MemoryEngine, memory_actor_spec
from tauro.actors.memory._engine import REWRITE_GROWTH, REWRITE_MIN_BYTES
from tauro.actors.memory._records import MessageRecord, encode_fragment, encode_record
from tauro.actors.memory._snapshot import SnapshotData, write_snapshot
from tauro.config import MemorySettings
from tauro.runtime import SupervisorSpec, open_actor_system

MAX_SIZE = 1000
SAVE_INTERVAL = 5
TEXT = (
    "Ciao TauroBot! Mi racconti qualcosa sulla storia di Roma antica e su come "
    "vivevano le persone comuni ai tempi dell'impero?"
)


def content(number: int) -> str:
    return f"{TEXT} #{number}"


def conversation_of(number: int, stored: int) -> str:
    return str(100_000_000 + number % max(1, stored // MAX_SIZE))


def prefill_messages(stored: int) -> Iterator[tuple[str, dict[str, Any]]]:
    stamp = datetime.now().isoformat()
    for number in range(stored):
        role = "user" if number % 2 == 0 else "assistant"
        message = {"role": role, "content": content(number), "timestamp": stamp}
        yield conversation_of(number, stored), message


@dataclass
class Row:
    variant: str
    stored: int
    appends: int
    seconds: float
    latencies: list[float]
    bytes_written: int
    fsyncs: int
    amortized_bytes: float | None = None  # compaction included, steady state

    @property
    def rate(self) -> float:
        return self.appends / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- the original algorithm ------------------------------------------------------------


class OriginalMemory:
    """The original MemorySystem's save path, as PERFORMANCE_IMPROVEMENTS.md shows it."""

    def __init__(self, path: Path, *, fsync: bool) -> None:
        with path.open(encoding="utf-8") as file:
            self.conversations: dict[str, list[dict[str, Any]]] = json.load(file)["conversations"]
        self.path, self.fsync = path, fsync
        self.pending = self.bytes_written = self.fsyncs = 0

    def add_message(self, user_id: str, role: str, text: str) -> None:
        messages = self.conversations.setdefault(user_id, [])
        messages.append({"role": role, "content": text, "timestamp": datetime.now().isoformat()})
        if len(messages) > MAX_SIZE:
            self.conversations[user_id] = messages[-MAX_SIZE:]
        self.pending += 1
        if self.pending >= SAVE_INTERVAL:
            self.save()
            self.pending = 0

    def save(self) -> None:
        backup = Path(f"{self.path}.bak")
        if not backup.exists() and self.path.exists():
            shutil.copy2(self.path, backup)
            self.bytes_written += backup.stat().st_size
        data = {"conversations": self.conversations, "last_updated": datetime.now().isoformat()}
        encoded = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
        temp = f"{self.path}.tmp"
        with open(temp, "wb") as file:
            file.write(encoded)
            if self.fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temp, self.path)
        if self.fsync:
            descriptor = os.open(self.path.parent, os.O_RDONLY)
            os.fsync(descriptor)
            os.close(descriptor)
        self.bytes_written += len(encoded)
        self.fsyncs += 2 if self.fsync else 0


def prefill_original(path: Path, stored: int) -> None:
    conversations: dict[str, list[dict[str, Any]]] = {}
    for name, message in prefill_messages(stored):
        conversations.setdefault(name, []).append(message)
    data = {"conversations": conversations, "last_updated": datetime.now().isoformat()}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def bench_original(directory: Path, stored: int, fsync: bool, budget: Budget) -> Row:
    path = directory / "original.json"
    prefill_original(path, stored)
    memory = OriginalMemory(path, fsync=fsync)
    latencies: list[float] = []
    start = time.perf_counter()
    number = 0
    while budget.more(number, start):
        began = time.perf_counter()
        memory.add_message(conversation_of(number, stored), "user", content(number))
        latencies.append(time.perf_counter() - began)
        number += 1
    seconds = time.perf_counter() - start
    name = "original+fsync" if fsync else "original"
    return Row(name, stored, number, seconds, latencies, memory.bytes_written, memory.fsyncs)


# -- ours -----------------------------------------------------------------------------------


def prefill_ours(path: Path, stored: int) -> int:
    """Write our snapshot directly, and its one-time ``.bak``; returns its size in bytes.

    The backup is made once in a memory file's life; the steady state is
    measured here, so it is made up front.
    """
    conversations: dict[str, list[bytes]] = {}
    for name, message in prefill_messages(stored):
        fragment = encode_fragment(message["role"], message["content"], message["timestamp"])
        conversations.setdefault(name, []).append(fragment)
    data = SnapshotData(list(conversations.items()), {}, seq=0, journal=0)
    size = write_snapshot(path, data, durable=True).bytes_written
    shutil.copyfile(path, f"{path}.bak")
    os.sync()
    return size


def settings_for(path: Path) -> MemorySettings:
    return MemorySettings(file=path, max_size=MAX_SIZE, retention_days=0.0)


@dataclass
class Budget:
    """At least ``minimum`` appends, then stop at ``maximum`` or after ``seconds``."""

    minimum: int
    maximum: int
    seconds: float

    def more(self, done: int, start: float) -> bool:
        if done < self.minimum:
            return True
        return done < self.maximum and time.perf_counter() - start < self.seconds


async def _engine_run(engine: MemoryEngine, stored: int, batch: int, budget: Budget) -> Row:
    before = engine.statistics()
    latencies: list[float] = []
    start = time.perf_counter()
    number = 0
    while budget.more(number, start):
        messages = [Append(conversation_of(number + i, stored), "user", content(number + i))
                    for i in range(batch)]  # fmt: skip
        began = time.perf_counter()
        for result in await engine.process(messages):
            result.unwrap()
        latencies += [time.perf_counter() - began] * batch
        number += batch
    seconds = time.perf_counter() - start
    after = engine.statistics()
    written = after.bytes_written - before.bytes_written
    fsyncs = after.fsyncs - before.fsyncs
    variant = f"MemoryEngine, batches of {batch}"
    return Row(variant, stored, number, seconds, latencies, written, fsyncs)


async def _during_snapshot(engine: MemoryEngine, stored: int) -> tuple[Row, int, float]:
    """Appends (batches of 5) timed while a snapshot of the whole history is written."""
    before = engine.statistics()
    latencies: list[float] = []
    done = trio.Event()
    took = 0.0

    async def snapshot() -> None:
        nonlocal took
        began = time.perf_counter()
        await engine.snapshot()
        took = time.perf_counter() - began
        done.set()

    number = 0
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(snapshot)
        while not done.is_set() or number < 50:
            messages = [Append(conversation_of(number + i, stored), "user", content(number + i))
                        for i in range(SAVE_INTERVAL)]  # fmt: skip
            began = time.perf_counter()
            for result in await engine.process(messages):
                result.unwrap()
            latencies += [time.perf_counter() - began] * SAVE_INTERVAL
            number += SAVE_INTERVAL
    seconds = time.perf_counter() - start
    after = engine.statistics()
    snapshot_bytes = engine._snapshot_bytes
    row = Row("MemoryEngine, during a snapshot", stored, number, seconds, latencies,
              after.bytes_written - before.bytes_written, after.fsyncs - before.fsyncs)  # fmt: skip
    return row, snapshot_bytes, took


def record_size(stored: int) -> tuple[float, float]:
    """Mean sizes of a message's journal record and of its JSON in the file."""
    stamp = datetime.now().isoformat()
    records, fragments = [], []
    for number in range(1000):
        fragment = encode_fragment("user", content(number), stamp)
        record = encode_record(
            MessageRecord(number + 10**6, conversation_of(number, stored), fragment)
        )
        records.append(len(record))
        fragments.append(len(fragment))
    return statistics.fmean(records), statistics.fmean(fragments)


def amortized(record: float, snapshot_bytes: int) -> float:
    """Bytes written per message in steady state: its journal record plus its
    share of the rewrites.

    A rewrite (``snapshot_bytes``) happens every ``max(min, growth x snapshot)``
    journal bytes; trimming to MAX_MEMORY_SIZE keeps the snapshot's size steady.
    """
    trigger = max(REWRITE_MIN_BYTES, REWRITE_GROWTH * snapshot_bytes)
    return record + snapshot_bytes * record / trigger


async def bench_ours(directory: Path, stored: int, budgets: dict[str, Budget]) -> list[Row]:
    path = directory / "ours.json"
    prefill_ours(path, stored)
    engine = MemoryEngine(settings_for(path))
    await engine.open()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(engine.run)  # compaction when due, as in the actor
        rows = [
            await _engine_run(engine, stored, SAVE_INTERVAL, budgets["ours5"]),
            await _engine_run(engine, stored, 1, budgets["ours1"]),
        ]
        during, snapshot_bytes, took = await _during_snapshot(engine, stored)
        nursery.cancel_scope.cancel()
    record, _ = record_size(stored)
    for row in rows:
        row.amortized_bytes = amortized(record, snapshot_bytes)
    during.variant += f" ({snapshot_bytes / 1e6:.1f} MB in {took:.2f} s)"
    during.bytes_written = during.fsyncs = -1  # not meaningful over so few appends
    await engine.close()
    return [*rows, during]


async def bench_actor(directory: Path, stored: int, budget: Budget) -> Row:
    """Five clients asking the MemoryActor concurrently: batches form in the mailbox."""
    path = directory / "actor.json"
    prefill_ours(path, stored)
    spec = SupervisorSpec(name="root", children=(memory_actor_spec(settings_for(path)),))
    latencies: list[float] = []
    async with open_actor_system(spec) as system:
        memory = system.ref("memory")
        before = await memory.ask(_stats())
        start = time.perf_counter()

        async def client(offset: int) -> None:
            number = offset
            while budget.more(len(latencies), start):
                began = time.perf_counter()
                await memory.ask(Append(conversation_of(number, stored), "user", content(number)))
                latencies.append(time.perf_counter() - began)
                number += SAVE_INTERVAL

        async with trio.open_nursery() as nursery:
            for offset in range(SAVE_INTERVAL):
                nursery.start_soon(client, offset)
        seconds = time.perf_counter() - start
        after = await memory.ask(_stats())
    written = after.bytes_written - before.bytes_written
    fsyncs = after.fsyncs - before.fsyncs
    return Row(
        "MemoryActor, 5 clients", stored, len(latencies), seconds, latencies, written, fsyncs
    )


async def interleaved(directory: Path, sizes: list[int], rounds: int) -> dict[int, list[float]]:
    """Append latencies per history size, measured in alternation.

    fsync latency on a shared disk drifts over minutes; measuring the sizes in
    turns (500 appends each, rotating the order) exposes them all to the same
    drift, so their p99s compare the history's effect and nothing else.
    """
    engines = {}
    for stored in sizes:
        path = directory / f"interleaved-{stored}.json"
        prefill_ours(path, stored)
        engines[stored] = MemoryEngine(settings_for(path))
        await engines[stored].open()
    latencies: dict[int, list[float]] = {stored: [] for stored in sizes}
    async with trio.open_nursery() as nursery:
        for engine in engines.values():
            nursery.start_soon(engine.run)  # compaction when due, as in the actor
        for round_number in range(rounds):
            order = sizes[round_number % len(sizes) :] + sizes[: round_number % len(sizes)]
            for stored in order:
                budget = Budget(500, 500, 0)
                latencies[stored] += (
                    await _engine_run(engines[stored], stored, 5, budget)
                ).latencies
        nursery.cancel_scope.cancel()
    for engine in engines.values():
        await engine.close()
    return latencies


def _stats() -> Any:
    from tauro.actors.memory import GetStats

    return GetStats()


# -- report -----------------------------------------------------------------------------------


def table(rows: list[Row], record: float) -> str:
    lines = [
        "| variant | stored | appends | appends/s | p50 ms | p99 ms | bytes/msg (run) "
        "| bytes/msg amortized | x record | fsyncs/msg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        per = row.bytes_written / row.appends
        steady = row.amortized_bytes if row.amortized_bytes is not None else per
        fsyncs = row.fsyncs / row.appends
        disk = f"| {per:,.0f} | {steady:,.0f} | {steady / record:.2f} | {fsyncs:.3f} |"
        lines.append(
            f"| {row.variant} | {row.stored:,} | {row.appends:,} | {row.rate:,.0f} "
            f"| {row.percentile(0.5) * 1e3:.3f} | {row.percentile(0.99) * 1e3:.3f} "
            + (disk if row.bytes_written >= 0 else "| n/a | n/a | n/a | n/a |")
        )
    return "\n".join(lines)


def interleaved_report(latencies: dict[int, list[float]]) -> str:
    small, large = min(latencies), max(latencies)

    def p99(stored: int) -> float:
        ordered = sorted(latencies[stored])
        return ordered[int(0.99 * len(ordered))]

    lines = ["| stored | appends | p50 ms | p99 ms |", "|---:|---:|---:|---:|"]
    for stored, values in latencies.items():
        p50 = sorted(values)[len(values) // 2]
        lines.append(
            f"| {stored:,} | {len(values):,} | {p50 * 1e3:.3f} | {p99(stored) * 1e3:.3f} |"
        )
    ratio = p99(large) / p99(small)
    lines.append(f"\np99 at {large:,} / p99 at {small:,} (interleaved): {ratio:.2f} (goal <= 1.5)")
    return "\n".join(lines)


def ratios(rows: list[Row], sizes: list[int]) -> str:
    small, large = min(sizes), max(sizes)
    lines = [f"p99 at {large:,} / p99 at {small:,} stored (goal for ours: <= 1.5):"]
    for variant in dict.fromkeys(row.variant.split(" (")[0] for row in rows):
        pair = [
            r for r in rows if r.variant.split(" (")[0] == variant and r.stored in (small, large)
        ]
        if len(pair) == 2:
            low, high = sorted(pair, key=lambda r: r.stored)
            ratio = high.percentile(0.99) / low.percentile(0.99)
            lines.append(f"- {variant}: {ratio:.2f}")
    return "\n".join(lines)


def settle() -> None:
    """Between variants: free memory, and write back what the last one left dirty.

    Without this, the original's un-fsynced rewrites (GBs at 10^6) are written
    back while the next variant runs and its fsyncs pay for them.
    """
    gc.collect()
    os.sync()


def budgets_for(stored: int, scale: float) -> dict[str, Budget]:
    def make(minimum: int, maximum: int, seconds: float) -> Budget:
        return Budget(minimum, max(minimum, int(maximum * scale)), seconds * scale)

    original_max = {100: 5000, 10_000: 500}.get(stored, 50)
    return {
        "original": make(25, original_max, 30.0),
        "ours5": make(1000, 50_000, 20.0),
        "ours1": make(500, 10_000, 10.0),
        "actor": make(1000, 20_000, 10.0),
    }


async def run(
    sizes: list[int], scale: float, directory: Path
) -> tuple[list[Row], dict[int, list[float]]]:
    rows: list[Row] = []
    for stored in sizes:
        budgets = budgets_for(stored, scale)
        for fsync in (False, True):
            rows.append(bench_original(directory, stored, fsync, budgets["original"]))
            settle()
        rows += await bench_ours(directory, stored, budgets)
        settle()
        rows.append(await bench_actor(directory, stored, budgets["actor"]))
        settle()
        for name in os.listdir(directory):
            (directory / name).unlink()
        settle()
        print(f"done: {stored:,} stored", file=sys.stderr, flush=True)
    rounds = max(2, int(20 * scale))
    return rows, await interleaved(directory, sizes, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,1000000")
    parser.add_argument("--scale", type=float, default=1.0, help="scale the append budgets")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a real disk)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    directory = Path(tempfile.mkdtemp(prefix="bench-memory-", dir=args.dir))
    try:
        rows, latencies = trio.run(run, sizes, args.scale, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    record, fragment = record_size(max(sizes))
    print(table(rows, record))
    print()
    print(f"serialized record (journal line) = {record:.0f} bytes; the message's JSON = "
          f"{fragment:.0f} bytes; rewrite when journal >= max({REWRITE_MIN_BYTES >> 20} MiB, "
          f"{REWRITE_GROWTH:g} x snapshot)")  # fmt: skip
    print(ratios(rows, sizes))
    print()
    print("MemoryEngine, batches of 5, the sizes measured in alternation:")
    print(interleaved_report(latencies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
