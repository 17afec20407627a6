"""pyttsx3 on espeak-ng, and the choice of a voice for a language.

pyttsx3 engines are not thread-safe and espeak-ng's library keeps its state in
process globals, so a ``SpeechEngine`` belongs to exactly one thread of one
process: the main thread of a synthesis worker (``_worker_main``). Nothing in
the bot's own process touches espeak-ng.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tauro.errors import VoiceError

INSTALL_HINT = "install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng)"
DEFAULT_LANGUAGE = "en"
FINISH_TIMEOUT = 10.0  # seconds espeak-ng may take, plus FINISH_TIMEOUT_PER_CHAR per character
FINISH_TIMEOUT_PER_CHAR = 0.01
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
    """One pyttsx3 engine driving espeak-ng; to be used by a single thread only.

    pyttsx3 (2.99) runs espeak-ng in its asynchronous mode, and its
    ``runAndWait`` returns as soon as the synthesis is queued, not when the
    file is written; it also cancels espeak-ng if espeak-ng is still busy
    (even with a property change) when the run starts, which loses the job.
    So this class waits for pyttsx3's ``finished-utterance`` notification,
    which comes after the file is written, and around every run waits for
    espeak-ng to be idle (``espeak_Synchronize``, through pyttsx3's own
    binding) so that no run starts while espeak-ng is still busy. A job that
    does not finish leaves the engine ``broken``: its worker must exit.
    """

    def __init__(self) -> None:
        try:
            import pyttsx3  # here: loading libespeak-ng fails when it is missing
            from pyttsx3.drivers import _espeak

            self._engine: Any = pyttsx3.init("espeak")
        except Exception as error:
            raise VoiceError(
                f"cannot start espeak-ng through pyttsx3 ({error}); {INSTALL_HINT}"
            ) from error
        self._espeak: Any = _espeak
        self._finished = threading.Event()
        self._completed = False
        self._properties: tuple[str, int, float] | None = None
        self.broken = False
        self._engine.connect("finished-utterance", self._on_finished)
        self._settle()  # the driver's start-up voice and rate
        self._engine.runAndWait()  # drains the start-up queue: later changes apply at once

    def voices(self) -> tuple[VoiceInfo, ...]:
        """Every installed voice, as espeak-ng lists them."""
        return tuple(
            VoiceInfo(id=str(v.id), name=str(v.name), languages=tuple(v.languages or ()))
            for v in self._engine.getProperty("voices")
        )

    def synthesize(self, text: str, wav: Path, *, voice: str, rate: int, volume: float) -> None:
        """Write ``text`` spoken by ``voice`` to the WAV file ``wav``.

        pyttsx3 writes the file from espeak-ng's thread, where an error is
        printed and swallowed; so what would fail there is refused here first.
        """
        if not text.strip():
            raise VoiceError("no text to synthesize")
        if not wav.parent.is_dir():
            raise VoiceError(f"the voice folder {wav.parent} does not exist")
        self._apply((voice, rate, volume))
        self._finished.clear()
        self._engine.save_to_file(text, str(wav))
        self._engine.runAndWait()
        self._wait_until_written(wav, FINISH_TIMEOUT + FINISH_TIMEOUT_PER_CHAR * len(text))

    def _settle(self) -> None:
        """Wait until espeak-ng has run every queued command and left its callback."""
        self._espeak.Synchronize()

    def _apply(self, properties: tuple[str, int, float]) -> None:
        if properties != self._properties:
            voice, rate, volume = properties
            self._engine.setProperty("voice", voice)
            self._engine.setProperty("rate", rate)
            self._engine.setProperty("volume", volume)
            self._properties = properties
            self._settle()

    def _wait_until_written(self, wav: Path, timeout: float) -> None:
        if not self._finished.wait(timeout):
            self.broken = True
            raise VoiceError(f"espeak-ng did not finish within {timeout:g} s")
        self._settle()
        if not self._completed or not wav.is_file():
            self.broken = True
            raise VoiceError(
                f"espeak-ng stopped early (completed={self._completed}, "
                f"file written={wav.is_file()})"
            )

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        self._completed = completed
        self._finished.set()


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
