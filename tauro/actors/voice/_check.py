"""What ``tauro check`` reports about voice: is espeak-ng there, and the voice?

The check starts a synthesis worker exactly as the actor would and reads its
greeting, so it tests the real chain (pyttsx3, libespeak-ng, libsndfile with
Opus) without loading any of it into the calling process.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tauro.actors.voice._engine import INSTALL_HINT, VoiceInfo, choose_voice
from tauro.actors.voice._workers import START_TIMEOUT, WORKER_COMMAND
from tauro.config import VoiceSettings


@dataclass(frozen=True, slots=True)
class VoiceCheck:
    """One line of the report; ``fix`` says what to do when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_voice(
    settings: VoiceSettings, *, worker_command: Sequence[str] = WORKER_COMMAND
) -> tuple[VoiceCheck, ...]:
    """Check the speech engine and the configured voice. Blocks up to START_TIMEOUT s."""
    if not settings.enabled:
        return (VoiceCheck("voice", True, "voice answers are off (ENABLE_TTS=false)"),)
    hello = _greeting(worker_command)
    if not hello.get("ready"):
        error = str(hello.get("error", "the synthesis worker did not start"))
        return (VoiceCheck("espeak-ng", False, error, INSTALL_HINT),)
    voices = tuple(
        VoiceInfo(str(v["id"]), str(v["name"]), tuple(v["languages"])) for v in hello["voices"]
    )
    engine = VoiceCheck(
        "espeak-ng", True, f"pyttsx3 on espeak-ng with {len(voices)} voices, {hello['library']}"
    )
    return (engine, _voice_check(voices, settings.language))


def _voice_check(voices: tuple[VoiceInfo, ...], language: str) -> VoiceCheck:
    choice = choose_voice(voices, language)
    said = f"{choice.voice.id} ({choice.voice.name})"
    if choice.exact:
        return VoiceCheck("voice", True, f"TTS_LANGUAGE={language} speaks with {said}")
    return VoiceCheck(
        "voice",
        False,
        f"no espeak-ng voice for TTS_LANGUAGE={language}; answers would use {said}",
        "set TTS_LANGUAGE to a language `espeak-ng --voices` lists, "
        "or install the voice data (apt-get install espeak-ng espeak-ng-data)",
    )


def _greeting(worker_command: Sequence[str]) -> dict[str, Any]:
    try:
        done = subprocess.run(
            list(worker_command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"ready": False, "error": f"cannot run the synthesis worker: {error}"}
    first = done.stdout.split(b"\n", 1)[0]
    try:
        hello = json.loads(first)
    except ValueError:
        stderr = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return {"ready": False, "error": f"the synthesis worker failed: {stderr[0]}"}
    return hello if isinstance(hello, dict) else {"ready": False}
