"""The web channel's side of the shared conversation turn (``tauro.conversation``).

``WebSink`` turns the calls of ``run_turn`` into the events a browser gets:
``partial`` carries the whole text so far, the browser wants only what is new
(and, every ``RENDER_EVERY`` seconds, the Markdown rendered as sanitised HTML);
``failed`` carries a safe message, the browser also wants to know *which* kind
of failure it was, to show "LLM unreachable" rather than a generic error. The
turn does not pass the exception, so :class:`WatchedLLM` wraps the LLM reference
for one turn and remembers the error (raised by the ask, or recorded on the
answer stream) that ``failed`` then classifies.
"""

from __future__ import annotations

import math
from typing import TypeVar

import trio

from tauro.actors.llm import AnswerStream
from tauro.actors.voice import VoiceNote
from tauro.actors.web._chat import VoiceClips
from tauro.actors.web._events import (
    Delta,
    Done,
    Failed,
    FailureKind,
    Rendered,
    TurnEvents,
    VoiceFailed,
    VoiceReady,
)
from tauro.conversation import Asker
from tauro.errors import LLMError, LLMTimeoutError, LLMUnreachableError
from tauro.markdown import render_html
from tauro.runtime import Request

__all__ = ["RENDER_EVERY", "WatchedLLM", "WebSink", "failure_kind"]

# Seconds between renderings of a streaming answer: often enough to look live,
# rarely enough that a long answer is not rendered (and sent) once per token.
RENDER_EVERY = 0.2

ReplyT = TypeVar("ReplyT")


class WatchedLLM:
    """An ``Asker`` in front of the LLM actor that remembers how the answer ended."""

    def __init__(self, llm: Asker) -> None:
        self._llm = llm
        self._error: LLMError | None = None
        self._stream: AnswerStream | None = None

    async def ask(self, message: Request[ReplyT], *, timeout: float | None = None) -> ReplyT:
        try:
            reply = await self._llm.ask(message, timeout=timeout)
        except LLMError as error:
            self._error = error
            raise
        if isinstance(reply, AnswerStream):
            self._stream = reply
        return reply

    @property
    def error(self) -> LLMError | None:
        if self._error is None and self._stream is not None and self._stream.finished:
            return self._stream.result.error
        return self._error


def failure_kind(error: LLMError | None) -> FailureKind:
    if isinstance(error, LLMUnreachableError):
        return "llm_unreachable"
    if isinstance(error, LLMTimeoutError):
        return "llm_timeout"
    return "llm_error"


class WebSink:
    """A ``TurnSink`` that feeds one browser's server-sent event stream."""

    def __init__(
        self,
        events: TurnEvents,
        *,
        conversation: str,
        llm: WatchedLLM,
        clips: VoiceClips,
        limiter: trio.CapacityLimiter,
    ) -> None:
        self._events = events
        self._conversation = conversation
        self._llm = llm
        self._clips = clips
        self._limiter = limiter
        self._shown = ""
        self._rendered_at = -math.inf

    async def thinking(self) -> None:
        """Nothing to send: the page shows "thinking" from the moment it posts."""

    async def partial(self, text_so_far: str) -> None:
        self._show(text_so_far)
        now = trio.current_time()
        if now - self._rendered_at >= RENDER_EVERY:
            self._rendered_at = now
            self._events.emit(Rendered(render_html(text_so_far, streaming=True)))

    async def final(self, text: str) -> None:
        self._show(text)
        self._events.emit(Rendered(render_html(text)))
        self._events.emit(Done(text))

    async def failed(self, user_message: str) -> None:
        if self._shown:  # what arrived stays, rendered as it is
            self._events.emit(Rendered(render_html(self._shown)))
        self._events.emit(Failed(failure_kind(self._llm.error), user_message))

    async def voice_pending(self) -> None:
        """Nothing to send: after ``Done`` the page itself says "Preparing voice…"."""

    async def voice(self, note: VoiceNote) -> None:
        """Keep the clip's file for the page (the turn discards the note afterwards)."""
        url = await self._clips.keep(self._conversation, note, limiter=self._limiter)
        self._events.emit(VoiceReady(url, note.duration_seconds))

    async def voice_failed(self, user_message: str) -> None:
        self._events.emit(VoiceFailed(user_message))

    def _show(self, text: str) -> None:
        """Send what is new; a text that is not a continuation is sent whole by Done."""
        if text.startswith(self._shown) and len(text) > len(self._shown):
            self._events.emit(Delta(text[len(self._shown) :]))
            self._shown = text
