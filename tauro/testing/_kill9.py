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

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BotProcess", "Emulators", "Verdict", "judge", "open_emulators", "webhook_environment"]

TOKEN = "123456:DELIVERYtrialTOKENdeliveryTRIAL"  # noqa: S105 (the emulator's)
_ANSWER = re.compile(r"Echo: (c\d+-q\d+)")


@dataclass
class Emulators:
    bot_url: str
    llm_url: str

    def control(self, path: str, body: dict[str, object] | None = None) -> object:
        """A control endpoint of the Bot API emulator (``/_emulator/...``)."""
        return _json_call(self.bot_url.removesuffix("/bot") + path, body)

    def llm_control(self, path: str, body: dict[str, object] | None = None) -> object:
        """A control endpoint of the LLM emulator (``/_emulator/...``)."""
        return _json_call(self.llm_url + path, body)

    def push(self, chat_id: int, text: str) -> None:
        self.control("/_emulator/push_message", {"chat_id": chat_id, "text": text})

    def messages(self) -> list[dict[str, object]]:
        answer = self.control("/_emulator/sent")
        assert isinstance(answer, dict)
        return list(answer["messages"])


def _json_call(url: str, body: dict[str, object] | None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def _start(module: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline().split()
    if ready[:1] != ["READY"]:
        process.kill()
        raise RuntimeError(f"{module} did not start: {ready}")
    return process, ready[1]


@contextmanager
def open_emulators(*, answer_tokens: int = 40, token_latency: float = 0.01) -> Iterator[Emulators]:
    """The Bot API emulator (any chat id) and the LLM emulator, each its own process."""
    botapi, bot_url = _start("tauro.testing.botapi", "--token", TOKEN, "--any-chat")
    llm_args = ["--model", "llama2", "--answer-tokens", str(answer_tokens)]
    llm_args += ["--token-latency", str(token_latency)]
    try:
        llm, llm_url = _start("tauro.testing.llm_server", *llm_args)
    except BaseException:
        botapi.kill()
        raise
    try:
        yield Emulators(bot_url, llm_url)
    finally:
        for process in (botapi, llm):
            process.terminate()
            process.wait(timeout=10)


def bot_environment(directory: Path, emulators: Emulators, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "OLLAMA"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emulators.bot_url,
        OLLAMA_HOST=emulators.llm_url,
        OLLAMA_MODEL="llama2",
        TELEGRAM_POLL_TIMEOUT="1",
        TELEGRAM_EDIT_INTERVAL="0.1",
        TELEGRAM_PER_CHAT_RATE="30",
        TELEGRAM_GLOBAL_RATE="300",
        MAX_MESSAGE_LENGTH="160",  # answers of ~250 characters: two messages each
        MEMORY_FILE=str(directory / "memory" / "conversations.json"),
        MEMORY_DURABILITY="none",  # kill -9 is a process crash: the page cache survives it
        WEB_ENABLED="false",
        ENABLE_TTS="false",
    )
    env.update(extra)
    return env


def webhook_environment(port: int) -> dict[str, str]:
    """The settings of a bot in webhook mode, its web app (and webhook) on ``port``."""
    return {
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "WEB_ENABLED": "true",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
    }


class BotProcess:
    """One ``tauro run``; its log (stderr) is collected by a thread."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._ready = threading.Event()
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
            if "system.ready" in line:
                self._ready.set()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is None and time.monotonic() < deadline:
                continue
            self.kill()
            raise RuntimeError("tauro run never logged system.ready:\n" + "".join(self.lines))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._reader.join(timeout=10)

    def stop(self, timeout: float = 60.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

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


def run_chain(directory: Path, emulators: Emulators, plan: Plan, **env: str) -> Chain:
    """``plan.kills`` runs killed with SIGKILL, then one run until all is answered."""
    rng, chain, started = random.Random(plan.seed), Chain(), time.monotonic()
    environment = bot_environment(directory, emulators, **env)
    for _ in range(plan.kills):
        bot = BotProcess(directory, environment)
        bot.wait_ready()
        for _ in range(plan.questions_per_run):
            chat = rng.randrange(1, plan.chats + 1)
            emulators.push(chat, question_text(chat, chain.pushed))
            chain.pushed += 1
        time.sleep(rng.uniform(0.0, plan.longest))
        bot.kill()
        chain.counted += bot.count(DUPLICATE_LINE)
        chain.runs += 1
    bot = BotProcess(directory, environment)
    bot.wait_ready()
    wait_until_quiet(emulators, chain.pushed)
    chain.final_exit = bot.stop()
    chain.counted += bot.count(DUPLICATE_LINE)
    chain.runs += 1
    chain.seconds = time.monotonic() - started
    return chain


DUPLICATE_LINE = "telegram.delivery.possible_duplicate"


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
