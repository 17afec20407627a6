"""Benchmark: a restart with a large history, against ``json.load`` of the same file.

For each history (10^4, 10^5, 10^6 messages in conversations of 1,000) and each
layout (the original bot's ``indent=2`` file, and TauroBot's own snapshot), every
variant runs in a fresh Python process, in alternation, ``--rounds`` times:

The original layout is what the original bot wrote (``indent=2``, no update ids);
TauroBot's layout is one compact message a line, as a Telegram history leaves it
(each question with its update id, each answer with the id it replies to).

- ``json.load``: ``json.load(open(file))``, nothing else (the baseline);
- ``MemoryEngine.open``: what the memory actor does before the bot can be ready
  (read, check, index, journal replay), inside trio, the event loop idle;
- ``MemoryEngine.open, loop watched``: the same while a task on the event loop
  sleeps 1 ms at a time and records the longest it was kept waiting. The loop's
  own work (a wake-up every millisecond, each taking the GIL from the load) comes
  on top of the load's time here.

Reported: median seconds (wall clock, and CPU time of the process, which a busy
machine disturbs less), median peak RSS (``VmHWM``) and peak minus the RSS
before loading (the interpreter and imports differ between the two), the ratios
ours / json.load, and for ours the longest event-loop lag seen during the load
beside the longest lag of the same loop left idle for as long right after it (the
baseline: what the machine alone costs the loop; a shared machine shows in both).
The load average at the start is printed on stderr.

    .venv/bin/python bench/bench_restart.py                 # ~5 min
    .venv/bin/python bench/bench_restart.py --sizes 10000 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_memory import MAX_SIZE, prefill_messages, prefill_original

from tauro.actors.memory._records import encode_fragment
from tauro.actors.memory._snapshot import SnapshotData, write_snapshot

VARIANTS = ("json.load", "MemoryEngine.open", "MemoryEngine.open, loop watched")
OURS = VARIANTS[1:]


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    """VmHWM: unlike ru_maxrss, it starts afresh at exec (not at the parent's peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_json_load(path: Path) -> dict[str, float]:
    before = _rss_mib()
    start, cpu = time.perf_counter(), time.process_time()
    with path.open() as file:
        data = json.load(file)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert data["conversations"]
    peak = _peak_mib()
    return {"seconds": seconds, "cpu": cpu, "peak": peak, "before": before, "stall_ms": 0}


async def longest_lag(until: Any) -> float:
    """Sleep 1 ms at a time until ``until`` is set; the longest overshoot, in ms."""
    import trio

    lag = 0.0
    while not until.is_set():
        before = time.perf_counter()
        await trio.sleep(0.001)
        lag = max(lag, time.perf_counter() - before - 0.001)
    return lag * 1000


def child_engine_open(path: Path, watched: bool) -> dict[str, float]:
    """The load (``watched``: with the event loop watched, then the same loop idle
    for as long)."""
    import trio

    from tauro.actors.memory._engine import MemoryEngine
    from tauro.config import MemorySettings

    settings = MemorySettings(file=path, max_size=1000, retention_days=0.0)
    result: dict[str, float] = {}

    async def watch(until: trio.Event, key: str) -> None:
        result[key] = await longest_lag(until)

    async def main() -> None:
        engine = MemoryEngine(settings)
        loaded, idle = trio.Event(), trio.Event()
        async with trio.open_nursery() as nursery:
            if watched:
                nursery.start_soon(watch, loaded, "stall_ms")
            await trio.sleep(0.05)
            result["before"] = _rss_mib()
            start, cpu = time.perf_counter(), time.process_time()
            recovery = await engine.open()
            result["seconds"] = time.perf_counter() - start
            result["cpu"] = time.process_time() - cpu
            loaded.set()
        assert recovery.state.messages > 0
        result["peak"] = _peak_mib()
        if watched:
            async with trio.open_nursery() as nursery:  # the baseline: nothing to do
                nursery.start_soon(watch, idle, "idle_stall_ms")
                await trio.sleep(result["seconds"])
                idle.set()
        await engine.close()

    trio.run(main)
    return result


def run_child(variant: str, path: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", variant, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.splitlines()[-1]))


def prefill_tauro(path: Path, stored: int) -> None:
    """TauroBot's snapshot of a Telegram history: questions carry their update id,
    answers the id they reply to (what the turn index is rebuilt from at a restart)."""
    conversations: dict[str, list[bytes]] = {}
    for number, (_, message) in enumerate(prefill_messages(stored)):
        name = str(100_000_000 + number // MAX_SIZE)  # each answer beside its question
        update = 10_000_000 + number - number % 2
        user = message["role"] == "user"
        fragment = encode_fragment(
            message["role"],
            message["content"],
            message["timestamp"],
            update_id=update if user else None,
            reply_to=None if user else update,
        )
        conversations.setdefault(name, []).append(fragment)
    data = SnapshotData(list(conversations.items()), {}, seq=stored, journal=0)
    write_snapshot(path, data, durable=True)


def prepare(directory: Path, layout: str, stored: int) -> Path:
    path = directory / f"{layout}-{stored}" / "conversations.json"
    path.parent.mkdir(parents=True)
    (prefill_original if layout == "original" else prefill_tauro)(path, stored)
    return path


def measure(path: Path, rounds: int) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            runs[variant].append(run_child(variant, path))
            for leftover in path.parent.glob("*.journal*"):  # each open starts alike
                leftover.unlink()
    return runs


def _cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine: a virtual machine's host may take
    its CPUs away meanwhile (steal), which shows as lag in both lag columns."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return sum(fields), fields[7]


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def rows(layout: str, stored: int, size: int, runs: dict[str, Any]) -> list[str]:
    base = runs["json.load"]
    out = []
    for variant in VARIANTS:
        r = runs[variant]
        above = median([{"x": x["peak"] - x["before"]} for x in r], "x")
        lags = (
            f"{max(x['stall_ms'] for x in r):.1f} | {max(x['idle_stall_ms'] for x in r):.1f}"
            if "idle_stall_ms" in r[0]
            else "n/a | n/a"
        )
        out.append(
            f"| {layout} | {stored:,} | {size / 1e6:.1f} | {variant} | {median(r, 'seconds'):.3f} "
            f"| {median(r, 'cpu'):.3f} "
            f"| {median(r, 'peak'):.0f} | {above:.0f} | {lags} |"
        )
    for variant in OURS:
        ours = runs[variant]
        time_ratio = median(ours, "seconds") / median(base, "seconds")
        cpu_ratio = median(ours, "cpu") / median(base, "cpu")
        peak_ratio = median(ours, "peak") / median(base, "peak")
        label = "ours / json.load" + (", loop watched" if "watched" in variant else "")
        out.append(
            f"| {layout} | {stored:,} | | **{label}** | **{time_ratio:.2f}x** "
            f"| **{cpu_ratio:.2f}x** "
            f"| **{peak_ratio:.2f}x** | | | |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    parser.add_argument("--layouts", nargs="+", default=["original", "tauro"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, file = args.child
        if variant == "json.load":
            print(json.dumps(child_json_load(Path(file))))
        else:
            print(json.dumps(child_engine_open(Path(file), watched="watched" in variant)))
        return
    print(
        "| layout | messages | file MB | variant | seconds | CPU seconds | peak RSS MiB "
        "| peak - start MiB | longest loop lag ms | same loop idle ms |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as directory:
        for stored in args.sizes:
            for layout in args.layouts:
                path = prepare(Path(directory), layout, stored)
                load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
                print(f"{layout} {stored:,}: load average {load} before", file=sys.stderr)
                ticks, stolen = _cpu_ticks()
                runs = measure(path, args.rounds)
                all_after, stolen_after = _cpu_ticks()
                steal = 100 * (stolen_after - stolen) / max(1, all_after - ticks)
                print(f"{layout} {stored:,}: {steal:.1f}% of the CPU time stolen", file=sys.stderr)
                print("\n".join(rows(layout, stored, path.stat().st_size, runs)), flush=True)
                path.unlink()


if __name__ == "__main__":
    main()
