"""A real ``tauro run`` and the emulators it talks to, each its own process.

The outside-in tests (and the kill -9 benchmark) drive TauroBot as a user runs
it: ``open_emulators`` starts the Bot API emulator (any chat id) and the LLM
emulator with ``python -m``, ``run_environment`` is the environment of a bot
that talks to them, and ``TauroProcess`` is one ``python -m tauro run``, whose
log (stderr) a thread collects so that a test can wait for a line, stop it
with SIGTERM, kill it with SIGKILL, and read what it said.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tauro.testing._process import start_emulator_process, stop_process

__all__ = ["TOKEN", "Emulators", "TauroProcess", "open_emulators", "run_environment"]

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"  # noqa: S105 (the emulator's)
_CONTROL_TIMEOUT = 90.0  # seconds; more than any ``wait_sent?timeout=`` a test asks for


@dataclass(frozen=True)
class Emulators:
    """Where the emulators listen, and their control endpoints (``/_emulator/...``)."""

    bot_url: str  # python-telegram-bot's base_url: ".../bot"
    llm_url: str
    token: str = TOKEN

    def control(self, path: str, body: dict[str, object] | None = None) -> object:
        """A control endpoint of the Bot API emulator; GET, or POST with a JSON body."""
        return _json_call(self.bot_url.removesuffix("/bot") + path, body)

    def llm_control(self, path: str, body: dict[str, object] | None = None) -> object:
        """A control endpoint of the LLM emulator."""
        return _json_call(self.llm_url.rstrip("/") + path, body)

    def push(self, chat_id: int, text: str) -> None:
        """A user writes ``text`` in ``chat_id``."""
        self.control("/_emulator/push_message", {"chat_id": chat_id, "text": text})

    def messages(self) -> list[dict[str, object]]:
        """Every message the bot sent, as the emulator shows it."""
        answer = self.control("/_emulator/sent")
        assert isinstance(answer, dict)
        return list(answer["messages"])


def _json_call(url: str, body: dict[str, object] | None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=_CONTROL_TIMEOUT) as response:  # noqa: S310
        return json.load(response)


@contextmanager
def open_emulators(*llm_options: str, token: str = TOKEN) -> Iterator[Emulators]:
    """Both emulators as processes; ``llm_options`` go to the LLM emulator's command
    line (``"--first-token-latency", "2"``...). Its model is ``llama2``, the default."""
    botapi, bot_url = start_emulator_process("tauro.testing.botapi", "--token", token, "--any-chat")
    try:
        llm, llm_url = start_emulator_process(
            "tauro.testing.llm_server", "--model", "llama2", *llm_options
        )
    except BaseException:
        stop_process(botapi)
        raise
    try:
        yield Emulators(bot_url, llm_url, token)
    finally:
        for process in (botapi, llm):
            stop_process(process)


def run_environment(emulators: Emulators, **settings: str) -> dict[str, str]:
    """This process's environment without its Telegram and LLM settings, plus a bot
    that talks to ``emulators`` (web app on a free port, no voice) and ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "OLLAMA"))}
    env.update(
        TELEGRAM_BOT_TOKEN=emulators.token,
        TELEGRAM_API_BASE_URL=emulators.bot_url,
        OLLAMA_HOST=emulators.llm_url,
        TELEGRAM_POLL_TIMEOUT="1",
        WEB_PORT="0",
        ENABLE_TTS="false",
    )
    env.update(settings)
    return env


class TauroProcess:
    """One ``python -m tauro run`` in ``directory``; a thread collects its log (stderr).

    As a context manager it kills the process if it still runs at the end, so a
    failed test leaves nothing behind.
    """

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tauro", "run"],
            cwd=directory,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def __enter__(self) -> TauroProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.kill()

    @property
    def log(self) -> str:
        """Everything it logged so far (all of it once it has exited)."""
        return "".join(self.lines)

    def count(self, needle: str) -> int:
        """How many log lines contain ``needle``."""
        return sum(needle in line for line in self.lines)

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        """Until a log line contains ``needle``; if it exits or ``timeout`` passes
        first, kill it and raise ``AssertionError`` with the log."""
        deadline = time.monotonic() + timeout
        while not self.count(needle):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"tauro run never logged {needle!r}:\n{self.log}")
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every actor runs (the ``system.ready`` line)."""
        self.wait_for("system.ready", timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        self.process.send_signal(signal.SIGKILL)
        self.wait()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as systemd or Ctrl-C would; its exit code once it has stopped.

        ``subprocess.TimeoutExpired`` if it still runs after ``timeout`` seconds.
        """
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code once it has exited by itself, with its whole log read."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code
