"""Emulators as their own processes: both sides of the ``python -m`` protocol.

A parent process starts an emulator with ``--port 0`` and reads one line from its
stdout, ``READY <url>``, to learn where it listens; Ctrl-C (or SIGINT) stops it
with exit status 0. Benchmarks run emulators this way so that the CPU time they
measure in their own process is the bot's alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import trio

__all__ = [
    "emulator_arguments",
    "run_emulator",
    "serve_until_stopped",
    "start_emulator_process",
]


def emulator_arguments(module: str, default_port: int) -> argparse.ArgumentParser:
    """A parser for ``python -m <module>`` with the ``--host`` and ``--port`` every one takes."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    return parser


async def serve_until_stopped(url: str) -> NoReturn:
    """Tell the parent process where the emulator listens, then serve until stopped."""
    print(f"READY {url}", flush=True)
    await trio.sleep_forever()


def run_emulator(
    serve: Callable[[argparse.Namespace], Awaitable[None]], args: argparse.Namespace
) -> None:
    try:
        trio.run(serve, args)
    except KeyboardInterrupt:
        sys.exit(0)


def start_emulator_process(module: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m <module> --port 0 <args>``; return it and the URL it serves once ready.

    The caller stops the process (``stop_process``) when done.
    """
    command = [sys.executable, "-m", module, "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        raise RuntimeError(f"{module} did not start: {line!r}")
    return process, line.removeprefix("READY ")


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, and SIGKILL if it still runs ``timeout`` seconds later."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
