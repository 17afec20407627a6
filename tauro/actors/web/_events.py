"""What one chat turn tells the browser, and how it travels as server-sent events.

A turn runs in the web actor's own nursery, not in the HTTP request: if the
browser goes away mid-answer the turn still finishes and the answer is still
stored. The request only *listens*, through a :class:`TurnEvents` channel, and
the turn keeps writing to it without ever waiting (a closed listener is fine).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import trio

from tauro.i18n import N_

__all__ = [
    "Delta",
    "Done",
    "Failed",
    "FailureKind",
    "OpenStreams",
    "Rendered",
    "TurnEvent",
    "TurnEvents",
    "VoiceFailed",
    "VoiceReady",
    "encode_sse",
    "open_turn_events",
    "sse_frames",
]

FailureKind = Literal[
    "llm_unreachable", "llm_timeout", "llm_error", "internal", "shutdown", "memory_unwritable"
]


@dataclass(frozen=True)
class Delta:
    """A piece of the answer as the LLM produced it."""

    text: str


@dataclass(frozen=True)
class Rendered:
    """The answer so far as sanitised HTML (``tauro.markdown.render_html``).

    Sent at most every ``RENDER_EVERY`` seconds while the answer streams and
    once for the final text, just before ``Done``; the page shows the deltas
    after the last rendering as they come.
    """

    html: str


@dataclass(frozen=True)
class VoiceReady:
    """A voice answer the page can play from ``url``."""

    url: str
    duration_s: float


@dataclass(frozen=True)
class VoiceFailed:
    """No voice answer this time; the text (already complete) stands. Safe to show."""

    message: str


@dataclass(frozen=True)
class Failed:
    """The turn failed; ``message`` is safe to show (never an internal detail)."""

    kind: FailureKind
    message: str


@dataclass(frozen=True)
class Done:
    """The answer is complete and stored."""

    text: str


TurnEvent = Delta | Rendered | VoiceReady | VoiceFailed | Failed | Done


class TurnEvents:
    """The writing end the turn uses; never blocks, never fails if nobody listens."""

    def __init__(self, send: trio.MemorySendChannel[TurnEvent]) -> None:
        self._send = send
        self.failed = False  # a Failed event was emitted (for the status counters)

    def emit(self, event: TurnEvent) -> None:
        if isinstance(event, Failed):
            self.failed = True
        # A listener that left is fine: the turn carries on and the answer is still stored.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            self._send.send_nowait(event)

    def close(self) -> None:
        self._send.close()


def open_turn_events() -> tuple[TurnEvents, trio.MemoryReceiveChannel[TurnEvent]]:
    """An unbounded pair: an answer is bounded by the LLM's max_tokens anyway."""
    send, receive = trio.open_memory_channel[TurnEvent](math.inf)
    return TurnEvents(send), receive


_EVENT_NAMES: dict[type[TurnEvent], str] = {
    Delta: "delta",
    Rendered: "render",
    VoiceReady: "voice",
    VoiceFailed: "voice_failed",
    Failed: "error",
    Done: "done",
}


def encode_sse(event: TurnEvent) -> bytes:
    """One SSE frame: ``event:`` line, one JSON ``data:`` line, blank line."""
    payload = {k: v for k, v in vars(event).items()}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {_EVENT_NAMES[type(event)]}\ndata: {data}\n\n".encode()


async def sse_frames(receive: trio.MemoryReceiveChannel[TurnEvent]) -> AsyncIterator[bytes]:
    """Frames until the turn ends and closes the channel (a voice clip may follow Done).

    The leading comment frame makes the browser see the headers at once, so the
    page can show "thinking" before the first token.
    """
    yield b": stream open\n\n"
    async with receive:
        async for event in receive:
            yield encode_sse(event)


class OpenStreams:
    """Every turn a browser is listening to, so shutdown can end them cleanly.

    Hypercorn's graceful shutdown waits for open responses; an SSE response ends
    only when its turn does, so :meth:`close_all` tells each listener why and
    closes its channel instead of letting the shutdown deadline cut it off.
    """

    def __init__(self) -> None:
        self._open: set[TurnEvents] = set()
        self.closing = False

    def __len__(self) -> int:
        return len(self._open)

    def add(self, events: TurnEvents) -> None:
        self._open.add(events)

    def discard(self, events: TurnEvents) -> None:
        self._open.discard(events)

    def close_all(self) -> None:
        self.closing = True
        for events in tuple(self._open):
            events.emit(SHUTTING_DOWN)
            events.close()
        self._open.clear()


# English here (it goes to every open stream at once); the app shows it through its
# catalog, as the message id it is.
SHUTTING_DOWN = Failed("shutdown", N_("The server is shutting down; try again in a moment."))
