"""``tauro`` as a user runs it: help, bad settings, and a real run against the emulators."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tauro.cli import EXIT_CONFIG, main
from tauro.testing import free_loopback_port
from tauro.testing._kill9 import webhook_environment

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def test_help_explains_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    for words in ("run", "check", "TELEGRAM_BOT_TOKEN", "exit codes"):
        assert words in text


def test_a_bad_setting_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAVE_INTERVAL", "often")
    assert main(["run"]) == EXIT_CONFIG
    assert "SAVE_INTERVAL='often'" in capsys.readouterr().err


def _start(module: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline().split()
    assert ready[:1] == ["READY"], ready
    return process, ready[1]


@pytest.fixture
def emulators() -> Iterator[tuple[str, str]]:
    botapi, bot_url = _start("tauro.testing.botapi", "--token", TOKEN, "--any-chat")
    llm, llm_url = _start("tauro.testing.llm_server", "--model", "llama2")
    yield bot_url, llm_url
    for process in (botapi, llm):
        process.terminate()
        process.wait(timeout=10)


def _environment(tmp_path: Path, bot_url: str, llm_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "OLLAMA"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=bot_url,
        OLLAMA_HOST=llm_url,
        WEB_PORT="0",
        TELEGRAM_POLL_TIMEOUT="1",
        ENABLE_TTS="false",
        **extra,
    )
    return env


def _control(base_url: str, path: str, body: dict[str, object] | None = None) -> object:
    root = base_url.removesuffix("/bot")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(root + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=90) as response:  # > any wait_sent
        return json.load(response)


def _wait_for_line(process: subprocess.Popen[str], needle: str, seen: list[str]) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return
    pytest.fail(f"no {needle!r} in: {''.join(seen)}")


def _mode_environment(mode: str) -> dict[str, str]:
    return webhook_environment(free_loopback_port()) if mode == "webhook" else {}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_tauro_run_answers_and_stops_cleanly_on_sigterm(
    emulators: tuple[str, str], tmp_path: Path, mode: str
) -> None:
    bot_url, llm_url = emulators
    process = subprocess.Popen(
        [sys.executable, "-m", "tauro", "run"],
        cwd=tmp_path,
        text=True,
        env={**_environment(tmp_path, bot_url, llm_url), **_mode_environment(mode)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines: list[str] = []
    _wait_for_line(process, "system.ready", lines)
    _control(bot_url, "/_emulator/push_message", {"chat_id": 4242, "text": "ciao"})
    _control(bot_url, "/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert log.count("system.ready") == 1
    assert log.count("telegram.webhook.set") == (mode == "webhook")
    assert "system.stopped graceful=True" in log
    assert TOKEN not in log
    stored = json.loads((tmp_path / "memory" / "conversations.json").read_text())
    contents = [m["content"] for m in stored["conversations"]["4242"]]
    assert contents[0] == "ciao"
    assert contents[1].startswith("Echo: ciao")


def _run_to_the_end(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`tauro run` in a subprocess that is expected to exit by itself."""
    command = [sys.executable, "-m", "tauro", "run"]
    return subprocess.run(
        command, cwd=cwd, env=env, text=True, capture_output=True, timeout=120, check=False
    )


def test_a_refused_token_ends_the_run_at_once_with_exit_1_naming_it(
    emulators: tuple[str, str], tmp_path: Path
) -> None:
    bot_url, llm_url = emulators
    env = _environment(tmp_path, bot_url, llm_url, WEB_ENABLED="false")
    env["TELEGRAM_BOT_TOKEN"] = "999999:WRONGwrongWRONGwrongWRONGwrong"
    done = _run_to_the_end(tmp_path, env)
    assert done.returncode == 1, done.stderr
    failed = [line for line in done.stderr.splitlines() if "system.failed" in line]
    assert len(failed) == 1
    assert "actor=telegram" in failed[0]
    assert "TELEGRAM_BOT_TOKEN" in failed[0]
    assert "WRONGwrong" not in done.stderr
    # a refused token is fatal: no restarts, one clear line
    assert done.stderr.count("actor.failed") == 1


