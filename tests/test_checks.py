"""``tauro check`` against the emulators: getMe, the LLM's models, espeak-ng, the port."""

from __future__ import annotations

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
