"""`tauro check` for voice: the engine, the configured voice, and what to do."""

from __future__ import annotations

import sys

from tauro.actors.voice import check_voice
from tauro.config import VoiceSettings


def test_with_espeak_ng_and_an_italian_voice_everything_is_ok() -> None:
    engine, voice = check_voice(VoiceSettings(language="it"))
    assert engine.ok
    assert engine.name == "espeak-ng"
    assert "voices" in engine.detail
    assert "libsndfile" in engine.detail
    assert voice.ok
    assert voice.detail == "TTS_LANGUAGE=it speaks with roa/it (Italian)"


def test_a_language_without_a_voice_says_what_would_happen_and_what_to_do() -> None:
    _, voice = check_voice(VoiceSettings(language="xx"))
    assert not voice.ok
    assert "TTS_LANGUAGE=xx" in voice.detail
    assert "gmw/en" in voice.detail
    assert "espeak-ng --voices" in voice.fix


def test_a_missing_engine_says_how_to_install_it() -> None:
    refusing = (sys.executable, "-c", 'print(\'{"ready": false, "error": "no libespeak-ng"}\')')
    (engine,) = check_voice(VoiceSettings(), worker_command=refusing)
    assert not engine.ok
    assert engine.detail == "no libespeak-ng"
    assert "apt-get install espeak-ng" in engine.fix


def test_a_worker_that_crashes_is_reported_with_its_last_words() -> None:
    crashing = (sys.executable, "-c", "import sys; sys.exit('libespeak-ng.so.1: cannot open')")
    (engine,) = check_voice(VoiceSettings(), worker_command=crashing)
    assert not engine.ok
    assert "libespeak-ng.so.1: cannot open" in engine.detail


def test_a_worker_that_cannot_run_is_reported() -> None:
    (engine,) = check_voice(VoiceSettings(), worker_command=("/nonexistent/python",))
    assert not engine.ok
    assert "cannot run the synthesis worker" in engine.detail


def test_voice_turned_off_needs_nothing() -> None:
    (only,) = check_voice(VoiceSettings(enabled=False))
    assert only.ok
    assert "ENABLE_TTS=false" in only.detail
