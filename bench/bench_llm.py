"""LLM_MAX_PARALLEL=auto against fixed limits, on servers with 1, 4 and 16 slots.

The LLM server emulator runs as a separate process (``python -m
tauro.testing.llm_server``) with N generation slots; the bot side is the real
LLMActor (httpx, the OpenAI-compatible API) driven by CLIENTS closed-loop
callers for RUN_SECONDS each: every caller asks, reads the whole answer, and
asks again. Throughput is complete answers per second over the whole run, the
adaptive limit's ramp from 1 included.

Servers, each with 1, 4 and 16 slots:

- "hidden": the slots are not told (Ollama's OLLAMA_NUM_PARALLEL, vLLM, LM
  Studio): requests beyond them wait in the server; auto adapts;
- "reported": ``GET /props`` says ``total_slots`` (llama.cpp's llama-server);
- "interrupting" (1 slot): llama-cpp-python, where a second request cuts the
  running answer (``[DONE]`` without a finish reason).

Fixed limits 1, 2 and 16 run on the hidden server (a fixed limit ignores what
the server says); auto runs on each kind. Goal (issue 10): auto >= 90% of the
best fixed limit's throughput for every slot count, with no interrupted answer.

    python bench/bench_llm.py [--seconds 20] [--repeat 3] [--slots 1,4,16] [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

import trio

from tauro.actors.llm import (
    ChatMessage,
    Generate,
    GetLLMStats,
    LLMActor,
)
from tauro.config import LLMSettings
from tauro.runtime import ActorSpec, SupervisorSpec, open_actor_system

MODEL = "llama3.2"
CLIENTS = 48  # closed-loop callers: more than the biggest server has slots
FIRST_TOKEN = 0.1  # seconds from the request to the first token, on a free slot
PER_TOKEN = 0.15  # seconds between tokens
ANSWER_TOKENS = 4  # an answer takes 0.1 + 3 * 0.15 = 0.55 s on a free slot, little CPU
FIXED = (1, 2, 16)


@dataclass(frozen=True)
class Run:
    server: str
    slots: int
    limit: str
    answers_per_second: float
    complete: int
    cut: int
    interrupted: int  # as the server counted them
    final_limit: int
    source: str


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "tauro.testing.llm_server", "--port", "0",
               "--model", MODEL, "--answer-tokens", str(ANSWER_TOKENS),
               "--first-token-latency", str(FIRST_TOKEN),
               "--token-latency", str(PER_TOKEN)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready = process.stdout.readline().split()
    assert ready[:1] == ["READY"], ready
    return process, ready[1]


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def configure(url: str, kind: str, slots: int) -> None:
    control(url, "/_emulator/configure", {
        "parallel": slots,
        "slots_in_props": kind == "reported",
        "interrupting": kind == "interrupting",
        "tokenizer": "llama-cpp-python" if kind == "interrupting" else None,
    })  # fmt: skip
    control(url, "/_emulator/reset", {})


async def one_run(
    url: str, kind: str, slots: int, limit: int | Literal["auto"], seconds: float
) -> Run:
    configure(url, kind, slots)
    settings = LLMSettings(provider="openai", host=url, model=MODEL, max_parallel=limit,
                           system_prompt="")  # fmt: skip
    spec = ActorSpec(name="llm", factory=lambda: LLMActor(settings))
    counts = {"complete": 0, "cut": 0}
    async with open_actor_system(SupervisorSpec(name="root", children=(spec,))) as system:
        llm = system.ref("llm")

        async def caller(index: int) -> None:
            turn = 0
            while True:
                turn += 1
                ask = Generate((ChatMessage("user", f"q{index}.{turn}"),))
                stream = await llm.ask(ask)
                result = await stream.collect()
                counts["complete" if result.complete else "cut"] += 1

        started = trio.current_time()
        with trio.move_on_after(seconds):
            async with trio.open_nursery() as nursery:
                for index in range(CLIENTS):
                    nursery.start_soon(caller, index)
        elapsed = trio.current_time() - started
        stats = await llm.ask(GetLLMStats())
    await trio.sleep(0.5)  # let the server see the last disconnects
    served = control(url, "/_emulator/statistics")
    return Run(kind, slots, str(limit), counts["complete"] / elapsed, counts["complete"],
               counts["cut"], int(served["interrupted"]), stats.max_parallel,
               stats.max_parallel_source)  # fmt: skip


async def run_all(url: str, slot_counts: list[int], seconds: float, repeat: int) -> list[Run]:
    """Each slot count's configurations one after the other, ``repeat`` times over,
    so that a machine whose load changes over minutes weighs on all of them alike;
    the run kept for each configuration is its median by throughput."""
    kept: list[Run] = []
    for slots in slot_counts:
        plan: list[tuple[str, int | Literal["auto"]]] = [("hidden", n) for n in FIXED]
        plan += [("hidden", "auto"), ("reported", "auto")]
        if slots == 1:
            plan += [("interrupting", n) for n in FIXED] + [("interrupting", "auto")]
        runs: dict[tuple[str, int | Literal["auto"]], list[Run]] = {step: [] for step in plan}
        for _ in range(repeat):
            for kind, limit in plan:
                run = await one_run(url, kind, slots, limit, seconds)
                print(f"  {kind:12} slots={slots:<3} limit={limit:<5} "
                      f"{run.answers_per_second:6.2f} answers/s  cut={run.cut} "
                      f"interrupted={run.interrupted}  final={run.final_limit} ({run.source})",
                      flush=True)  # fmt: skip
                runs[(kind, limit)].append(run)
        for step in plan:
            ordered = sorted(runs[step], key=lambda r: r.answers_per_second)
            kept.append(ordered[len(ordered) // 2])
    return kept


def best_fixed(runs: list[Run], run: Run) -> Run:
    """The fixed limit to beat: the fastest with no cut answer on the same kind of server
    (a fixed limit ignores what the server reports, so "reported" compares with "hidden")."""
    server = "interrupting" if run.server == "interrupting" else "hidden"
    fixed = [r for r in runs if r.slots == run.slots and r.server == server
             and r.limit != "auto" and r.cut == 0]  # fmt: skip
    return max(fixed, key=lambda r: r.answers_per_second)


def table(runs: list[Run]) -> str:
    lines = [
        "| server | slots | LLM_MAX_PARALLEL | answers/s | vs best fixed | cut answers "
        "| limit at the end (source) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        ratio = run.answers_per_second / best_fixed(runs, run).answers_per_second
        lines.append(
            f"| {run.server} | {run.slots} | {run.limit} | {run.answers_per_second:.2f} | "
            f"{ratio:.0%} | {run.cut} | {run.final_limit} ({run.source}) |"
        )
    return "\n".join(lines)


def verdict(runs: list[Run]) -> list[str]:
    out = []
    for auto in (r for r in runs if r.limit == "auto"):
        best = best_fixed(runs, auto)
        ratio = auto.answers_per_second / best.answers_per_second
        ok = ratio >= 0.9 and auto.cut == 0 and auto.interrupted == 0
        out.append(f"{'PASS' if ok else 'FAIL'} {auto.server} {auto.slots} slots: auto "
                   f"{ratio:.0%} of fixed {best.limit}, {auto.cut} cut")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--slots", default="1,4,16")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--quick", action="store_true", help="5 s runs, once")
    args = parser.parse_args()
    seconds, repeat = (5.0, 1) if args.quick else (args.seconds, args.repeat)
    logging.basicConfig(level=logging.CRITICAL)  # the cut answers of fixed limits are counted
    process, url = start_emulator()
    try:
        print(f"python {platform.python_version()} on {platform.machine()}, "
              f"{seconds:g} s per run, {repeat} runs each, {CLIENTS} callers",
              flush=True)  # fmt: skip
        slots = [int(s) for s in args.slots.split(",")]
        runs = trio.run(run_all, url, slots, seconds, repeat)
    finally:
        process.terminate()
        process.wait(timeout=10)
    print()
    print(table(runs))
    print()
    print("\n".join(verdict(runs)))


if __name__ == "__main__":
    main()
