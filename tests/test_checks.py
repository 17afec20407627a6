"""``tauro check`` against the emulators: getMe, the LLM's models, espeak-ng, the port."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import trio

from tauro.checks import collect_findings
from tauro.config import load_settings
from tauro.testing import open_botapi_emulator, open_llm_server

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_everything_ready_is_reported_ok(tmp_path: Path) -> None:
    async with (
        open_botapi_emulator(token=TOKEN) as bot,
        open_llm_server(models=("llama2:latest", "mistral:7b")) as llm,
    ):
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": bot.base_url,
            "OLLAMA_HOST": llm.url,
            "MEMORY_FILE": str(tmp_path / "m.json"),
            "WEB_PORT": str(_free_port()),
        }
        lines = await collect_findings(load_settings(None, env, None))
    text = "\n".join(lines)
    assert not [line for line in lines if line.startswith("FAIL")], text
    assert "@" in text  # getMe answered with the bot's username
    assert "llama2:latest, mistral:7b" in text
    assert "espeak-ng" in text
    assert TOKEN not in text


async def test_problems_say_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            "OLLAMA_HOST": f"http://127.0.0.1:{_free_port()}",
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{_free_port()}/bot",
            "MEMORY_FILE": str(tmp_path / "m.json"),
            "WEB_PORT": str(port),
            "TTS_LANGUAGE": "xx-nowhere",
        }
        lines = await collect_findings(load_settings(None, env, None))
    failures = "\n".join(line for line in lines if line.startswith("FAIL"))
    assert "@BotFather" in failures
    assert "OLLAMA_HOST" in failures
    assert "WEB_PORT" in failures
    assert "TTS_LANGUAGE=xx-nowhere" in failures
    await trio.lowlevel.checkpoint()


async def _findings(tmp_path: Path, **extra: str) -> list[str]:
    env = {
        "OLLAMA_HOST": f"http://127.0.0.1:{_free_port()}",
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{_free_port()}/bot",
        "MEMORY_FILE": str(tmp_path / "memory" / "m.json"),
        "WEB_PORT": str(_free_port()),
        "ENABLE_TTS": "false",
        **extra,
    }
    return await collect_findings(load_settings(None, env, None))


async def test_a_planted_voice_folder_is_reported_naming_it(tmp_path: Path) -> None:
    planted = tmp_path / "taurobot-voice-0"
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)
    os.chown(planted, 65534, 65534)
    lines = await _findings(tmp_path, VOICE_DIR=str(planted))
    (line,) = [line for line in lines if "VOICE_DIR" in line]
    assert line.startswith("FAIL")
    assert str(planted) in line
    assert "user id 65534" in line


async def test_the_private_voice_folder_and_retention_are_shown(tmp_path: Path) -> None:
    lines = await _findings(tmp_path)
    text = "\n".join(lines)
    assert f"ok   VOICE_DIR={tmp_path / 'memory' / 'voice'} (will be created private" in text
    assert "ok   MEMORY_RETENTION_DAYS=0: every conversation is kept forever" in text
    lines = await _findings(tmp_path, MEMORY_RETENTION_DAYS="90")
    assert any("MEMORY_RETENTION_DAYS=90" in line and "DELETED" in line for line in lines)


async def test_a_memory_folder_others_may_write_is_reported(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    os.chmod(tmp_path / "memory", 0o777)
    lines = await _findings(tmp_path)
    (line,) = [line for line in lines if line.startswith("FAIL MEMORY_FILE")]
    assert "may write there" in line