def test_tauro_run_without_a_token_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    done = _run_to_the_end(tmp_path, env)
    assert done.returncode == EXIT_CONFIG
    assert "TELEGRAM_BOT_TOKEN" in done.stderr
    assert "@BotFather" in done.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def _tauro_run(cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tauro", "run"],
        cwd=cwd,
        text=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    ("state", "wait_for", "extra"),
    [
        # getMe retried inside the start: the telegram actor is starting
        ("starting", "telegram.request.retry", {}),
        # getMe given up at once: the actor failed and waits a minute to restart
        (
            "backing off",
            "actor.failed",
            {
                "TELEGRAM_MAX_RETRIES": "0",
                "RESTART_BACKOFF_INITIAL": "60",
                "RESTART_BACKOFF_MAX": "60",
            },
        ),
    ],
)
def test_one_sigterm_stops_a_bot_that_cannot_reach_telegram(
    state: str, wait_for: str, extra: dict[str, str], tmp_path: Path
) -> None:
    """The reproduction of issue 9.1: one SIGTERM is enough, whatever the actor is doing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "OLLAMA"))}
    env.update(
        TELEGRAM_BOT_TOKEN="123456:ABC",
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{_closed_port()}/bot",
        WEB_PORT="0",
        ENABLE_TTS="false",
        **extra,
    )
    process = _tauro_run(tmp_path, env)
    lines: list[str] = []
    _wait_for_line(process, wait_for, lines)
    process.send_signal(signal.SIGTERM)
    try:
        _, rest = process.communicate(timeout=20)  # far less than the 60 s backoff
    except subprocess.TimeoutExpired:
        process.kill()
        _, rest = process.communicate()
        pytest.fail(f"still running 20 s after SIGTERM ({state}):\n{''.join(lines)}{rest}")
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "system.stopped graceful=True" in log
    after_stop = log.split("system.stopping", 1)[1]
    assert "actor.restarting" not in after_stop
    assert "method=getMe" not in after_stop


def _texts(bot_url: str, chat_id: int) -> list[str]:
    sent = _control(bot_url, f"/_emulator/sent?chat_id={chat_id}")
    assert isinstance(sent, dict)
    return [str(m.get("text")) for m in sent["messages"] if m.get("text") not in (None, "…")]


def _wait_for_requests(llm_url: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = _control(llm_url, "/_emulator/requests")
        assert isinstance(listed, dict)
        if len(listed["requests"]) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"the LLM emulator never got {count} requests")


@pytest.fixture
def slow_emulators() -> Iterator[tuple[str, str]]:
    """The Bot API, and an LLM that thinks 2 s before its first token."""
    botapi, bot_url = _start("tauro.testing.botapi", "--token", TOKEN, "--any-chat")
    llm, llm_url = _start(
        "tauro.testing.llm_server", "--model", "llama2", "--first-token-latency", "2"
    )
    yield bot_url, llm_url
    for process in (botapi, llm):
        process.terminate()
        process.wait(timeout=10)


CHATS = (101, 102, 103, 104, 105)


def _ask_five_then_sigterm(
    tmp_path: Path, bot_url: str, llm_url: str, **extra: str
) -> tuple[subprocess.Popen[str], str]:
    env = {**_environment(tmp_path, bot_url, llm_url, LLM_MAX_PARALLEL="8"), **extra}
    process = _tauro_run(tmp_path, env)
    lines: list[str] = []
    _wait_for_line(process, "system.ready", lines)
    for chat in CHATS:
        _control(bot_url, "/_emulator/push_message", {"chat_id": chat, "text": f"q{chat}"})
    _wait_for_requests(llm_url, len(CHATS))  # all five are being generated now
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    return process, "".join(lines) + rest


def _stored(tmp_path: Path) -> dict[str, list[str]]:
    stored = json.loads((tmp_path / "memory" / "conversations.json").read_text())
    return {k: [m["content"] for m in v] for k, v in stored["conversations"].items()}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_sigterm_while_answers_are_generated_finishes_them_first(
    slow_emulators: tuple[str, str], tmp_path: Path, mode: str
) -> None:
    bot_url, llm_url = slow_emulators
    process, log = _ask_five_then_sigterm(tmp_path, bot_url, llm_url, **_mode_environment(mode))
    assert process.returncode == 0, log
    assert "system.stopped graceful=True" in log
    for chat in CHATS:
        assert _texts(bot_url, chat) == [f"Echo: q{chat}"], log
        assert _stored(tmp_path)[str(chat)] == [f"q{chat}", f"Echo: q{chat}"]


def test_answers_past_the_grace_period_are_given_after_the_restart(
    slow_emulators: tuple[str, str], tmp_path: Path
) -> None:
    bot_url, llm_url = slow_emulators
    process, log = _ask_five_then_sigterm(tmp_path, bot_url, llm_url, STOP_GRACE_PERIOD="0.5")
    assert process.returncode == 0, log
    assert "actor.drain.deadline" in log
    assert all(_texts(bot_url, chat) == [] for chat in CHATS)
    assert all(_stored(tmp_path)[str(chat)] == [f"q{chat}"] for chat in CHATS)  # pending
    env = _environment(tmp_path, bot_url, llm_url, LLM_MAX_PARALLEL="8")
    process = _tauro_run(tmp_path, env)
    try:
        # One message per chat: its placeholder, edited into the answer.
        waited = _control(bot_url, f"/_emulator/wait_sent?count={len(CHATS)}&timeout=30")
        assert isinstance(waited, dict) and waited["ok"], waited
        for chat in CHATS:
            texts = [t for t in _texts(bot_url, chat) if t.startswith("Echo")]
            deadline = time.monotonic() + 30
            while not texts and time.monotonic() < deadline:
                time.sleep(0.1)
                texts = [t for t in _texts(bot_url, chat) if t.startswith("Echo")]
            assert texts == [f"Echo: q{chat}"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest


def test_tauro_run_sends_the_model_markdown_formatted_and_plain_once_when_refused(
    emulators: tuple[str, str], tmp_path: Path
) -> None:
    """Outside in: a real `tauro run`, the emulators in their own processes."""
    bot_url, llm_url = emulators
    llm_root = llm_url.rstrip("/")
    answers = ["Ecco **il codice**:\n\n```python\nprint('ciao <3')\n```", "Di **nuovo**"]
    _control(llm_root, "/_emulator/script", {"answers": answers})
    process = subprocess.Popen(
        [sys.executable, "-m", "tauro", "run"],
        cwd=tmp_path,
        text=True,
        env=_environment(tmp_path, bot_url, llm_url, WEB_ENABLED="false"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        _wait_for_line(process, "system.ready", lines)
        _control(bot_url, "/_emulator/push_message", {"chat_id": 4242, "text": "codice?"})
        _control(bot_url, "/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
        # Telegram refuses the next formatted message (it should never happen).
        refusal = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
        _control(
            bot_url,
            "/_emulator/inject_error",
            {"method": "sendMessage", "status": 400, "description": refusal},
        )
        _control(bot_url, "/_emulator/push_message", {"chat_id": 4242, "text": "ancora"})
        _control(bot_url, "/_emulator/wait_sent?count=2&chat_id=4242&timeout=30")
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    sent = _control(bot_url, "/_emulator/sent?chat_id=4242")
    assert isinstance(sent, dict)
    first, second = sent["messages"]
    assert first["text"] == "Ecco il codice:\n\nprint('ciao <3')"
    kinds = [(e["type"], e.get("language")) for e in first["entities"]]
    assert kinds == [("bold", None), ("pre", "python")]
    assert (second["text"], second["entities"]) == ("Di nuovo", [])  # plain, once
    calls = _control(bot_url, "/_emulator/calls?method=sendMessage")
    assert isinstance(calls, dict)
    modes = [(c["status"], c["params"].get("parse_mode")) for c in calls["calls"]]
    assert modes == [(200, "HTML"), (400, "HTML"), (200, None)]  # one extra request
    assert ("".join(lines) + rest).count("telegram.html.refused") == 1


def _original_memory_file(path: Path, year_ago: datetime) -> dict[str, object]:
    """TauroBot 3.0's memory/conversations.json, last written a year ago."""
    stamp = year_ago.isoformat()
    original: dict[str, object] = {
        "conversations": {
            "4242": [
                {"role": "user", "content": "Mi chiamo Aldo e ho un gatto", "timestamp": stamp},
                {"role": "assistant", "content": "Piacere, Aldo!", "timestamp": stamp},
            ],
            "777": [{"role": "user", "content": "ciao dal 2025", "timestamp": stamp}],
        },
        "last_updated": stamp,
    }
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps(original, indent=2))
    return original


