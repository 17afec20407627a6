"""The emulators' shared ``python -m`` plumbing (the processes themselves are tested in
test_testing_botapi.py and test_testing_llm_server.py)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import httpx
import pytest
import trio
import trio.testing

from tauro.testing._process import (
    emulator_arguments,
    run_emulator,
    serve_until_stopped,
    start_emulator_process,
    stop_process,
)


def test_every_emulator_takes_host_and_port() -> None:
    parser = emulator_arguments("tauro.testing.example", default_port=1234)
    assert parser.prog == "python -m tauro.testing.example"
    args = parser.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 1234)
    assert parser.parse_args(["--port", "0"]).port == 0


async def test_ready_line_comes_first_then_it_serves(capsys: pytest.CaptureFixture[str]) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_until_stopped, "http://127.0.0.1:5/")
        await trio.testing.wait_all_tasks_blocked()
        assert capsys.readouterr().out == "READY http://127.0.0.1:5/\n"
        nursery.cancel_scope.cancel()


def test_ctrl_c_is_a_clean_stop() -> None:
    async def interrupted(args: argparse.Namespace) -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        run_emulator(interrupted, argparse.Namespace())
    assert stopped.value.code == 0


def test_a_started_process_serves_at_the_url_it_announced() -> None:
    process, url = start_emulator_process("tauro.testing.llm_server", "--model", "tiny:1b")
    try:
        tags = httpx.get(f"{url}/api/tags", timeout=30).json()
    finally:
        process.terminate()
        process.wait()
    assert [m["name"] for m in tags["models"]] == ["tiny:1b"]


def test_a_process_that_never_gets_ready_is_an_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match=r"tauro\.testing\.no_such_module did not start"):
        start_emulator_process("tauro.testing.no_such_module")


def test_stop_process_kills_what_ignores_sigterm() -> None:
    ignoring = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    ignoring += "print('ready', flush=True); time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", ignoring], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    stop_process(process, timeout=0.5)
    assert process.returncode == -signal.SIGKILL
