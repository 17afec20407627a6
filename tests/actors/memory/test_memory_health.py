"""Outages of memory's writes: the log cadence (MockClock), and a real full disk.

The full-disk test mounts a 4 MiB tmpfs (the test runs as root here and in CI),
fills it to the last byte while a real `tauro run` runs, has five users ask, and
frees the space again.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import trio
import trio.testing

from tauro.actors.memory._health import REMIND_EVERY, WriteHealth, free_bytes
from tauro.testing import Emulators, TauroProcess, free_loopback_port
from tauro.testing._disk import fill_to_the_last_byte
from tauro.testing._kill9 import bot_environment, open_trial_emulators, webhook_environment


def _events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "tauro.memory"]


async def _free_space(directory: Path) -> int:
    return 4096


async def test_free_space_is_measured_where_the_memory_file_is(tmp_path: Path) -> None:
    assert free_bytes(tmp_path) == shutil.disk_usage(tmp_path).free
    assert free_bytes(tmp_path / "missing") is None


async def test_an_outage_is_one_error_a_warning_a_minute_and_one_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.DEBUG, logger="tauro.memory")
    health = WriteHealth(tmp_path / "conversations.json", free_space=_free_space)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(health.run)
        for _ in range(30):  # a failed write every 5 s for 150 s
            health.failed("cannot append to the journal (No space left on device)")
            await trio.sleep(5)
        assert not health.writable
        assert health.unwritable_for() == pytest.approx(150)
        health.succeeded()
        await trio.sleep(10 * REMIND_EVERY)  # no reminder once it is over
        nursery.cancel_scope.cancel()
    events = [event for event in _events(caplog) if event[0] != "DEBUG"]
    assert events == [
        ("ERROR", "memory.unwritable"),
        ("WARNING", "memory.still_unwritable"),
        ("WARNING", "memory.still_unwritable"),
        ("INFO", "memory.writable_again"),
    ]
    warning = next(r for r in caplog.records if r.getMessage() == "memory.still_unwritable")
    fields = warning.fields  # type: ignore[attr-defined]
    assert fields["free_bytes"] == 4096
    assert fields["lasted_s"] == 60
    assert health.writable
    assert health.unwritable_for() == 0


async def test_a_new_outage_is_told_anew(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="tauro.memory")
    health = WriteHealth(tmp_path / "conversations.json", free_space=_free_space)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(health.run)
        health.failed("full")
        await trio.sleep(30)
        health.succeeded()
        await trio.sleep(45)  # the first outage's reminder would have come at 60 s
        health.failed("full")
        await trio.sleep(REMIND_EVERY + 1)
        nursery.cancel_scope.cancel()
    assert [event for event in _events(caplog) if event[0] != "DEBUG"] == [
        ("ERROR", "memory.unwritable"),
        ("INFO", "memory.writable_again"),
        ("ERROR", "memory.unwritable"),
        ("WARNING", "memory.still_unwritable"),
    ]


# -- a real full disk under a real bot ---------------------------------------------------


USERS = (101, 102, 103, 104, 105)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_a_full_disk_holds_questions_and_answers_each_once_when_space_returns(
    small_disk: Path, mode: str
) -> None:
    memory_file = small_disk / "memory" / "conversations.json"
    webhook = webhook_environment(free_loopback_port()) if mode == "webhook" else {}
    with open_trial_emulators(answer_tokens=8) as emulators:
        env = bot_environment(small_disk, emulators, MEMORY_FILE=str(memory_file), **webhook)
        env["MEMORY_DURABILITY"] = "fsync"
        bot = TauroProcess(small_disk, env)
        try:
            bot.wait_ready()
            filler = fill_to_the_last_byte(small_disk)
            for user in USERS:
                emulators.push(user, f"question of {user}")
            _wait(lambda: all(len(_texts(emulators, user)) == 1 for user in USERS))
            assert all(_texts(emulators, u)[0].startswith("⚠️ I cannot save") for u in USERS)
            assert _llm_requests(emulators) == 0  # nothing answered that is not recorded
            assert _unconfirmed(emulators) == len(USERS)
            filler.unlink()
            _wait(lambda: all(len(_texts(emulators, user)) == 2 for user in USERS))
            _wait(lambda: _unconfirmed(emulators) == 0)
            assert bot.process.poll() is None  # it never exited
        finally:
            exit_code = bot.stop()
        chats = {user: _texts(emulators, user) for user in USERS}
    assert exit_code == 0
    for user, texts in chats.items():
        assert len(texts) == 2, texts  # told once, answered once
        assert texts[1].startswith(f"Echo: question of {user}")
    stored = json.loads(memory_file.read_text())["conversations"]
    for user in USERS:
        assert [m["role"] for m in stored[str(user)]] == ["user", "assistant"]
        assert stored[str(user)][0]["content"] == f"question of {user}"
    log = "".join(bot.lines)
    assert log.count("memory.unwritable") == 1
    assert log.count("memory.writable_again") == 1


def test_a_stop_on_a_full_disk_confirms_no_held_question_and_the_next_start_answers_them(
    small_disk: Path,
) -> None:
    memory_file = small_disk / "memory" / "conversations.json"
    questions = {USERS[0]: ["first", "second", "third"], USERS[1]: ["alone"]}
    with open_trial_emulators(answer_tokens=8) as emulators:
        env = bot_environment(small_disk, emulators, MEMORY_FILE=str(memory_file))
        bot = TauroProcess(small_disk, env)
        try:
            bot.wait_ready()
            filler = fill_to_the_last_byte(small_disk)
            for user, texts in questions.items():
                for text in texts:
                    emulators.push(user, text)
            _wait(lambda: all(len(_texts(emulators, user)) == 1 for user in questions))
        finally:
            first_exit = bot.stop()
        assert _unconfirmed(emulators) == 4  # the stop confirmed none of them
        assert _llm_requests(emulators) == 0
        filler.unlink()
        bot = TauroProcess(small_disk, env)
        try:
            bot.wait_ready()
            _wait(lambda: len(_texts(emulators, USERS[0])) == 4)
            _wait(lambda: len(_texts(emulators, USERS[1])) == 2)
            _wait(lambda: _unconfirmed(emulators) == 0)
        finally:
            second_exit = bot.stop()
        chats = {user: _texts(emulators, user) for user in questions}
        requests = _llm_requests(emulators)
    assert (first_exit, second_exit) == (0, 0)
    for user, texts in questions.items():
        assert chats[user][0].startswith("⚠️ I cannot save")  # told once
        answers = chats[user][1:]
        assert len(answers) == len(texts)  # each answered once, in order
        for answer, text in zip(answers, texts, strict=True):
            assert answer.startswith(f"Echo: {text}")
    assert requests == 4


def _texts(emulators: Emulators, chat: int) -> list[str]:
    return [str(m["text"]) for m in emulators.messages() if m["chat_id"] == chat]


def _llm_requests(emulators: Emulators) -> int:
    answer = emulators.llm_control("/_emulator/requests")
    assert isinstance(answer, dict)
    return len(answer["requests"])


def _unconfirmed(emulators: Emulators) -> int:
    answer = emulators.control("/_emulator/statistics")
    assert isinstance(answer, dict)
    return int(answer["updates_pending"])


def _wait(condition: object, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
