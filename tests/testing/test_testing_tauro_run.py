"""TauroProcess and the emulators as processes: what the outside-in tests stand on
(they use it in tests/test_cli.py, the kill -9 and the full-disk tests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tauro.testing import TauroProcess, open_emulators, run_environment


def test_a_bot_that_exits_instead_of_getting_ready_fails_the_wait_with_its_log(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    with TauroProcess(tmp_path, env) as bot, pytest.raises(AssertionError) as failed:
        bot.wait_ready()
    assert "never logged 'system.ready'" in str(failed.value)
    assert "TELEGRAM_BOT_TOKEN" in str(failed.value)  # its own words, from its log
    assert bot.process.returncode == 2


def test_a_bot_on_the_emulators_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    with open_emulators() as emulators:
        env = run_environment(emulators, WEB_ENABLED="false")
        assert env["TELEGRAM_API_BASE_URL"] == emulators.bot_url
        with TauroProcess(tmp_path, env) as bot:
            bot.wait_ready()
            emulators.push(7, "ciao")
            emulators.control("/_emulator/wait_sent?count=1&chat_id=7&timeout=30")
            assert bot.stop() == 0, bot.log
        assert [m["text"] for m in emulators.messages()] == ["Echo: ciao"]
    assert bot.count("system.stopped graceful=True") == 1
