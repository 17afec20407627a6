"""The chat: turns that outlive their request, voice clips the page can play.

A turn starts from ``POST /api/chat`` but runs in the :class:`TurnRunner`'s
nursery, so a closed tab never cancels the LLM answer half-stored. The request
only streams the turn's events as server-sent events. One turn per conversation
at a time: a second ``POST`` while one runs gets 409, as a user can read only one
answer at once and the memory order stays question, answer, question, answer.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass

import trio

from tauro.actors.web._backend import ChatBackend
from tauro.actors.web._events import (
    Failed,
    OpenStreams,
    TurnEvent,
    TurnEvents,
    open_turn_events,
)
from tauro.actors.web._http import HTTPProblem

__all__ = ["MAX_MESSAGE_CHARS", "TurnRunner", "VoiceClip", "VoiceClips", "WebCounters"]

log = logging.getLogger("tauro.web")

MAX_MESSAGE_CHARS = 4096  # the original's limits.max_message_length


@dataclass
class WebCounters:
    """The web channel's own numbers, shown on the status page."""

    turns: int = 0
    turns_failed: int = 0
    requests: int = 0
    rejected: int = 0  # 400/401/404/413/415 answers
    logins: int = 0

    def snapshot(self, streams: OpenStreams) -> dict[str, int]:
        return {**vars(self), "open_streams": len(streams)}


class TurnRunner:
    """Owns the nursery every web turn runs in."""

    def __init__(self, backend: ChatBackend, streams: OpenStreams, counters: WebCounters) -> None:
        self._backend = backend
        self._streams = streams
        self._counters = counters
        self._nursery: trio.Nursery | None = None
        self._busy: set[str] = set()
        self._idle = trio.Event()
        self._idle.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve turns until cancelled; cancelling it cancels the turns in flight."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    @property
    def in_flight(self) -> int:
        return len(self._busy)

    async def wait_idle(self) -> None:
        """Return once no turn runs (used by the graceful shutdown, under a deadline)."""
        await self._idle.wait()

    def start(self, conversation: str, text: str) -> trio.MemoryReceiveChannel[TurnEvent]:
        if self._nursery is None or self._streams.closing:
            raise HTTPProblem(503, "the server is shutting down; try again in a moment")
        if conversation in self._busy:
            raise HTTPProblem(409, "an answer is still being written; wait for it to finish")
        events, receive = open_turn_events()
        if not self._busy:
            self._idle = trio.Event()
        self._busy.add(conversation)
        self._streams.add(events)
        self._counters.turns += 1
        self._nursery.start_soon(self._turn, conversation, text, events)
        return receive

    async def _turn(self, conversation: str, text: str, events: TurnEvents) -> None:
        try:
            await self._backend.run_turn(conversation, text, events)
        except Exception:
            log.exception("web.turn.crashed", extra={"fields": {"conversation": conversation}})
            events.emit(Failed("internal", "Something went wrong on the server; try again."))
        finally:
            self._counters.turns_failed += events.failed
            self._busy.discard(conversation)
            self._streams.discard(events)
            events.close()
            if not self._busy:
                self._idle.set()


@dataclass(frozen=True)
class VoiceClip:
    conversation: str
    audio: bytes
    media_type: str
    duration_s: float


class VoiceClips:
    """The last few voice answers, in RAM, playable only by their own conversation.

    Why RAM: a clip is small (Opus, a few KB per second), is wanted right after the
    answer, and must not pile up on disk; older ones are evicted first.
    """

    def __init__(self, capacity: int = 32) -> None:
        self._capacity = max(1, capacity)
        self._clips: OrderedDict[str, VoiceClip] = OrderedDict()

    def add(self, clip: VoiceClip) -> str:
        """Store a clip; return the URL the page plays it from."""
        clip_id = secrets.token_urlsafe(12)
        self._clips[clip_id] = clip
        while len(self._clips) > self._capacity:
            self._clips.popitem(last=False)
        return f"/api/voice/{clip_id}"

    def get(self, clip_id: str, conversation: str) -> VoiceClip | None:
        clip = self._clips.get(clip_id)
        if clip is None or not secrets.compare_digest(clip.conversation, conversation):
            return None
        return clip
