"""``tauro`` as a user runs it: help, bad settings, and a real run against the emulators."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tauro.cli import EXIT_CONFIG, main
from tauro.testing import (
    Emulators,
    TauroProcess,
    free_loopback_port,
    open_emulators,
    run_environment,
)
from tauro.testing._kill9 import webhook_environment


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


@pytest.fixture
def emulators() -> Iterator[Emulators]:
    with open_emulators() as both:
        yield both


def _mode_environment(mode: str) -> dict[str, str]:
    return webhook_environment(free_loopback_port()) if mode == "webhook" else {}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_tauro_run_answers_and_stops_cleanly_on_sigterm(
    emulators: Emulators, tmp_path: Path, mode: str
) -> None:
    with TauroProcess(tmp_path, run_environment(emulators, **_mode_environment(mode))) as bot:
        bot.wait_ready()
        emulators.push(4242, "ciao")
        emulators.control("/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
        assert bot.stop() == 0, bot.log
    assert bot.count("system.ready") == 1
    assert bot.count("telegram.webhook.set") == (mode == "webhook")
    assert "system.stopped graceful=True" in bot.log
    assert emulators.token not in bot.log
    stored = json.loads((tmp_path / "memory" / "conversations.json").read_text())
    contents = [m["content"] for m in stored["conversations"]["4242"]]
    assert contents[0] == "ciao"
    assert contents[1].startswith("Echo: ciao")


def test_tauro_run_stores_nothing_of_a_user_not_allowed(
    emulators: Emulators, tmp_path: Path
) -> None:
    env = run_environment(emulators, ALLOWED_USER_IDS="4242", WEB_ENABLED="false")
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_ready()
        for _ in range(3):
            emulators.push(9999, "let me in")
        emulators.push(4242, "ciao")
        emulators.control("/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
        _wait_all_confirmed(emulators)  # every update handled, the stranger's too
        assert bot.stop() == 0, bot.log
    refusals = [m for m in emulators.messages() if m["chat_id"] == 9999]
    assert len(refusals) == 1
    assert "9999" in str(refusals[0]["text"])
    memory = tmp_path / "memory"
    stored = json.loads((memory / "conversations.json").read_text())["conversations"]
    assert list(stored) == ["4242"]
    assert b"let me in" not in b"".join(path.read_bytes() for path in memory.iterdir())
    requests = emulators.llm_control("/_emulator/requests")
    assert isinstance(requests, dict)
    assert "ciao" in json.dumps(requests)
    assert "let me in" not in json.dumps(requests)


def _wait_all_confirmed(emulators: Emulators, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        statistics = emulators.control("/_emulator/statistics")
        assert isinstance(statistics, dict)
        if statistics["updates_pending"] == 0:
            return
        assert time.monotonic() < deadline, statistics
        time.sleep(0.05)


def _run_to_the_end(cwd: Path, env: dict[str, str]) -> TauroProcess:
    """`tauro run` in a subprocess that is expected to exit by itself."""
    with TauroProcess(cwd, env) as bot:
        bot.wait(timeout=120)
    return bot


def test_a_refused_token_ends_the_run_at_once_with_exit_1_naming_it(
    emulators: Emulators, tmp_path: Path
) -> None:
    env = run_environment(emulators, WEB_ENABLED="false")
    env["TELEGRAM_BOT_TOKEN"] = "999999:WRONGwrongWRONGwrongWRONGwrong"
    done = _run_to_the_end(tmp_path, env)
    assert done.process.returncode == 1, done.log
    failed = [line for line in done.lines if "system.failed" in line]
    assert len(failed) == 1
    assert "actor=telegram" in failed[0]
    assert "TELEGRAM_BOT_TOKEN" in failed[0]
    assert "WRONGwrong" not in done.log
    # a refused token is fatal: no restarts, one clear line
    assert done.count("actor.failed") == 1


def test_tauro_run_without_a_token_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    done = _run_to_the_end(tmp_path, env)
    assert done.process.returncode == EXIT_CONFIG
    assert "TELEGRAM_BOT_TOKEN" in done.log
    assert "@BotFather" in done.log


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


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
    closed = f"http://127.0.0.1:{_closed_port()}"
    nowhere = Emulators(bot_url=f"{closed}/bot", llm_url=closed, token="123456:ABC")
    env = run_environment(nowhere, **extra)
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_for(wait_for)
        try:
            code = bot.stop(timeout=20)  # far less than the 60 s backoff
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 20 s after SIGTERM ({state}):\n{bot.log}")
    assert code == 0, bot.log
    assert "system.stopped graceful=True" in bot.log
    after_stop = bot.log.split("system.stopping", 1)[1]
    assert "actor.restarting" not in after_stop
    assert "method=getMe" not in after_stop


def _texts(emulators: Emulators, chat_id: int) -> list[str]:
    sent = emulators.control(f"/_emulator/sent?chat_id={chat_id}")
    assert isinstance(sent, dict)
    return [str(m.get("text")) for m in sent["messages"] if m.get("text") not in (None, "…")]


def _wait_for_requests(emulators: Emulators, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = emulators.llm_control("/_emulator/requests")
        assert isinstance(listed, dict)
        if len(listed["requests"]) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"the LLM emulator never got {count} requests")


@pytest.fixture
def slow_emulators() -> Iterator[Emulators]:
    """The Bot API, and an LLM that thinks 2 s before its first token."""
    with open_emulators("--first-token-latency", "2") as both:
        yield both


CHATS = (101, 102, 103, 104, 105)


def _ask_five_then_sigterm(tmp_path: Path, emulators: Emulators, **extra: str) -> TauroProcess:
    env = run_environment(emulators, LLM_MAX_PARALLEL="8", **extra)
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_ready()
        for chat in CHATS:
            emulators.push(chat, f"q{chat}")
        _wait_for_requests(emulators, len(CHATS))  # all five are being generated now
        bot.stop()
    return bot


def _stored(tmp_path: Path) -> dict[str, list[str]]:
    stored = json.loads((tmp_path / "memory" / "conversations.json").read_text())
    return {k: [m["content"] for m in v] for k, v in stored["conversations"].items()}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_sigterm_while_answers_are_generated_finishes_them_first(
    slow_emulators: Emulators, tmp_path: Path, mode: str
) -> None:
    bot = _ask_five_then_sigterm(tmp_path, slow_emulators, **_mode_environment(mode))
    assert bot.process.returncode == 0, bot.log
    assert "system.stopped graceful=True" in bot.log
    for chat in CHATS:
        assert _texts(slow_emulators, chat) == [f"Echo: q{chat}"], bot.log
        assert _stored(tmp_path)[str(chat)] == [f"q{chat}", f"Echo: q{chat}"]


def test_answers_past_the_grace_period_are_given_after_the_restart(
    slow_emulators: Emulators, tmp_path: Path
) -> None:
    emulators = slow_emulators
    bot = _ask_five_then_sigterm(tmp_path, emulators, STOP_GRACE_PERIOD="0.5")
    assert bot.process.returncode == 0, bot.log
    assert "actor.drain.deadline" in bot.log
    assert all(_texts(emulators, chat) == [] for chat in CHATS)
    assert all(_stored(tmp_path)[str(chat)] == [f"q{chat}"] for chat in CHATS)  # pending
    with TauroProcess(tmp_path, run_environment(emulators, LLM_MAX_PARALLEL="8")) as bot:
        # One message per chat: its placeholder, edited into the answer.
        waited = emulators.control(f"/_emulator/wait_sent?count={len(CHATS)}&timeout=30")
        assert isinstance(waited, dict)
        assert waited["ok"], waited
        for chat in CHATS:  # each placeholder is edited into the answer as it streams
            texts = _texts(emulators, chat)
            deadline = time.monotonic() + 30
            while texts != [f"Echo: q{chat}"] and time.monotonic() < deadline:
                time.sleep(0.1)
                texts = _texts(emulators, chat)
            assert texts == [f"Echo: q{chat}"]
        assert bot.stop() == 0, bot.log


def test_tauro_run_sends_the_model_markdown_formatted_and_plain_once_when_refused(
    emulators: Emulators, tmp_path: Path
) -> None:
    """Outside in: a real `tauro run`, the emulators in their own processes."""
    answers = ["Ecco **il codice**:\n\n```python\nprint('ciao <3')\n```", "Di **nuovo**"]
    emulators.llm_control("/_emulator/script", {"answers": answers})
    with TauroProcess(tmp_path, run_environment(emulators, WEB_ENABLED="false")) as bot:
        bot.wait_ready()
        emulators.push(4242, "codice?")
        emulators.control("/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
        # Telegram refuses the next formatted message (it should never happen).
        refusal = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
        emulators.control(
            "/_emulator/inject_error",
            {"method": "sendMessage", "status": 400, "description": refusal},
        )
        emulators.push(4242, "ancora")
        emulators.control("/_emulator/wait_sent?count=2&chat_id=4242&timeout=30")
        bot.stop()
    sent = emulators.control("/_emulator/sent?chat_id=4242")
    assert isinstance(sent, dict)
    first, second = sent["messages"]
    assert first["text"] == "Ecco il codice:\n\nprint('ciao <3')"
    kinds = [(e["type"], e.get("language")) for e in first["entities"]]
    assert kinds == [("bold", None), ("pre", "python")]
    assert (second["text"], second["entities"]) == ("Di nuovo", [])  # plain, once
    calls = emulators.control("/_emulator/calls?method=sendMessage")
    assert isinstance(calls, dict)
    modes = [(c["status"], c["params"].get("parse_mode")) for c in calls["calls"]]
    assert modes == [(200, "HTML"), (400, "HTML"), (200, None)]  # one extra request
    assert bot.count("telegram.html.refused") == 1


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
    emulators: Emulators, tmp_path: Path
) -> None:
    memory_file = tmp_path / "memory" / "conversations.json"
    _original_memory_file(memory_file, datetime.now() - timedelta(days=365))
    with TauroProcess(tmp_path, run_environment(emulators)) as bot:
        bot.wait_ready()
        emulators.push(4242, "Come mi chiamo?")
        emulators.control("/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
        requests = emulators.llm_control("/_emulator/requests")
        assert bot.stop() == 0, bot.log
    assert isinstance(requests, dict)
    (request,) = requests["requests"]
    contents = [message["content"] for message in request["messages"]]
    assert contents[-3:] == ["Mi chiamo Aldo e ho un gatto", "Piacere, Aldo!", "Come mi chiamo?"]
    assert "retention" not in bot.log
    stored = json.loads(memory_file.read_text())["conversations"]
    assert [m["content"] for m in stored["777"]] == ["ciao dal 2025"]
    assert [m["content"] for m in stored["4242"]][:2] == contents[-3:-1]


def test_a_voice_folder_planted_by_another_user_stops_the_bot_naming_it(
    emulators: Emulators, tmp_path: Path
) -> None:
    """Issue 16's attack, as another local user (uid 65534) would set it up."""
    planted = tmp_path / "shared-tmp" / "taurobot-voice-0"
    for folder in (planted, planted / "cache"):
        folder.mkdir(parents=True)
        os.chmod(folder, 0o777)
        os.chown(folder, 65534, 65534)
    env = run_environment(emulators, VOICE_DIR=str(planted), ENABLE_TTS="true")
    done = _run_to_the_end(tmp_path, env)
    assert done.process.returncode == 1, done.log
    (failed,) = [line for line in done.lines if "system.failed" in line]
    assert "actor=voice" in failed
    assert str(planted) in failed
    assert "user id 65534" in failed
    assert [p.name for p in planted.rglob("*")] == ["cache"]  # nothing of ours went there


