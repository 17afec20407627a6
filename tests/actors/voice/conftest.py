"""Fixtures of the voice tests (the checks themselves live in voice_audio.py)."""

from __future__ import annotations

import pytest
from voice_audio import Audio

from tauro.config import VoiceSettings


@pytest.fixture
def audio() -> Audio:
    return Audio()


@pytest.fixture
def voice_settings() -> VoiceSettings:
    return VoiceSettings(language="it", rate=150, volume=1.0, max_chars=1000, workers=1)
