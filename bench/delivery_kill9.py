"""Kill -9 `tauro run` many times under load; count unanswered questions and duplicates.

Each chain: the Bot API and LLM emulators run as their own processes; `tauro run`
is started, six questions are pushed to random chats of ten, and the bot is
SIGKILLed at a random moment 0-1.2 s later, while answers (two Telegram messages
each) are being sent and edited; that ``--chain`` times, then the bot runs
until everything is answered and is stopped gracefully, and the chats are
compared with its memory file (see ``tauro/testing/_kill9.py``). Chains run
``--workers`` at a time, each with its own emulators and directory.

With ``--baseline-ref REF`` (repeatable) the same chains also run the bot of
that git revision (exported to a temporary directory and put first on
PYTHONPATH), interleaved with this one's, so the figures of the designs before
this one come from the same run, under the same load.

Each bot is forked from a process that imported the bot once (``ForkServer``;
the child runs the same ``main(["run"])`` as ``python -m tauro run``): a
start takes ~0.2 s instead of ~2.5 s. ``--no-fork`` starts each one afresh.

    python bench/delivery_kill9.py --kills 1000 --workers 4
    python bench/delivery_kill9.py --kills 100 --baseline-ref be9475c
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tauro.testing._kill9 import Plan, judge, open_trial_emulators, run_chain


@dataclass
class Totals:
    kills: int = 0
    questions: int = 0
    unanswered: int = 0
    duplicates: int = 0
    counted: int = 0
    undelivered_in_memory: int = 0
    failed_chains: list[str] = field(default_factory=list)
    seconds: float = 0.0
    loads: list[float] = field(default_factory=list)  # 1-minute load averages seen

    def add(self, other: Totals) -> None:
        for name in ("kills", "questions", "unanswered", "duplicates", "counted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.undelivered_in_memory += other.undelivered_in_memory
        self.failed_chains += other.failed_chains


def one_chain(number: int, args: argparse.Namespace, env: dict[str, str]) -> Totals:
    plan = Plan(kills=args.chain, seed=args.seed * 100_000 + number)
    totals = Totals()
    with (
        tempfile.TemporaryDirectory(prefix="delivery-kill9-") as folder,
        open_trial_emulators() as emu,
    ):
        try:
            chain = run_chain(Path(folder), emu, plan, fork=not args.no_fork, settings=env)
            verdict = judge(Path(folder, "memory", "conversations.json"), emu.messages(), 0)
        except Exception as error:  # a chain that could not finish is reported, not hidden
            totals.failed_chains.append(f"chain {number}: {error!r}"[-600:])
            print(f"  FAILED {totals.failed_chains[-1]}", flush=True)
            return totals
    totals.kills = plan.kills
    totals.questions = verdict.questions
    totals.unanswered = len(verdict.unanswered)
    totals.duplicates = len(verdict.duplicates)
    totals.counted = chain.counted
    totals.undelivered_in_memory = len(verdict.undelivered_in_memory)
    if chain.final_exit != 0:
        totals.failed_chains.append(f"chain {number}: final exit {chain.final_exit}")
    return totals


Design = tuple[str, dict[str, str]]  # label, extra environment of its bots


def run(args: argparse.Namespace, designs: list[Design]) -> dict[str, Totals]:
    """Every design's chains, interleaved (chain n of each in turn), so all see the
    same load on a shared machine."""
    chains = max(1, args.kills // args.chain)
    jobs = [(label, env, n) for n in range(chains) for label, env in designs]
    results = {label: Totals() for label, _ in designs}
    started = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        outcomes = pool.map(lambda job: one_chain(job[2], args, job[1]), jobs)
        for done, ((label, _, _), result) in enumerate(zip(jobs, outcomes, strict=True)):
            totals = results[label]
            totals.add(result)
            totals.loads.append(os.getloadavg()[0])
            if (done + 1) % max(1, len(jobs) // 10) == 0:
                seconds = time.monotonic() - started
                print(f"  {done + 1}/{len(jobs)} chains, {seconds:.0f} s", flush=True)
    for totals in results.values():
        totals.seconds = time.monotonic() - started
    return results


def export_revision(ref: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", ref, "tauro"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def report(label: str, totals: Totals) -> None:
    kills = max(totals.kills, 1)
    print(
        f"{label}: {totals.kills} kills, {totals.questions} questions; unanswered "
        f"{totals.unanswered}; duplicates "
        f"{totals.duplicates} ({100 * totals.duplicates / kills:.2f} % of kills), "
        f"counted by the bot {totals.counted}; answers left undelivered in memory "
        f"{totals.undelivered_in_memory}; load average (1 min) "
        f"{min(totals.loads, default=0):.1f}-{max(totals.loads, default=0):.1f}"
    )
    for failure in totals.failed_chains:
        print(f"{label}: FAILED {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--chain", type=int, default=10, help="kills before each check")
    parser.add_argument("--workers", type=int, default=2, help="chains run at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-ref",
        action="append",
        default=[],
        help="git revision of a design to compare with (repeat for several)",
    )
    parser.add_argument(
        "--no-fork",
        action="store_true",
        help="start each bot as `python -m tauro run` (slower) instead of forking it from "
        "a process that imported the bot once",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="delivery-baseline-") as folder:
        designs: list[Design] = [("this", {})]
        for ref in args.baseline_ref:
            Path(folder, ref).mkdir()
            export_revision(ref, Path(folder, ref))
            designs.append((f"baseline {ref}", {"PYTHONPATH": str(Path(folder, ref))}))
        started = time.monotonic()
        results = run(args, designs)
    print(f"{sum(t.kills for t in results.values())} kills in {time.monotonic() - started:.0f} s")
    for label, totals in results.items():
        report(label, totals)
    this = results["this"]
    if this.unanswered or this.failed_chains or this.duplicates > this.counted:
        sys.exit(1)


if __name__ == "__main__":
    main()
