"""Checking a voice note the way a player would (shared by the voice tests).

Every note is decoded back with libsndfile and inspected with ``opusinfo``
(opus-tools), an implementation independent of the one that wrote it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tauro.actors.voice._sndfile import load_soundfile

sf = load_soundfile()

ITALIAN = (
    "Ciao, sono TauroBot. Oggi parliamo di come funziona la sintesi vocale e di quanto "
    "tempo serve per trasformare una risposta scritta in un messaggio da ascoltare. "
)


def italian_text(chars: int) -> str:
    """Plain Italian prose of at most ``chars`` characters, ending with a full stop."""
    text = (ITALIAN * (chars // len(ITALIAN) + 2))[: chars - 1]
    return text.rsplit(" ", 1)[0] + "."


@dataclass(frozen=True)
class OggOpus:
    samplerate: int
    channels: int
    decoded_seconds: float
    opusinfo_seconds: float
    peak: float


class Audio:
    """Checks on encoded files (fixtures cannot be imported, so this is one)."""

    def inspect(self, path: Path) -> OggOpus:
        info = sf.info(str(path))
        assert (info.format, info.subtype) == ("OGG", "OPUS"), info
        data, rate = sf.read(str(path), dtype="float32")
        report = subprocess.run(["opusinfo", str(path)], capture_output=True, text=True, check=True)
        return OggOpus(
            samplerate=rate,
            channels=info.channels,
            decoded_seconds=len(data) / rate,
            opusinfo_seconds=_playback_seconds(report.stdout),
            peak=float(abs(data).max()) if len(data) else 0.0,
        )

    def assert_speech(self, path: Path, text: str, rate: int = 150) -> OggOpus:
        """A valid mono 48 kHz Ogg/Opus file, audible, as long as ``text`` takes to say."""
        ogg = self.inspect(path)
        assert (ogg.samplerate, ogg.channels) == (48_000, 1)
        assert ogg.peak > 0.05, "the note is silent"
        expected = len(text.split()) / rate * 60
        assert 0.5 * expected < ogg.decoded_seconds < 2.0 * expected, (ogg, expected)
        assert abs(ogg.opusinfo_seconds - ogg.decoded_seconds) < 0.1
        return ogg


def _playback_seconds(report: str) -> float:
    found = re.search(r"Playback length:\s*(\d+)m:([\d.]+)s", report)
    assert found is not None, report
    return int(found.group(1)) * 60 + float(found.group(2))
