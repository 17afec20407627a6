"""Kill -9 the MemoryActor at random points and check that nothing acknowledged is lost.

Each trial starts a child process running a real actor system with the
MemoryActor on a real directory; client tasks append messages (asks, so they
batch in the mailbox) and print every acknowledged one to stdout, flushed: the
ledger. The parent kills the child with SIGKILL at a random moment, during
start-up/recovery, during appends, or during a snapshot (snapshots are made to
run back to back in every other directory), then recovers the directory and checks that every
acknowledged message is there, in order, exactly once. Trials are chained: the
next child starts from what the killed one left, so recovery itself is killed
too. Every ``--chain`` trials the directory starts afresh, to bound its size.

    python bench/memory_kill9.py --trials 1000
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tauro.runtime import ActorRef

CLIENTS = 6
LIFETIME = 60.0  # seconds a child may live
MEMORY_FILE = "conversations.json"


# -- the child ---------------------------------------------------------------------


async def _client(ref: ActorRef[Any], name: str, trial: int) -> None:
    from tauro.actors.memory import Append

    number = 0
    while True:
        content = f"{trial}:{number}"
        receipt = await ref.ask(Append(name, "user", content))
        print(f"ack {name} {content} {receipt.seq}", flush=True)
        number += 1


async def _child(directory: Path, trial: int, growth: float) -> None:
    import trio

    from tauro.actors.memory import MemoryActor
    from tauro.config import MemorySettings
    from tauro.runtime import ActorSpec, SupervisorSpec, open_actor_system

    settings = MemorySettings(file=directory / MEMORY_FILE, max_size=10**7, retention_days=0.0)

    def factory() -> MemoryActor:  # growth 0: a new snapshot as soon as one ends
        return MemoryActor(settings, rewrite_growth=growth, rewrite_min_bytes=16 * 1024)

    spec = SupervisorSpec(name="root", children=(ActorSpec(name="memory", factory=factory),))
    with trio.move_on_after(LIFETIME):  # never outlive a parent that died
        async with open_actor_system(spec) as system:
            print("ready", flush=True)
            async with trio.open_nursery() as nursery:
                for client in range(CLIENTS):
                    nursery.start_soon(_client, system.ref("memory"), f"c{client}", trial)


def run_child(directory: Path, trial: int, growth: float) -> None:
    import trio

    trio.run(_child, directory, trial, growth)


# -- the parent ----------------------------------------------------------------------


@dataclass
class Chain:
    directory: Path
    growth: float
    acked: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def fresh(cls, parent: Path | None, number: int, prefill: int) -> Chain:
        """A new directory with a prefilled history, so that snapshots take a while."""
        from tauro.actors.memory._records import encode_fragment
        from tauro.actors.memory._snapshot import SnapshotData, write_snapshot

        directory = Path(tempfile.mkdtemp(dir=parent))
        text = "x" * 100
        history = [
            encode_fragment("user", f"{text} {n}", "2025-01-01T00:00:00") for n in range(prefill)
        ]
        data = SnapshotData([("prefill", history)], {}, seq=0, journal=0)
        write_snapshot(directory / MEMORY_FILE, data, durable=True)
        return cls(directory, growth=(0.0, 0.2)[number % 2])


@dataclass
class Totals:
    trials: int = 0
    acked: int = 0
    killed_before_ready: int = 0
    killed_mid_snapshot: int = 0
    torn_tails: int = 0
    failures: list[str] = field(default_factory=list)


def _spawn(chain: Chain, trial: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--child", str(chain.directory), "--trial", str(trial)]
    command += ["--growth", str(chain.growth)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _kill_at_random(
    chain: Chain, child: subprocess.Popen[bytes], rng: random.Random, window: float
) -> bytes:
    """SIGKILL at a random moment: during start-up, while appending, or mid-snapshot."""
    assert child.stdout is not None
    output = b""
    roll = rng.random()
    if roll >= 0.15:  # else: killed during start-up and recovery
        output = child.stdout.readline()
    if roll >= 0.6:  # as soon as a snapshot's temp file shows up
        _wait_for_snapshot(chain.directory, deadline=time.monotonic() + 2 * window)
    time.sleep(rng.uniform(0.0, window if roll < 0.6 else 0.002))
    child.send_signal(signal.SIGKILL)
    output += child.stdout.read()
    child.wait()
    return output


def _wait_for_snapshot(directory: Path, deadline: float) -> None:
    while not _mid_snapshot(directory) and time.monotonic() < deadline:
        time.sleep(0.0005)


def _ledger(output: bytes, chain: Chain) -> tuple[int, bool]:
    lines = output.split(b"\n")[:-1]  # the last piece may be a torn line
    ready = any(line == b"ready" for line in lines)
    count = 0
    for line in lines:
        parts = line.decode().split()
        if parts and parts[0] == "ack":
            chain.acked[parts[1]].append(parts[2])
            count += 1
    return count, ready


def _verify(chain: Chain, max_size: int) -> tuple[list[str], int]:
    from tauro.actors.memory import recover

    recovery = recover(chain.directory / MEMORY_FILE, max_size, repair=False)
    stored = {name: [m.content for m in messages] for name, messages in recovery.state.contents()}
    problems = []
    for name, acked in chain.acked.items():
        problems += _check_conversation(name, acked, stored.get(name, []))
    return problems, recovery.torn_bytes


def _check_conversation(name: str, acked: list[str], stored: list[str]) -> list[str]:
    problems = []
    if len(set(stored)) != len(stored):
        problems.append(f"{name}: duplicates in the stored messages")
    position = {content: index for index, content in enumerate(stored)}
    missing = [content for content in acked if content not in position]
    if missing:
        problems.append(f"{name}: {len(missing)} acknowledged messages lost, first {missing[0]}")
    indexes = [position[content] for content in acked if content in position]
    if indexes != sorted(indexes):
        problems.append(f"{name}: acknowledged messages out of order")
    return problems


def _mid_snapshot(directory: Path) -> bool:
    return any(name.startswith(f".{MEMORY_FILE}.") for name in os.listdir(directory))


def run_trials(args: argparse.Namespace) -> Totals:
    rng = random.Random(args.seed)
    totals = Totals()
    chain = Chain.fresh(args.dir, 0, args.prefill)
    for trial in range(args.trials):
        if trial and trial % args.chain == 0:
            chain = Chain.fresh(args.dir, trial // args.chain, args.prefill)
        output = _kill_at_random(chain, _spawn(chain, trial), rng, args.window)
        count, ready = _ledger(output, chain)
        totals.trials += 1
        totals.acked += count
        totals.killed_before_ready += not ready
        totals.killed_mid_snapshot += _mid_snapshot(chain.directory)
        problems, torn = _verify(chain, 10**7)
        totals.torn_tails += torn > 0
        totals.failures += [f"trial {trial}: {problem}" for problem in problems]
        if args.progress and (trial + 1) % args.progress == 0:
            _report(totals, file=sys.stderr)
    return totals


def _report(totals: Totals, file: TextIO = sys.stdout) -> None:
    print(
        f"trials={totals.trials} acknowledged={totals.acked} "
        f"killed_before_ready={totals.killed_before_ready} "
        f"killed_mid_snapshot={totals.killed_mid_snapshot} torn_tails={totals.torn_tails} "
        f"failures={len(totals.failures)}",
        file=file,
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chain", type=int, default=50, help="trials per fresh directory")
    parser.add_argument("--window", type=float, default=1.0, help="seconds of random delay")
    parser.add_argument("--dir", type=Path, default=None, help="where to make the directories")
    parser.add_argument("--progress", type=int, default=0, help="report every N trials")
    parser.add_argument("--prefill", type=int, default=50000, help="messages in a new history")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trial", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--growth", type=float, default=0.2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        run_child(args.child, args.trial, args.growth)
        return 0
    totals = run_trials(args)
    _report(totals)
    for failure in totals.failures[:20]:
        print("FAIL", failure)
    return 1 if totals.failures or totals.acked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
