"""Crash safety: SIGKILL a real MemoryActor process at random points, check the ledger.

This runs the kill -9 script (bench/memory_kill9.py) for a short loop; the same
script runs 1,000 trials as a benchmark. Every trial kills a child process that
appends through a real actor system, some of them in the middle of a snapshot,
and checks that every acknowledged message survived, in order, exactly once.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "memory_kill9.py"


def test_nothing_acknowledged_is_lost_when_killed(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--trials", "20", "--chain", "10"]
    command += ["--prefill", "20000", "--window", "0.5", "--seed", "7", "--dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    totals = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", result.stdout.splitlines()[0])}
    assert totals["trials"] == 20
    assert totals["failures"] == 0
    assert totals["acknowledged"] > 100
    assert totals["killed_mid_snapshot"] >= 1, report
