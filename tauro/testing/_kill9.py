"""Kill -9 trials of a real ``tauro run`` against the emulators run as processes.

Used by the delivery tests and by ``bench/delivery_kill9.py``: the Bot API and
LLM emulators run as their own processes (they outlive every bot), the bot is
``python -m tauro run`` with its settings in the environment, questions are
pushed through the emulator's control endpoints, and the bot is killed with
SIGKILL at random moments while answers are being sent and edited. After the
last kill the bot runs until every question is answered, is stopped
gracefully, and the chats are compared with the memory file:

- *unanswered*: a recorded question whose answer no message in its chat shows;
- *duplicates*: messages beyond one per question (a second copy of an answer,
  or a message left behind unfinished);
- *counted*: the bot's own count of possible duplicates (the
  ``telegram.delivery.possible_duplicate`` lines), which must cover them.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import re
import select
import signal
import struct
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from tauro.actors.memory import DeliveryNote
from tauro.actors.memory._delivery import read_delivery_logs
from tauro.testing._tauro_run import Emulators, TauroProcess, open_emulators, run_environment

__all__ = [
    "Plan",
    "Verdict",
    "bot_environment",
    "judge",
    "kill_when_logged",
    "open_trial_emulators",
    "run_chain",
    "webhook_environment",
]

_ANSWER = re.compile(r"Echo: (c\d+-q\d+)")


def open_trial_emulators(
    *, answer_tokens: int = 40, token_latency: float = 0.01
) -> AbstractContextManager[Emulators]:
    """The emulators of a trial: answers of ``answer_tokens`` tokens, streamed."""
    return open_emulators(
        "--answer-tokens", str(answer_tokens), "--token-latency", str(token_latency)
    )


def bot_environment(directory: Path, emulators: Emulators, **extra: str) -> dict[str, str]:
    """A bot whose answers take two messages each, streamed and edited quickly."""
    settings = {
        "TELEGRAM_EDIT_INTERVAL": "0.1",
        "TELEGRAM_PER_CHAT_RATE": "30",
        "TELEGRAM_GLOBAL_RATE": "300",
        "MAX_MESSAGE_LENGTH": "160",  # answers of ~250 characters: two messages each
        "MEMORY_FILE": str(directory / "memory" / "conversations.json"),
        "MEMORY_DURABILITY": "none",  # kill -9 is a process crash: the page cache survives it
        "WEB_ENABLED": "false",
    }
    return run_environment(emulators, **(settings | extra))


def webhook_environment(port: int) -> dict[str, str]:
    """The settings of a bot in webhook mode, its web app (and webhook) on ``port``."""
    return {
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "WEB_ENABLED": "true",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
    }


# A fork server: imports the bot once, then forks one `tauro run` per line it
# reads ("RUN <log file>" -> "<pid>", "WAIT <pid>" -> "<exit code>"). Each
# child runs the same `main(["run"])` as `python -m tauro run`, with its log
# (stderr) in the file named, without paying the ~1.5 s of imports again.
_FORK_SERVER = r"""
import os, sys
import tauro.app
from tauro.cli import main

