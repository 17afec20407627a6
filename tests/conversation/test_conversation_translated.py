"""TranslatedSink: the turn's notices in the reader's language, everything else as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tauro.actors.voice import VoiceNote
from tauro.conversation import NO_VOICE, TranslatedSink
from tauro.i18n import lazy


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            self.calls.append((name, args[0] if args else None))

        return record


async def test_notices_are_translated_and_answers_are_not() -> None:
    inner = Recording()
    sink = TranslatedSink(inner, "it", empty_answer="(The model returned an empty answer.)")
    await sink.thinking()
    await sink.partial("Hello")
    await sink.final("Hello there")
    await sink.failed(lazy("the model '{model}' is not available on the LLM server", model="m"))
    await sink.voice_pending()
    note = VoiceNote(Path("/nonexistent.ogg"), 1.0, 10)
    await sink.voice(note)
    await sink.voice_failed(NO_VOICE)
    await sink.final("  ")
    assert inner.calls == [
        ("thinking", None),
        ("partial", "Hello"),
        ("final", "Hello there"),
        ("failed", "il modello 'm' non è disponibile sul server LLM"),
        ("voice_pending", None),
        ("voice", note),
        ("voice_failed", "Questa volta non sono riuscito a creare il messaggio vocale."),
        ("final", "(Il modello ha restituito una risposta vuota.)"),
    ]


async def test_without_an_empty_answer_text_an_empty_answer_passes() -> None:
    inner = Recording()
    await TranslatedSink(inner, "de").final("")
    assert inner.calls == [("final", "")]
