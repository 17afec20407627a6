"""pyttsx3 on the real espeak-ng, and choosing a voice for a language."""

from __future__ import annotations

from pathlib import Path

import pytest

from tauro.actors.voice._engine import SpeechEngine, VoiceInfo, choose_voice
from tauro.actors.voice._sndfile import load_soundfile
from tauro.errors import VoiceError

sf = load_soundfile()

VOICES = (
    VoiceInfo("mb/mb-it1", "italian-mbrola-1", ("it",)),
    VoiceInfo("gmw/en", "English (Great Britain)", ("en-gb",)),
    VoiceInfo("gmw/en-us", "English (America)", ("en-us",)),
    VoiceInfo("roa/it", "Italian", ("it",)),
    VoiceInfo("roa/pt-br", "Portuguese (Brazil)", ("pt-br",)),
    VoiceInfo("gmw/de", "German", ("de",)),
)


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return SpeechEngine()


def test_espeak_ng_lists_an_italian_voice(engine: SpeechEngine) -> None:
    voices = engine.voices()
    assert len(voices) > 20
    assert choose_voice(voices, "it").voice.id == "roa/it"


def test_synthesize_writes_a_wav_of_speech(engine: SpeechEngine, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    engine.synthesize(
        "Buongiorno a tutti, oggi è una bella giornata.", wav, voice="roa/it", rate=150, volume=1.0
    )
    data, rate = sf.read(str(wav), dtype="float32")
    assert rate == 22_050
    assert 1.5 < len(data) / rate < 8.0
    assert abs(data).max() > 0.05


def test_a_faster_rate_gives_shorter_speech(engine: SpeechEngine, tmp_path: Path) -> None:
    text = "Questa frase viene letta a due velocità diverse per confronto."
    seconds = []
    for rate in (120, 240):
        wav = tmp_path / f"{rate}.wav"
        engine.synthesize(text, wav, voice="roa/it", rate=rate, volume=1.0)
        seconds.append(sf.info(str(wav)).duration)
    assert seconds[1] < 0.75 * seconds[0]


def test_volume_scales_the_signal(engine: SpeechEngine, tmp_path: Path) -> None:
    peaks = []
    for volume in (1.0, 0.3):
        wav = tmp_path / f"{volume}.wav"
        engine.synthesize("Volume di prova.", wav, voice="roa/it", rate=150, volume=volume)
        peaks.append(abs(sf.read(str(wav), dtype="float32")[0]).max())
    assert peaks[1] < 0.6 * peaks[0]


def test_blank_text_and_a_missing_folder_are_refused_before_espeak(
    engine: SpeechEngine, tmp_path: Path
) -> None:
    with pytest.raises(VoiceError, match="no text"):
        engine.synthesize("  ", tmp_path / "a.wav", voice="roa/it", rate=150, volume=1.0)
    with pytest.raises(VoiceError, match="folder"):
        engine.synthesize("ciao", tmp_path / "gone" / "a.wav", voice="roa/it", rate=150, volume=1.0)


def test_an_exact_language_match_wins_and_mbrola_is_never_picked() -> None:
    choice = choose_voice(VOICES, "it")
    assert (choice.voice.id, choice.exact) == ("roa/it", True)


def test_a_region_is_matched_exactly_or_by_its_base_language() -> None:
    assert choose_voice(VOICES, "en_US").voice.id == "gmw/en-us"
    assert choose_voice(VOICES, "PT-BR").voice.id == "roa/pt-br"
    assert choose_voice(VOICES, "de-AT").voice.id == "gmw/de"
    assert choose_voice(VOICES, "pt").voice.id == "roa/pt-br"


def test_the_voice_id_counts_as_a_language() -> None:
    assert choose_voice(VOICES, "en").voice.id == "gmw/en"


def test_an_unknown_language_falls_back_to_english_and_says_so() -> None:
    choice = choose_voice(VOICES, "xx")
    assert (choice.voice.id, choice.exact, choice.language) == ("gmw/en", False, "xx")


def test_no_voices_at_all_is_an_error_with_the_fix() -> None:
    with pytest.raises(VoiceError, match="apt-get install espeak-ng"):
        choose_voice((), "it")