def child(log_file):
    os.dup2(os.open(os.devnull, os.O_RDWR), 0)
    os.dup2(os.open(os.devnull, os.O_RDWR), 1)
    os.dup2(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    try:
        code = main(["run"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        code = 70
    sys.stderr.flush()
    os._exit(code)

for line in sys.stdin:
    verb, argument = line.split(maxsplit=1)
    if verb == "RUN":
        pid = os.fork()
        if pid == 0:
            child(argument.strip())
        print(pid, flush=True)
    else:
        _, status = os.waitpid(int(argument), 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
"""


class ForkServer:
    """Starts `tauro run` processes forked from one that imported the bot already."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.process = subprocess.Popen(
            [sys.executable, "-c", _FORK_SERVER],
            cwd=directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.started = 0

    def call(self, verb: str, argument: str) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{verb} {argument}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the fork server died")
        return int(answer)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


class ForkedBot:
    """``TauroProcess``'s interface for a `tauro run` forked by a ``ForkServer``."""

    def __init__(self, server: ForkServer) -> None:
        server.started += 1
        self._server = server
        self._log = server.directory / f"bot-{server.started}.log"
        self.pid = server.call("RUN", str(self._log))
        self.returncode: int | None = None

    @property
    def lines(self) -> list[str]:
        try:
            return self._log.read_text(errors="replace").splitlines(keepends=True)
        except FileNotFoundError:
            return []

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any("system.ready" in line for line in self.lines):
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("tauro run never logged system.ready:\n" + "".join(self.lines))
            time.sleep(0.02)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self, timeout: float = 60.0) -> int:
        return self._signal(signal.SIGTERM)

    def _signal(self, number: int) -> int:
        if self.returncode is None:
            os.kill(self.pid, number)
            self.returncode = self._server.call("WAIT", str(self.pid))
        return self.returncode

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)


@dataclass
class Verdict:
    questions: int = 0
    unanswered: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # question (or "?") per extra message
    counted: int = 0  # possible duplicates the bot logged
    undelivered_in_memory: list[str] = field(default_factory=list)


def judge(memory_file: Path, messages: list[dict[str, object]], counted: int) -> Verdict:
    """Compare the chats with the memory file written by the last, graceful, stop.

    An answer is complete when the messages its record names show exactly its
    text; every other message of the bot is a duplicate. A bot that records no
    message ids (the design before) is judged by walking each chat instead.
    """
    stored = json.loads(memory_file.read_text())["conversations"]
    verdict = Verdict(counted=counted)
    for chat, history in stored.items():
        shown = [m for m in messages if str(m["chat_id"]) == chat]
        records = _records(history, verdict)
        if all("message_ids" in answer for answer in records.values() if answer):
            _judge_by_ids(records, shown, verdict)
        else:
            answers = {question: str(a.get("content", "")) for question, a in records.items()}
            _judge_chat(answers, shown, verdict)
    return verdict


def _records(history: list[dict[str, object]], verdict: Verdict) -> dict[str, dict[str, object]]:
    """Question text -> its answer's record ({} if unanswered), for every question."""
    by_update = {m["update_id"]: m for m in history if m.get("role") == "user"}
    records: dict[str, dict[str, object]] = {}
    for asked in by_update.values():
        verdict.questions += 1
        records[str(asked["content"])] = {}
    for message in history:
        if message.get("role") == "assistant" and message.get("reply_to") in by_update:
            text = str(by_update[message["reply_to"]]["content"])
            records[text] = message
            if message.get("delivered") is False:
                verdict.undelivered_in_memory.append(text)
    return records


def _judge_by_ids(
    records: dict[str, dict[str, object]], shown: list[dict[str, object]], verdict: Verdict
) -> None:
    by_id = {message["message_id"]: message for message in shown}
    carrying: set[object] = set()
    for question, answer in records.items():
        ids = answer.get("message_ids")
        ids = ids if isinstance(ids, list) else []
        texts = [str(by_id[i]["text"]) for i in ids if i in by_id]
        complete = bool(ids) and len(texts) == len(ids)
        if complete and _bare("".join(texts)) == _bare(str(answer["content"])):
            carrying.update(ids)
        else:
            verdict.unanswered.append(question)
    for message in shown:
        if message["message_id"] not in carrying:
            found = _ANSWER.search(str(message["text"]))
            verdict.duplicates.append(found.group(1) if found else "?")


def _judge_chat(answers: dict[str, str], shown: list[dict[str, object]], verdict: Verdict) -> None:
    """Walk the chat in order: an answer is its first message and the pieces that
    continue it; every other message is a duplicate."""
    complete: set[str] = set()
    index = 0
    while index < len(shown):
        found = _ANSWER.search(str(shown[index]["text"]))
        question = found.group(1) if found else "?"
        if question in answers and question not in complete:
            pieces = _pieces(shown, index, answers[question])
            if pieces:
                complete.add(question)
                index += pieces
                continue
        verdict.duplicates.append(question)
        index += 1
    verdict.unanswered += [question for question in answers if question not in complete]


def _pieces(shown: list[dict[str, object]], start: int, answer: str) -> int:
    """How many messages from ``start`` on show exactly ``answer`` (0: they do not)."""
    wanted, text = _bare(answer), ""
    for count, message in enumerate(shown[start:], start=1):
        text += _bare(str(message["text"]))
        if text == wanted:
            return count
        if not wanted.startswith(text):
            return 0
    return 0


def _bare(text: str) -> str:
    """The text without whitespace: pieces are cut at spaces, which a cut may drop."""
    return "".join(text.split())


def question_text(chat: int, number: int) -> str:
    return f"c{chat}-q{number}"


@dataclass
class Plan:
    """What one chain of kills does (defaults: the test's short chain)."""

    kills: int = 5
    chats: int = 10
    questions_per_run: int = 6  # pushed right after each start
    longest: float = 1.2  # seconds: the kill comes at uniform(0, longest) after them
    seed: int = 0


@dataclass
class Chain:
    pushed: int = 0
    counted: int = 0
    runs: int = 0
    final_exit: int | None = None
    seconds: float = 0.0


def run_chain(
    directory: Path,
    emulators: Emulators,
    plan: Plan,
    *,
    fork: bool = False,
    settings: dict[str, str] | None = None,
) -> Chain:
    """``plan.kills`` runs killed with SIGKILL, then one run until all is answered.

    ``fork``: the runs are forked from a ``ForkServer`` (the bench: faster);
    ``settings``: more settings of the bot (``bot_environment``'s ``extra``).
    """
    rng, chain, started = random.Random(plan.seed), Chain(), time.monotonic()
    environment = bot_environment(directory, emulators, **(settings or {}))
    server = ForkServer(directory, environment) if fork else None
    try:
        _run_chain(directory, environment, emulators, plan, chain, rng, server)
    finally:
        if server is not None:
            server.close()
    chain.seconds = time.monotonic() - started
    return chain


def _run_chain(
    directory: Path,
    environment: dict[str, str],
    emulators: Emulators,
    plan: Plan,
    chain: Chain,
    rng: random.Random,
    server: ForkServer | None,
) -> None:
    def start() -> TauroProcess | ForkedBot:
        return TauroProcess(directory, environment) if server is None else ForkedBot(server)

    for _ in range(plan.kills):
        bot = start()
        bot.wait_ready()
        for _ in range(plan.questions_per_run):
            chat = rng.randrange(1, plan.chats + 1)
            emulators.push(chat, question_text(chat, chain.pushed))
            chain.pushed += 1
        time.sleep(rng.uniform(0.0, plan.longest))
        bot.kill()
        chain.counted += bot.count(DUPLICATE_LINE)
        chain.runs += 1
    bot = start()
    bot.wait_ready()
    wait_until_quiet(emulators, chain.pushed)
    chain.final_exit = bot.stop()
    chain.counted += bot.count(DUPLICATE_LINE)
    chain.runs += 1


DUPLICATE_LINE = "telegram.delivery.possible_duplicate"


def kill_when_logged(bot: TauroProcess, memory_file: Path, timeout: float = 60.0) -> DeliveryNote:
    """SIGKILL ``bot`` the moment its delivery log holds a message id; returns that note.

    That is the moment the duplicate window is about: Telegram has made the
    message, and memory's own record of its id is usually still on its way. The
    kernel wakes us (inotify) when the log is written, so the kill comes within
    microseconds of it rather than after a polling interval.
    """
    pattern = re.compile(re.escape(memory_file.name) + r"\.delivery\.\d+")
    written: list[str] = []
    with _Inotify(memory_file.parent) as watch:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and bot.process.poll() is None:
            written += watch.written(0.05)
            if any(pattern.fullmatch(name) for name in written):
                bot.kill()
                if notes := read_delivery_logs(memory_file):
                    return notes[0]
                break
    bot.kill()
    raise RuntimeError(
        f"no message id reached the delivery log (files written: {written}, "
        f"exit code {bot.process.returncode}):\n{bot.log}"
    )


class _Inotify:
    """The names of files written in one folder, as the kernel reports them (Linux)."""

    _IN_MODIFY = 0x2
    _HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len

    def __init__(self, folder: Path) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if self._libc.inotify_add_watch(self._fd, bytes(folder), self._IN_MODIFY) < 0:
            os.close(self._fd)
            raise OSError(ctypes.get_errno(), f"cannot watch {folder}")

    def __enter__(self) -> _Inotify:
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self._fd)

    def written(self, timeout: float) -> list[str]:
        """Names written since the last call, waiting up to ``timeout`` for one."""
        readable, _, _ = select.select([self._fd], [], [], timeout)
        if not readable:
            return []
        data, names, offset = os.read(self._fd, 65536), [], 0
        while offset < len(data):
            _, _, _, length = self._HEADER.unpack_from(data, offset)
            offset += self._HEADER.size
            names.append(data[offset : offset + length].rstrip(b"\0").decode())
            offset += length
        return names


def wait_until_quiet(emulators: Emulators, questions: int, timeout: float = 120.0) -> None:
    """Until every question has a message and no message changed for a while."""
    deadline, last, quiet_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        messages = emulators.messages()
        marked = {m.group(1) for x in messages if (m := _ANSWER.search(str(x["text"])))}
        signature = (len(messages), sum(len(str(x["history"])) for x in messages))
        if signature != last:
            last, quiet_since = signature, time.monotonic()
        elif len(marked) >= questions and time.monotonic() - quiet_since > 1.5:
            return
        time.sleep(0.2)
