"""WAV from espeak-ng -> OGG/Opus, the format Telegram plays as a voice note.

libsndfile (through soundfile, see ``_sndfile``) writes the Ogg/Opus stream and
soxr resamples espeak-ng's 22,050 Hz to Opus's 48 kHz. Both work block by
block, so memory stays flat however long the answer is. Only synthesis workers
import this module: the bot's own process never loads libsndfile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from tauro.actors.voice._sndfile import load_soundfile
from tauro.errors import VoiceError

sf = load_soundfile()

OPUS_SAMPLE_RATE = 48_000
OPUS_BITRATE = 32_000  # bits per second: plenty for a mono voice, half of libsndfile's default
_BLOCK_FRAMES = 65_536
# libsndfile maps its compression level c in [0, 1] to (1 - c) * 250 kbps + 6 kbps.
_LIBSNDFILE_MIN_BITRATE = 6_000
_LIBSNDFILE_BITRATE_SPAN = 250_000


@dataclass(frozen=True, slots=True)
class EncodedAudio:
    duration_seconds: float
    size: int  # bytes of the OGG file


def opus_supported() -> bool:
    """Whether the libsndfile that soundfile loaded can write Ogg/Opus (1.0.29 or later)."""
    return "OPUS" in sf.available_subtypes("OGG")


def compression_level(bitrate: int) -> float:
    """libsndfile's compression level for a target Opus bitrate (bits per second)."""
    level = 1.0 - (bitrate - _LIBSNDFILE_MIN_BITRATE) / _LIBSNDFILE_BITRATE_SPAN
    return min(1.0, max(0.0, level))


def encode_voice_note(wav: Path, ogg: Path) -> EncodedAudio:
    """Encode the WAV file ``wav`` to a mono 48 kHz Ogg/Opus file ``ogg``."""
    try:
        frames = _transcode(wav, ogg)
    except (sf.LibsndfileError, RuntimeError, ValueError) as error:
        raise VoiceError(f"cannot encode {wav.name} to Ogg/Opus: {error}") from error
    if frames == 0:
        raise VoiceError(f"{wav.name} holds no audio: nothing to encode")
    return EncodedAudio(frames / OPUS_SAMPLE_RATE, ogg.stat().st_size)


def _transcode(wav: Path, ogg: Path) -> int:
    written = 0
    with sf.SoundFile(wav) as source:
        resampler = soxr.ResampleStream(source.samplerate, OPUS_SAMPLE_RATE, 1, dtype="float32")
        with _open_ogg(ogg) as sink:
            for block in source.blocks(_BLOCK_FRAMES, dtype="float32", always_2d=True):
                written += _write(sink, resampler.resample_chunk(_mono(block)))
            written += _write(sink, resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    return written


def _open_ogg(ogg: Path) -> Any:
    return sf.SoundFile(
        ogg,
        mode="w",
        samplerate=OPUS_SAMPLE_RATE,
        channels=1,
        format="OGG",
        subtype="OPUS",
        compression_level=compression_level(OPUS_BITRATE),
    )


def _mono(block: np.ndarray) -> np.ndarray:
    return block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)


def _write(sink: Any, samples: np.ndarray) -> int:
    if len(samples):
        sink.write(samples)
    return len(samples)
