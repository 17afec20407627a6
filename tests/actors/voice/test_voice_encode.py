"""WAV -> mono 48 kHz Ogg/Opus, checked by decoding and by opusinfo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from voice_audio import Audio

from tauro.actors.voice._encode import (
    OPUS_BITRATE,
    OPUS_SAMPLE_RATE,
    compression_level,
    encode_voice_note,
    opus_supported,
    sf,
)
from tauro.errors import VoiceError


def write_wav(path: Path, seconds: float, rate: int = 22_050, channels: int = 1) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(str(path), np.stack([tone] * channels, axis=1), rate, subtype="PCM_16")
    return path


def test_this_libsndfile_writes_opus() -> None:
    assert opus_supported()


def test_a_wav_becomes_mono_48_khz_opus_of_the_same_length(tmp_path: Path, audio: Audio) -> None:
    result = encode_voice_note(write_wav(tmp_path / "a.wav", 3.0), tmp_path / "a.ogg")
    assert result.duration_seconds == pytest.approx(3.0, abs=0.01)
    assert result.size == (tmp_path / "a.ogg").stat().st_size
    ogg = audio.inspect(tmp_path / "a.ogg")
    assert (ogg.samplerate, ogg.channels) == (OPUS_SAMPLE_RATE, 1)
    assert ogg.decoded_seconds == pytest.approx(3.0, abs=0.03)
    assert ogg.opusinfo_seconds == pytest.approx(3.0, abs=0.03)
    assert ogg.peak > 0.3


def test_the_bitrate_is_the_one_chosen_for_voice(tmp_path: Path) -> None:
    result = encode_voice_note(write_wav(tmp_path / "a.wav", 10.0), tmp_path / "a.ogg")
    bits_per_second = result.size * 8 / result.duration_seconds
    assert 0.5 * OPUS_BITRATE < bits_per_second < 1.5 * OPUS_BITRATE


def test_stereo_input_is_mixed_to_mono(tmp_path: Path, audio: Audio) -> None:
    encode_voice_note(
        write_wav(tmp_path / "s.wav", 1.0, rate=44_100, channels=2), tmp_path / "s.ogg"
    )
    assert audio.inspect(tmp_path / "s.ogg").channels == 1


def test_an_empty_wav_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="no audio"):
        encode_voice_note(write_wav(tmp_path / "e.wav", 0.0), tmp_path / "e.ogg")


def test_a_file_that_is_not_audio_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(VoiceError, match=r"bad\.wav"):
        encode_voice_note(bad, tmp_path / "bad.ogg")


def test_compression_level_follows_libsndfiles_bitrate_mapping() -> None:
    assert compression_level(256_000) == pytest.approx(0.0)
    assert compression_level(6_000) == pytest.approx(1.0)
    assert compression_level(32_000) == pytest.approx(0.896)
    assert compression_level(1_000_000) == 0.0
    assert compression_level(0) == 1.0
