"""The package's public names, and what importing it does not load."""

from __future__ import annotations

import subprocess
import sys

import tauro.actors.voice


def test_public_names() -> None:
    assert sorted(tauro.actors.voice.__all__) == [
        "ChooseVoice",
        "GetVoiceStatistics",
        "Synthesize",
        "VoiceActor",
        "VoiceCheck",
        "VoiceChoice",
        "VoiceInfo",
        "VoiceMessage",
        "VoiceNote",
        "VoiceStatistics",
        "check_voice",
    ]
    for name in set(tauro.actors.voice.__all__) - {"VoiceMessage"}:  # that one is a Union
        assert getattr(tauro.actors.voice, name).__module__.startswith("tauro.actors.voice")


def test_the_bots_process_never_loads_the_speech_or_audio_libraries() -> None:
    script = (
        "import sys, tauro.actors.voice\n"
        "print(sorted(m for m in ('pyttsx3', 'soundfile', 'soxr', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
