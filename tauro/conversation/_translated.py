"""A ``TurnSink`` that shows the turn's notices in the reader's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tauro.conversation._sink import TurnSink
from tauro.i18n import translate

if TYPE_CHECKING:
    from tauro.actors.voice import VoiceNote


class TranslatedSink:
    """Passes everything to ``sink``; notices (message ids, ``LazyText``) translated.

    ``empty_answer`` (a message id) replaces an empty final answer, if given.
    """

    def __init__(self, sink: TurnSink, language: str, *, empty_answer: str | None = None) -> None:
        self._sink = sink
        self._language = language
        self._empty_answer = empty_answer

    async def thinking(self) -> None:
        await self._sink.thinking()

    async def partial(self, text_so_far: str) -> None:
        await self._sink.partial(text_so_far)

    async def final(self, text: str) -> None:
        if self._empty_answer is not None and not text.strip():
            text = translate(self._empty_answer, self._language)
        await self._sink.final(text)

    async def failed(self, user_message: str) -> None:
        await self._sink.failed(translate(user_message, self._language))

    async def voice_pending(self) -> None:
        await self._sink.voice_pending()

    async def voice(self, note: VoiceNote) -> None:
        await self._sink.voice(note)

    async def voice_failed(self, user_message: str) -> None:
        await self._sink.voice_failed(translate(user_message, self._language))
