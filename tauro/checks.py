"""``tauro check``: validate the settings and reach every outside system once.

Each finding is one line, ``ok``, ``WARN`` (worth knowing, not a problem: a
webhook left set that ``tauro run`` will delete) or ``FAIL``, and every FAIL
says what to do.
Nothing here starts the bot or polls Telegram, so it is safe beside a running bot.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import trio

from tauro.actors.llm import check_llm
from tauro.actors.telegram import check_telegram
from tauro.actors.voice import check_voice
from tauro.config import LoadedSettings, Settings
from tauro.files import private_directory_problem, state_directory_problem

__all__ = ["collect_findings", "run_checks"]


def run_checks(loaded: LoadedSettings) -> int:
    """Print the report; 0 when everything is ok, 1 otherwise."""
    lines = trio.run(collect_findings, loaded)
    print("TauroBot check")
    for line in lines:
        print(f"  {line}")
    failed = sum(line.startswith("FAIL") for line in lines)
    print(f"{failed} problem(s)" if failed else "everything is ready: `tauro run`")
    sys.stdout.flush()
    return 1 if failed else 0


async def collect_findings(loaded: LoadedSettings) -> list[str]:
    settings = loaded.settings
    lines = _settings_lines(loaded)
    lines += _memory_lines(settings)
    lines += _audio_lines(settings)
    lines += _web_lines(settings)
    lines += (await check_telegram(settings.telegram)).lines()
    lines += (await check_llm(settings.llm)).lines()
    voice = await trio.to_thread.run_sync(check_voice, settings.voice_actor_settings())
    for finding in voice:
        status = "ok  " if finding.ok else "FAIL"
        fix = f": {finding.fix}" if finding.fix and not finding.ok else ""
        lines.append(f"{status} {finding.name}: {finding.detail}{fix}")
    return lines


def _settings_lines(loaded: LoadedSettings) -> list[str]:
    sources = sorted(set(loaded.sources.values()))
    origin = ", ".join(sources) or "defaults"
    lines = [f"ok   settings are valid ({len(loaded.sources)} set, from {origin})"]
    if loaded.ignored_keys:
        lines.append(
            f"ok   config.yml keys TauroBot does not use: {', '.join(loaded.ignored_keys)}"
        )
    if not loaded.settings.telegram.token:
        lines.append(
            "FAIL TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put "
            "TELEGRAM_BOT_TOKEN=... in .env or the environment"
        )
    return lines


def _memory_lines(settings: Settings) -> list[str]:
    path = settings.memory.file
    directory = path.parent if str(path.parent) else Path(".")
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        return [f"FAIL MEMORY_FILE={path}: {existing} is not writable; choose another path"]
    problem = state_directory_problem(directory)
    if problem is not None:
        return [
            f"FAIL MEMORY_FILE={path}: its folder {directory} {problem}; "
            "make it the bot user's own, writable only by it, or choose another path"
        ]
    state = f"{path.stat().st_size} bytes" if path.is_file() else "will be created"
    return [f"ok   MEMORY_FILE={path} ({state})", _retention_line(settings.memory.retention_days)]


def _retention_line(days: float) -> str:
    if days <= 0:
        return "ok   MEMORY_RETENTION_DAYS=0: every conversation is kept forever"
    return (
        f"ok   MEMORY_RETENTION_DAYS={days:g}: conversations idle longer than {days:g} days "
        "are DELETED (set 0 to keep them forever)"
    )


def _audio_lines(settings: Settings) -> list[str]:
    """VOICE_DIR: where voice notes and web clips go, refused unless private."""
    if not settings.voice.enabled and not settings.web.enabled:
        return []
    folder = settings.audio_directory()
    problems = [
        f"{path} {problem}"
        for path in (folder, folder / "notes", folder / "notes" / "cache", folder / "web")
        if (problem := private_directory_problem(path)) is not None
    ]
    if problems:
        return [
            f"FAIL VOICE_DIR: {'; '.join(problems)}; the bot refuses to keep audio there: "
            "remove it (it is recreated private) or set VOICE_DIR to a folder only the "
            "bot's user can open"
        ]
    state = "private" if folder.exists() else "will be created private (0700)"
    return [f"ok   VOICE_DIR={folder} ({state})"]


def _web_lines(settings: Settings) -> list[str]:
    web = settings.web
    if not web.enabled:
        return ["ok   web app is off (WEB_ENABLED=false)"]
    lines = []
    if web.host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(
            f"ok   WEB_HOST={web.host} listens beyond this machine; access needs the web token"
        )
    try:
        with socket.create_server((web.host, web.port)):
            pass
    except OSError as error:
        lines.append(
            f"FAIL WEB_HOST:WEB_PORT={web.host}:{web.port} cannot be bound ({error.strerror}): "
            "choose another WEB_PORT, or stop what uses it"
        )
    else:
        lines.append(f"ok   web app will listen on http://{web.host}:{web.port}/")
    return lines
