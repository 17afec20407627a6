"""pyttsx3 on espeak-ng, and the choice of a voice for a language.

pyttsx3 engines are not thread-safe and espeak-ng's library keeps its state in
process globals, so a ``SpeechEngine`` belongs to exactly one thread of one
process: the main thread of a synthesis worker (``_worker_main``). Nothing in
the bot's own process touches espeak-ng.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tauro.errors import VoiceError

INSTALL_HINT = "install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng)"
DEFAULT_LANGUAGE = "en"
_MBROLA_PREFIX = "mb/"  # MBROLA voices need extra packages; never picked automatically


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """An installed espeak-ng voice; ``id`` is what pyttsx3's ``voice`` property takes."""

    id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VoiceChoice:
    """The voice picked for a language; ``exact`` is False after a fallback."""

    voice: VoiceInfo
    language: str
    exact: bool


class SpeechEngine:
    """One pyttsx3 engine driving espeak-ng; to be used by a single thread only."""

    def __init__(self) -> None:
        try:
            import pyttsx3  # here: loading libespeak-ng fails when it is missing

            self._engine: Any = pyttsx3.init("espeak")
        except Exception as error:
            raise VoiceError(
                f"cannot start espeak-ng through pyttsx3 ({error}); {INSTALL_HINT}"
            ) from error

    def voices(self) -> tuple[VoiceInfo, ...]:
        """Every installed voice, as espeak-ng lists them."""
        return tuple(
            VoiceInfo(id=str(v.id), name=str(v.name), languages=tuple(v.languages or ()))
            for v in self._engine.getProperty("voices")
        )

    def synthesize(self, text: str, wav: Path, *, voice: str, rate: int, volume: float) -> None:
        """Write ``text`` spoken by ``voice`` to the WAV file ``wav``."""
        self._engine.setProperty("voice", voice)
        self._engine.setProperty("rate", rate)
        self._engine.setProperty("volume", volume)
        self._engine.save_to_file(text, str(wav))
        self._engine.runAndWait()
        if not wav.is_file():
            raise VoiceError(f"espeak-ng produced no audio file for voice {voice!r}")


def choose_voice(voices: tuple[VoiceInfo, ...], language: str) -> VoiceChoice:
    """The best installed voice for ``language`` (``it``, ``en-us``, ``pt_BR``).

    An exact language match wins, then a voice of the same base language
    (``de-at`` -> ``de``); otherwise the default language's voice, else any.
    """
    wanted = _normalise(language)
    usable = [v for v in voices if not v.id.startswith(_MBROLA_PREFIX)] or list(voices)
    if not usable:
        raise VoiceError(f"espeak-ng lists no voices at all; {INSTALL_HINT}")
    match = _find(usable, wanted)
    if match is not None:
        return VoiceChoice(match, wanted, exact=True)
    return VoiceChoice(_find(usable, DEFAULT_LANGUAGE) or usable[0], wanted, exact=False)


def _normalise(language: str) -> str:
    return language.strip().lower().replace("_", "-")


def _find(voices: list[VoiceInfo], language: str) -> VoiceInfo | None:
    """The first voice matching, from the strictest test to the loosest.

    pyttsx3 reports only a voice's first language (``gmw/en`` says ``en-gb``),
    so the voice id's last part counts as a language too.
    """
    base = language.split("-")[0]
    tests: tuple[Callable[[set[str]], bool], ...] = (
        lambda codes: language in codes,
        lambda codes: base in codes,
        lambda codes: base in {code.split("-")[0] for code in codes},
    )
    for test in tests:
        for voice in voices:
            if test(_codes(voice)):
                return voice
    return None


def _codes(voice: VoiceInfo) -> set[str]:
    return {_normalise(code) for code in voice.languages} | {voice.id.rsplit("/", 1)[-1]}
