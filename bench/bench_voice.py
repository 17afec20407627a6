"""Voice: our time from final text to voice note, against the bare command line.

For 100, 500 and 2,000 characters of Italian prose, side by side and interleaved
(so that load from elsewhere on the machine hits both alike):

- ours: ``ask(Synthesize(text))`` on a running VoiceActor (its worker already
  started, cache off) until the OGG/Opus note is ready;
- bare: ``espeak-ng -v it -s 150 --stdout -f text | opusenc --bitrate 32 - out.opus``,
  the same voice, rate and Opus bitrate, as one shell pipeline.

Wall time is reported as the median and the best run (the best is what the work
costs when nothing else on the machine gets in the way), and the CPU time of every
process involved (ours: the bot's process plus the worker; bare: the shell,
espeak-ng and opusenc).

Then the event loop's lag while four syntheses of 2,000 characters run at once: a
task sleeps 1 ms over and over and records how late it wakes up. The same is
measured with nothing running, as the machine's own floor.

    python bench/bench_voice.py [--repeat 7] [--workers 1,2]

Goals (issue "VoiceActor"): ours within 1.3x of bare; lag p99 under 10 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from tauro.actors.voice import (
    GetVoiceStatistics,
    Synthesize,
    VoiceActor,
    VoiceStatistics,
    check_voice,
)
from tauro.actors.voice._encode import OPUS_BITRATE
from tauro.actors.voice._speechtext import prepare_speech
from tauro.config import VoiceSettings
from tauro.runtime import ActorRef, ActorSpec, SupervisorSpec, open_actor_system

SIZES = (100, 500, 2000)
RATE = 150
PROSE = (
    "Ciao, sono TauroBot. Oggi parliamo di come funziona la sintesi vocale e di quanto "
    "tempo serve per trasformare una risposta scritta in un messaggio da ascoltare. "
    "Le risposte brevi arrivano quasi subito, quelle lunghe richiedono qualche istante. "
)


def prose(chars: int, variant: int = 0) -> str:
    text = f"Nota {variant}. " + PROSE * (chars // len(PROSE) + 2)
    return text[: chars - 1].rsplit(" ", 1)[0] + "."


@dataclass
class Timing:
    wall: float  # seconds from request to file ready
    cpu: float  # CPU seconds of every process involved


def bare_run(text: str, folder: Path) -> Timing:
    source, target = folder / "text.txt", folder / "bare.opus"
    source.write_text(text, encoding="utf-8")
    pipeline = (
        f"espeak-ng -v it -s {RATE} --stdout -f {source} "
        f"| opusenc --quiet --bitrate {OPUS_BITRATE // 1000} - {target}"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(pipeline, shell=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(wall, cpu)


def process_cpu(pid: int) -> float:
    """CPU seconds a process has used (utime + stime from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ours_run(ref: ActorRef[Any], text: str) -> Timing:
    (worker,) = (await voice_statistics(ref)).worker_pids
    cpu_before, worker_before = time.process_time(), process_cpu(worker)
    started = time.perf_counter()
    note = await ref.ask(Synthesize(text), timeout=120)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before + process_cpu(worker) - worker_before
    note.discard()
    return Timing(wall, cpu)


async def voice_statistics(ref: ActorRef[Any]) -> VoiceStatistics:
    stats = await ref.ask(GetVoiceStatistics())
    return stats


async def ours_seconds(ref: ActorRef[Any], text: str) -> float:
    started = time.perf_counter()
    note = await ref.ask(Synthesize(text), timeout=120)
    elapsed = time.perf_counter() - started
    note.discard()
    return elapsed


def spec(workers: int, folder: Path) -> SupervisorSpec:
    settings = VoiceSettings(
        language="it", rate=RATE, volume=1.0, max_chars=5000, workers=workers, cache_entries=0
    )
    voice = ActorSpec(name="voice", factory=lambda: VoiceActor(settings, directory=folder))
    return SupervisorSpec(name="root", children=(voice,))


async def side_by_side(repeat: int, folder: Path) -> None:
    print(f"\n### Time to a voice note (TTS_WORKERS=1, {repeat} runs each, interleaved)\n")
    print(
        "| characters | audio s | ours s median (best) | bare s median (best) "
        "| ours / bare median (best) | CPU s ours | CPU s bare |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    async with open_actor_system(spec(1, folder / "ours")) as system:
        ref = system.ref("voice")
        await ours_seconds(ref, "Pronto.")  # the worker started, the voice chosen
        for size in SIZES:
            print(await compare(ref, prose(size), repeat, folder))


async def compare(ref: ActorRef[Any], text: str, repeat: int, folder: Path) -> str:
    text = prepare_speech(text, "it", 5000)
    ours: list[Timing] = []
    bare: list[Timing] = []
    for _ in range(repeat):
        ours.append(await ours_run(ref, text))
        bare.append(await trio.to_thread.run_sync(bare_run, text, folder))
    note = await ref.ask(Synthesize(text), timeout=120)
    audio = note.duration_seconds
    note.discard()
    ow, bw = [t.wall for t in ours], [t.wall for t in bare]
    om, bm = statistics.median(ow), statistics.median(bw)
    oc, bc = statistics.median(t.cpu for t in ours), statistics.median(t.cpu for t in bare)
    return (
        f"| {len(text)} | {audio:.1f} | {om:.3f} ({min(ow):.3f}) | {bm:.3f} ({min(bw):.3f}) "
        f"| {om / bm:.2f} ({min(ow) / min(bw):.2f}) | {oc:.3f} | {bc:.3f} |"
    )


async def lag_while(ref: ActorRef[Any] | None, jobs: int) -> tuple[list[float], float]:
    """Lags (ms) of a 1 ms sleep loop while ``jobs`` syntheses run, and their wall time."""
    lags: list[float] = []
    started = time.perf_counter()

    async def monitor(done: trio.Event) -> None:
        while not done.is_set():
            before = time.perf_counter()
            await trio.sleep(0.001)
            lags.append((time.perf_counter() - before - 0.001) * 1000)

    async def synthesise(index: int) -> None:
        assert ref is not None
        await ours_seconds(ref, prose(2000, index))

    async with trio.open_nursery() as nursery:
        done = trio.Event()
        nursery.start_soon(monitor, done)
        if ref is None:
            await trio.sleep(3)
        else:
            async with trio.open_nursery() as jobs_nursery:
                for index in range(jobs):
                    jobs_nursery.start_soon(synthesise, index)
        done.set()
    return lags, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lag_row(label: str, lags: list[float], seconds: float) -> str:
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    return f"| {label} | {seconds:.2f} | {len(lags)} | {p50:.2f} | {p99:.2f} | {max(lags):.2f} |"


async def loop_lag(worker_counts: list[int], folder: Path) -> None:
    print("\n### Event-loop lag while four 2,000-character syntheses run\n")
    print("| configuration | wall s | samples | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    idle, seconds = await lag_while(None, 0)
    print(lag_row("nothing running (floor)", idle, seconds))
    for workers in worker_counts:
        async with open_actor_system(spec(workers, folder / f"lag{workers}")) as system:
            ref = system.ref("voice")
            await ours_seconds(ref, "Pronto.")
            lags, seconds = await lag_while(ref, 4)
        print(lag_row(f"4 syntheses, TTS_WORKERS={workers}", lags, seconds))


def describe_machine() -> None:
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True)
    opusenc = subprocess.run(["opusenc", "--version"], capture_output=True, text=True)
    print(
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    print(f"- {espeak.stdout.split('  Data')[0].strip()}")
    print(f"- ours: {check_voice(VoiceSettings(language='it'))[0].detail}")
    print(f"- {opusenc.stdout.splitlines()[0].strip()}")


async def main(repeat: int, worker_counts: list[int]) -> None:
    describe_machine()
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as name:
        folder = Path(name)
        await side_by_side(repeat, folder)
        await loop_lag(worker_counts, folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workers", default="1,2", help="TTS_WORKERS values for the lag run")
    args = parser.parse_args()
    trio.run(main, args.repeat, [int(w) for w in args.workers.split(",")])
