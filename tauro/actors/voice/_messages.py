"""The voice actor's protocol: what callers send it and what they get back.

Messages are frozen dataclasses validated on construction, so a malformed
request fails in the caller's task instead of inside the actor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tauro.actors.voice._engine import VoiceChoice
from tauro.runtime import Request


@dataclass(frozen=True, slots=True)
class Synthesize(Request["VoiceNote"]):
    """Speak ``text``; the ask's reply is a ``VoiceNote``, or ``VoiceError`` is raised.

    ``language`` is a language code such as ``it`` or ``en-us`` (a user's
    preference); ``None`` means the configured TTS_LANGUAGE. The text may be
    Markdown: it is prepared for speech (code, links and emoji are not read out)
    and capped at TTS_MAX_CHARS, with the cut said aloud.
    """

    text: str
    language: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Synthesize.text must be str, not {type(self.text).__name__}")
        if self.language is not None and not self.language.strip():
            raise ValueError("Synthesize.language must be None or a language code like 'it'")


@dataclass(frozen=True, slots=True)
class GetVoiceStatistics(Request["VoiceStatistics"]):
    """Ask for a ``VoiceStatistics`` snapshot."""


@dataclass(frozen=True, slots=True)
class ChooseVoice(Request[VoiceChoice]):
    """Which espeak-ng voice would speak ``language``; the reply is a ``VoiceChoice``.

    For /lang, which tells the user the voice (or the fallback) before any answer.
    """

    language: str


VoiceMessage = Synthesize | GetVoiceStatistics | ChooseVoice


@dataclass(frozen=True, slots=True)
class VoiceNote:
    """An OGG/Opus file ready to send as a Telegram voice note.

    The caller owns the file once it has the note: send it by streaming
    ``open()`` (never read it whole), then ``discard()`` it, also on error or
    cancellation. The actor removes notes nobody discarded after a while, and
    every leftover when it starts.
    """

    path: Path
    duration_seconds: float
    size: int  # bytes

    @property
    def duration_s(self) -> float:
        """Alias of ``duration_seconds`` (the name used in the project notes)."""
        return self.duration_seconds

    @property
    def duration(self) -> int:
        """Whole seconds, rounded up, as Telegram's ``sendVoice`` wants them."""
        return max(1, math.ceil(self.duration_seconds))

    def open(self) -> BinaryIO:
        """The file for reading, to be streamed by an upload."""
        return self.path.open("rb")

    def discard(self) -> None:
        """Remove the file; safe to call twice or after the actor removed it."""
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> VoiceNote:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


@dataclass(frozen=True, slots=True)
class VoiceStatistics:
    """What the voice actor has done since it (re)started."""

    syntheses: int  # voice notes made by the engine
    cache_hits: int  # voice notes served from the cache
    failures: int  # requests answered with VoiceError
    engine_crashes: int  # workers that died or hung in the middle of a job
    workers_running: int
    worker_pids: tuple[int, ...]
    notes_outstanding: int  # notes handed out and not yet expired