def test_an_upgrade_keeps_year_old_history_and_the_model_sees_it(
    emulators: tuple[str, str], tmp_path: Path
) -> None:
    bot_url, llm_url = emulators
    memory_file = tmp_path / "memory" / "conversations.json"
    _original_memory_file(memory_file, datetime.now() - timedelta(days=365))
    process = subprocess.Popen(
        [sys.executable, "-m", "tauro", "run"],
        cwd=tmp_path,
        text=True,
        env=_environment(tmp_path, bot_url, llm_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines: list[str] = []
    _wait_for_line(process, "system.ready", lines)
    _control(bot_url, "/_emulator/push_message", {"chat_id": 4242, "text": "Come mi chiamo?"})
    _control(bot_url, "/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
    requests = _control(llm_url, "/_emulator/requests")
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert isinstance(requests, dict)
    (request,) = requests["requests"]
    contents = [message["content"] for message in request["messages"]]
    assert contents[-3:] == ["Mi chiamo Aldo e ho un gatto", "Piacere, Aldo!", "Come mi chiamo?"]
    assert "retention" not in log
    stored = json.loads(memory_file.read_text())["conversations"]
    assert [m["content"] for m in stored["777"]] == ["ciao dal 2025"]
    assert [m["content"] for m in stored["4242"]][:2] == contents[-3:-1]


def test_a_voice_folder_planted_by_another_user_stops_the_bot_naming_it(
    emulators: tuple[str, str], tmp_path: Path
) -> None:
    """Issue 16's attack, as another local user (uid 65534) would set it up."""
    planted = tmp_path / "shared-tmp" / "taurobot-voice-0"
    for folder in (planted, planted / "cache"):
        folder.mkdir(parents=True)
        os.chmod(folder, 0o777)
        os.chown(folder, 65534, 65534)
    bot_url, llm_url = emulators
    env = _environment(tmp_path, bot_url, llm_url, VOICE_DIR=str(planted))
    env["ENABLE_TTS"] = "true"
    done = _run_to_the_end(tmp_path, env)
    assert done.returncode == 1, done.stderr
    (failed,) = [line for line in done.stderr.splitlines() if "system.failed" in line]
    assert "actor=voice" in failed
    assert str(planted) in failed
    assert "user id 65534" in failed
    assert [p.name for p in planted.rglob("*")] == ["cache"]  # nothing of ours went there


def _wait_for_text(bot_url: str, chat_id: int, prefix: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [t for t in _texts(bot_url, chat_id) if t.startswith(prefix)]
        if found:
            return found[-1]
        time.sleep(0.1)
    pytest.fail(f"no message starting {prefix!r} in {_texts(bot_url, chat_id)}")


def test_a_users_language_choice_survives_kill_9(
    emulators: tuple[str, str], tmp_path: Path
) -> None:
    """An Italian user switches to English; the bot is killed; the new process still
    answers in English. The other user, unknown language, gets BOT_LANGUAGE (German)."""
    bot_url, llm_url = emulators
    env = _environment(tmp_path, bot_url, llm_url, BOT_LANGUAGE="de")

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tauro", "run"], cwd=tmp_path, text=True, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        _wait_for_line(process, "system.ready", [])
        return process

    process = start()
    italian = {"chat_id": 4343, "language_code": "it"}
    _control(bot_url, "/_emulator/push_message", {**italian, "text": "/start"})
    assert _wait_for_text(bot_url, 4343, "🐂").startswith("🐂 Ciao")
    _control(bot_url, "/_emulator/push_message", {**italian, "text": "/lang en"})
    _wait_for_text(bot_url, 4343, "I speak English with you.")
    process.kill()  # kill -9: no graceful stop, no final snapshot
    process.wait(timeout=30)
    process = start()
    try:
        _control(bot_url, "/_emulator/push_message", {**italian, "text": "/stats"})
        assert _wait_for_text(bot_url, 4343, "📊") == "📊 0 messages in this chat"
        stranger = {"chat_id": 4444, "language_code": "tlh", "text": "/stats"}
        _control(bot_url, "/_emulator/push_message", stranger)
        assert _wait_for_text(bot_url, 4444, "📊") == "📊 0 Nachrichten in diesem Chat"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert process.returncode == 0


def _post_update(url: str, update: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, json.dumps(update).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_tauro_run_in_webhook_mode_answers_refuses_forgeries_and_survives_kill_9(
    slow_emulators: tuple[str, str], tmp_path: Path
) -> None:
    """TELEGRAM_WEBHOOK_URL: Telegram (the emulator) POSTs to the bot's web server. A
    POST without the secret is refused; after kill -9 the question being answered and
    the one waiting behind it are each answered once."""
    bot_url, llm_url = slow_emulators
    port = free_loopback_port()
    env = {**_environment(tmp_path, bot_url, llm_url), **webhook_environment(port)}
    url = env["TELEGRAM_WEBHOOK_URL"]
    process = _tauro_run(tmp_path, env)
    lines: list[str] = []
    _wait_for_line(process, "telegram.webhook.set", lines)
    _control(bot_url, "/_emulator/push_message", {"chat_id": 501, "text": "q1"})
    assert _wait_for_text(bot_url, 501, "Echo") == "Echo: q1"
    forged = {"update_id": 10**6, "message": {"message_id": 9, "date": 0, "text": "forged",
              "chat": {"id": 501, "type": "private"}, "from": {"id": 501, "is_bot": False,
              "first_name": "Eve"}}}  # fmt: skip
    assert _post_update(url, forged, None) == 401
    assert _post_update(url, forged, "not-the-secret") == 401
    _control(bot_url, "/_emulator/push_message", {"chat_id": 501, "text": "q2"})
    _control(bot_url, "/_emulator/push_message", {"chat_id": 501, "text": "q3"})
    _wait_for_requests(llm_url, 2)  # q2 is being answered, q3 waits behind it
    process.kill()
    _, rest = process.communicate(timeout=30)
    log = "".join(lines) + rest
    process = _tauro_run(tmp_path, env)
    try:
        _wait_for_line(process, "telegram.webhook.set", [])
        deadline = time.monotonic() + 60
        while len(_texts(bot_url, 501)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        pending = _control(bot_url, "/_emulator/statistics")
        assert isinstance(pending, dict)
        while pending["updates_pending"] and time.monotonic() < deadline:
            time.sleep(0.1)
            pending = _control(bot_url, "/_emulator/statistics")
            assert isinstance(pending, dict)
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    log += rest
    assert process.returncode == 0, log
    assert _texts(bot_url, 501) == ["Echo: q1", "Echo: q2", "Echo: q3"]
    assert _stored(tmp_path)["501"] == ["q1", "Echo: q1", "q2", "Echo: q2", "q3", "Echo: q3"]
    calls = _control(bot_url, "/_emulator/calls?method=setWebhook")
    assert isinstance(calls, dict)
    secrets = {str(call["params"]["secret_token"]) for call in calls["calls"]}
    assert len(secrets) == 2  # a new secret at every start
    assert all(secret not in log for secret in secrets)
    assert TOKEN not in log
    posts = _control(bot_url, "/_emulator/webhook_posts")
    assert isinstance(posts, dict)
    assert any(post["status"] is None for post in posts["posts"])  # cut by the kill, redone