def _wait_for_text(emulators: Emulators, chat_id: int, prefix: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [t for t in _texts(emulators, chat_id) if t.startswith(prefix)]
        if found:
            return found[-1]
        time.sleep(0.1)
    pytest.fail(f"no message starting {prefix!r} in {_texts(emulators, chat_id)}")


def _wait_for_exactly(emulators: Emulators, chat_id: int, text: str) -> None:
    """Until a message shows ``text``: a streamed answer is edited into it step by step."""
    deadline = time.monotonic() + 60
    while text not in _texts(emulators, chat_id):
        if time.monotonic() > deadline:
            pytest.fail(f"no message {text!r} in {_texts(emulators, chat_id)}")
        time.sleep(0.1)


def test_a_users_language_choice_survives_kill_9(emulators: Emulators, tmp_path: Path) -> None:
    """An Italian user switches to English; the bot is killed; the new process still
    answers in English. The other user, unknown language, gets BOT_LANGUAGE (German)."""
    env = run_environment(emulators, BOT_LANGUAGE="de")
    italian = {"chat_id": 4343, "language_code": "it"}
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_ready()
        emulators.control("/_emulator/push_message", {**italian, "text": "/start"})
        assert _wait_for_text(emulators, 4343, "🐂").startswith("🐂 Ciao")
        emulators.control("/_emulator/push_message", {**italian, "text": "/lang en"})
        _wait_for_text(emulators, 4343, "I speak English with you.")
        bot.kill()  # kill -9: no graceful stop, no final snapshot
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_ready()
        emulators.control("/_emulator/push_message", {**italian, "text": "/stats"})
        _wait_for_exactly(emulators, 4343, "📊 0 messages in this chat")
        stranger = {"chat_id": 4444, "language_code": "tlh", "text": "/stats"}
        emulators.control("/_emulator/push_message", stranger)
        _wait_for_exactly(emulators, 4444, "📊 0 Nachrichten in diesem Chat")
        assert bot.stop() == 0, bot.log


def _large_original_file(path: Path, messages: int) -> None:
    """The original bot's layout (``indent=2``), conversations of 1,000 messages."""
    stamp = datetime.now().isoformat()
    conversations: dict[str, list[dict[str, str]]] = {}
    for number in range(messages):
        role = "user" if number % 2 == 0 else "assistant"
        text = f"Message {number}: raccontami qualcosa di Roma antica e dei suoi acquedotti."
        message = {"role": role, "content": text, "timestamp": stamp}
        conversations.setdefault(str(1_000_000 + number // 1000), []).append(message)
    path.parent.mkdir(mode=0o700)
    path.write_bytes(orjson.dumps({"conversations": conversations}, option=orjson.OPT_INDENT_2))


def _health(base_url: str, path: str = "/healthz") -> tuple[int, object]:
    try:
        with urllib.request.urlopen(base_url + path, timeout=10) as response:
            body = response.read()
            return response.status, json.loads(body) if path == "/healthz" else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_web_app_says_starting_while_a_large_memory_loads_then_ok(
    emulators: Emulators, tmp_path: Path
) -> None:
    _large_original_file(tmp_path / "memory" / "conversations.json", 400_000)
    with TauroProcess(tmp_path, run_environment(emulators)) as bot:
        bot.wait_for("web.login_link")
        link = next(line for line in bot.lines if "web.login_link" in line)
        base_url = re.search(r"http://127\.0\.0\.1:\d+", link).group()  # type: ignore[union-attr]
        seen: list[tuple[int, object]] = []
        login_page_while_starting = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not seen or seen[-1][0] != 200):
            seen.append(_health(base_url))
            if seen[-1] == (503, {"status": "starting"}) and not login_page_while_starting:
                login_page_while_starting = _health(base_url, "/login")[0]
            time.sleep(0.01)
        assert bot.stop() == 0, bot.log
    log = bot.log
    assert seen[0] == (503, {"status": "starting"}), log  # the web answers during the load
    assert login_page_while_starting == 200
    assert seen[-1] == (200, {"status": "ok"})
    assert all(
        status in ((503, {"status": "starting"}), (200, {"status": "ok"})) for status in seen
    )
    assert log.index("web.login_link") < log.index("memory.opened") < log.index("system.ready")
    assert "messages=400000" in log


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
    slow_emulators: Emulators, tmp_path: Path
) -> None:
    """TELEGRAM_WEBHOOK_URL: Telegram (the emulator) POSTs to the bot's web server. A
    POST without the secret is refused; after kill -9 the question being answered and
    the one waiting behind it are each answered once."""
    emulators = slow_emulators
    env = run_environment(emulators, **webhook_environment(free_loopback_port()))
    url = env["TELEGRAM_WEBHOOK_URL"]
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_for("telegram.webhook.set")
        emulators.push(501, "q1")
        _wait_for_exactly(emulators, 501, "Echo: q1")
        forged = {"update_id": 10**6, "message": {"message_id": 9, "date": 0, "text": "forged",
                  "chat": {"id": 501, "type": "private"}, "from": {"id": 501, "is_bot": False,
                  "first_name": "Eve"}}}  # fmt: skip
        assert _post_update(url, forged, None) == 401
        assert _post_update(url, forged, "not-the-secret") == 401
        emulators.push(501, "q2")
        emulators.push(501, "q3")
        _wait_for_requests(emulators, 2)  # q2 is being answered, q3 waits behind it
        bot.kill()
    log = bot.log
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_for("telegram.webhook.set")
        deadline = time.monotonic() + 60
        while len(_texts(emulators, 501)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        _wait_all_confirmed(emulators, timeout=60)
        assert bot.stop() == 0, bot.log
    log += bot.log
    assert _texts(emulators, 501) == ["Echo: q1", "Echo: q2", "Echo: q3"]
    assert _stored(tmp_path)["501"] == ["q1", "Echo: q1", "q2", "Echo: q2", "q3", "Echo: q3"]
    calls = emulators.control("/_emulator/calls?method=setWebhook")
    assert isinstance(calls, dict)
    secrets = {str(call["params"]["secret_token"]) for call in calls["calls"]}
    assert len(secrets) == 2  # a new secret at every start
    assert all(secret not in log for secret in secrets)
    assert emulators.token not in log
    posts = emulators.control("/_emulator/webhook_posts")
    assert isinstance(posts, dict)
    assert any(post["status"] is None for post in posts["posts"])  # cut by the kill, redone


@pytest.fixture
def very_slow_emulators() -> Iterator[Emulators]:
    """The Bot API, and an LLM that thinks 60 s before its first token: an answer that
    is still being generated whenever a test gets to it."""
    with open_emulators("--first-token-latency", "60") as both:
        yield both


def _notify_listener(tmp_path: Path) -> socket.socket:
    """Where systemd would listen for ``sd_notify`` datagrams (``NOTIFY_SOCKET``)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0)
    return sock


def _datagrams(sock: socket.socket) -> list[str]:
    received = []
    while True:
        try:
            received.append(sock.recv(4096).decode())
        except BlockingIOError:
            return received


def test_a_second_sigterm_forces_the_stop_with_exit_130_and_the_question_kept(
    very_slow_emulators: Emulators, tmp_path: Path
) -> None:
    """README/docs/runtime.md: a second signal forces the stop (exit 130) and the memory
    flush still completes; docs/deployment.md: STOPPING=1 is sent, graceful or forced."""
    emulators = very_slow_emulators
    with _notify_listener(tmp_path) as sock:
        env = run_environment(
            emulators, STOP_GRACE_PERIOD="120", NOTIFY_SOCKET=str(tmp_path / "notify")
        )
        with TauroProcess(tmp_path, env) as bot:
            bot.wait_ready()
            emulators.push(4242, "domanda")
            _wait_for_requests(emulators, 1)  # the answer is being generated
            bot.process.send_signal(signal.SIGTERM)
            bot.wait_for("system.stopping mode=graceful")  # waiting for the answer
            try:
                code = bot.stop(timeout=30)  # far less than the 120 s of grace
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running 30 s after the second SIGTERM:\n{bot.log}")
        notified = _datagrams(sock)
    assert code == 130, bot.log
    assert "system.stopping mode=forced" in bot.log
    assert "system.stopped graceful=False" in bot.log
    assert bot.log.rindex("system.stopping mode=forced") < bot.log.rindex(
        "memory.snapshot.written"
    )  # the final flush ran after the forced stop began
    assert _stored(tmp_path)["4242"] == ["domanda"]  # in the snapshot, not only the journal
    assert _texts(emulators, 4242) == []
    assert sum(d.startswith("STOPPING=1") for d in notified) == 2, notified  # both stops


API_KEY = "sk-tauro-test-5f1e0c9a7b3d2e4f"  # made up for the test


def test_llm_api_key_never_appears_in_the_log_or_the_answers(
    emulators: Emulators, tmp_path: Path
) -> None:
    """docs/llm.md: LLM_API_KEY never appears in logs or errors, even when the server
    refusing it quotes it back (as OpenAI's "Incorrect API key provided: ..." does)."""
    refusal = f"Incorrect API key provided: {API_KEY}"
    emulators.llm_control(
        "/_emulator/fault", {"kind": "error", "status": 401, "message": refusal, "times": 10}
    )
    env = run_environment(emulators, LLM_API_KEY=API_KEY, LOG_LEVEL="DEBUG")
    with TauroProcess(tmp_path, env) as bot:
        bot.wait_ready()
        emulators.push(4242, "ciao")
        _wait_for_requests(emulators, 1)
        emulators.control("/_emulator/wait_sent?count=1&chat_id=4242&timeout=30")
        assert bot.stop() == 0, bot.log
    assert "Incorrect API key provided: " in bot.log  # the refusal was logged...
    assert API_KEY not in bot.log  # ...without the key
    assert API_KEY not in json.dumps(emulators.messages())
