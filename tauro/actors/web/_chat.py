"""The chat: turns that outlive their request, voice clips the page can play.

A turn starts from ``POST /api/chat`` but runs in the :class:`TurnRunner`'s
nursery, so a closed tab never cancels the LLM answer half-stored. The request
only streams the turn's events as server-sent events. One turn per conversation
at a time: a second ``POST`` while one runs gets 409, as a user can read only one
answer at once and the memory order stays question, answer, question, answer.

Voice clips are files (:class:`VoiceClips`), served in chunks
(:class:`ClipResponse`): a long answer's audio never sits whole in memory.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import trio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tauro.actors.voice import VoiceNote
from tauro.actors.web._backend import ChatBackend
from tauro.actors.web._events import (
    Failed,
    OpenStreams,
    TurnEvent,
    TurnEvents,
    open_turn_events,
)
from tauro.actors.web._http import HTTPProblem, json_error
from tauro.files import default_audio_directory, make_private_directory, open_private_file
from tauro.i18n import N_, t

_CRASHED = N_("Something went wrong on the server; try again.")

__all__ = [
    "CLIP_GONE",
    "MAX_MESSAGE_CHARS",
    "OGG_OPUS",
    "ClipResponse",
    "TurnRunner",
    "VoiceClip",
    "VoiceClips",
    "WebCounters",
]

log = logging.getLogger("tauro.web")

MAX_MESSAGE_CHARS = 4096  # the original's limits.max_message_length
OGG_OPUS = "audio/ogg; codecs=opus"
CLIP_GONE = "this voice answer is gone; newer ones replace it"

T = TypeVar("T")


@dataclass
class WebCounters:
    """The web channel's own numbers, shown on the status page."""

    turns: int = 0
    turns_failed: int = 0
    requests: int = 0
    rejected: int = 0  # 400/401/404/413/415/429 answers
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
        self._closed = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve turns until cancelled; cancelling it cancels the turns in flight."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def close(self) -> None:
        """Start no new turn (503); the turns running carry on to the end."""
        self._closed = True

    def cancel(self) -> None:
        """Cancel the turns still running (a stop's grace deadline has passed).

        Their pages are told why first (a "shutting down" error event).
        """
        self._closed = True
        self._streams.close_all()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    @property
    def in_flight(self) -> int:
        return len(self._busy)

    async def wait_idle(self) -> None:
        """Return once no turn runs (used by the graceful shutdown, under a deadline)."""
        await self._idle.wait()

    def start(
        self, conversation: str, text: str, language: str = "en"
    ) -> trio.MemoryReceiveChannel[TurnEvent]:
        if self._nursery is None or self._closed or self._streams.closing:
            raise HTTPProblem(503, "the server is shutting down; try again in a moment")
        if conversation in self._busy:
            raise HTTPProblem(409, "an answer is still being written; wait for it to finish")
        events, receive = open_turn_events()
        if not self._busy:
            self._idle = trio.Event()
        self._busy.add(conversation)
        self._streams.add(events)
        self._counters.turns += 1
        self._nursery.start_soon(self._turn, conversation, text, events, language)
        return receive

    def resume(
        self, conversations: dict[str, list[tuple[int, str]]], *, language: str = "en"
    ) -> None:
        """Finish turns a crash cut off, each conversation's in order, nobody listening.

        They run like any turn (a stop drains them); their answers are stored,
        so the page's history shows them. A question posted meanwhile in such a
        conversation gets the usual 409. ``language`` is the persona's and the
        notices' language (the original readers' are not stored).
        """
        if self._nursery is None or self._closed:
            return  # stopping: they stay pending for the next start
        for conversation, turns in conversations.items():
            self._nursery.start_soon(self._resume_conversation, conversation, turns, language)

    async def _resume_conversation(
        self, conversation: str, turns: list[tuple[int, str]], language: str
    ) -> None:
        for turn_id, text in turns:
            while conversation in self._busy:  # a question was posted first: after it
                await self._idle.wait()  # (replaced by a fresh event while any turn runs)
            events, receive = open_turn_events()
            receive.close()
            if not self._busy:
                self._idle = trio.Event()
            self._busy.add(conversation)
            self._streams.add(events)
            await self._turn(conversation, text, events, language, turn_id)

    async def _turn(
        self,
        conversation: str,
        text: str,
        events: TurnEvents,
        language: str,
        turn_id: int | None = None,
    ) -> None:
        try:
            if turn_id is None:
                await self._backend.run_turn(conversation, text, events, language=language)
            else:
                await self._backend.run_turn(
                    conversation, text, events, language=language, turn_id=turn_id
                )
        except Exception:
            log.exception("web.turn.crashed", extra={"fields": {"conversation": conversation}})
            events.emit(Failed("internal", t(language, _CRASHED)))
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
    path: Path  # a file of the VoiceClips folder
    duration_s: float
    media_type: str = OGG_OPUS


def default_clip_directory() -> Path:
    """Clip folder of code given none (the bot passes VOICE_DIR/web); checked private."""
    return default_audio_directory() / "web"


class VoiceClips:
    """The last few voice answers, as files, playable only by their own conversation.

    Why files: the turn discards its voice note once ``keep`` returns, the page
    fetches the clip a moment later, and a long answer's audio should not sit in
    RAM. ``keep`` hard-links the note (a copy across file systems) into this
    instance's own folder, ``<directory>/<pid>-<random>``, made with the first
    clip. Cleanup: the oldest clip's file goes once ``capacity`` are kept; the
    folder goes on ``aclose``, or when the object is collected or the process
    exits; a folder whose process died (a crash) is removed when the next
    instance makes its own.
    """

    def __init__(
        self,
        capacity: int = 32,
        directory: Path | None = None,
        *,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self._capacity = max(1, capacity)
        parent = directory if directory is not None else default_clip_directory()
        self.folder = parent / f"{os.getpid()}-{secrets.token_hex(4)}"
        self.limiter = limiter if limiter is not None else trio.CapacityLimiter(2)
        self._clips: OrderedDict[str, VoiceClip] = OrderedDict()
        self._made = False
        self._remove_folder = weakref.finalize(self, shutil.rmtree, self.folder, True)

    async def keep(
        self, conversation: str, note: VoiceNote, *, limiter: trio.CapacityLimiter | None = None
    ) -> str:
        """Keep ``note``'s audio for ``conversation``; return the URL the page plays it from.

        ``limiter`` bounds the file work (the caller's I/O budget; default the
        clips' own). ``FileNotFoundError`` if the note's file is already gone.
        """
        limiter = limiter or self.limiter
        if not self._made:
            await _in_thread(limiter, _make_folder, self.folder)
            self._made = True
        clip_id = secrets.token_urlsafe(12)
        path = self.folder / f"{clip_id}.ogg"
        await _in_thread(limiter, _link_or_copy, note.path, path)
        self._clips[clip_id] = VoiceClip(conversation, path, note.duration_seconds)
        evicted: list[Path] = []
        while len(self._clips) > self._capacity:
            evicted.append(self._clips.popitem(last=False)[1].path)
        if evicted:
            await _in_thread(limiter, _remove, evicted)
        return f"/api/voice/{clip_id}"

    def get(self, clip_id: str, conversation: str) -> VoiceClip | None:
        clip = self._clips.get(clip_id)
        if clip is None or not secrets.compare_digest(clip.conversation, conversation):
            return None
        return clip

    async def aclose(self) -> None:
        """Forget every clip and remove the folder (off the event loop)."""
        self._clips.clear()
        self._remove_folder.detach()
        await _in_thread(self.limiter, shutil.rmtree, self.folder, True)


async def _in_thread(limiter: trio.CapacityLimiter, fn: Callable[..., T], *args: object) -> T:
    with trio.CancelScope(shield=True):  # a half-done link or removal must finish
        result = await trio.to_thread.run_sync(fn, *args, limiter=limiter)
    return result


def make_clip_parent(parent: Path) -> None:
    """Create or check the clips' parent folder: private (0700, ours, not a link).

    ``UnsafePathError`` otherwise, so a planted folder never receives a clip.
    """
    make_private_directory(parent, "VOICE_DIR")


def _make_folder(folder: Path) -> None:
    """Create ``folder`` (private), removing the folders of processes that died."""
    make_clip_parent(folder.parent)
    for other in folder.parent.iterdir():
        if other != folder and _is_real_folder(other) and not _owner_alive(other.name):
            shutil.rmtree(other, ignore_errors=True)
    make_private_directory(folder, "VOICE_DIR")


def _is_real_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _owner_alive(name: str) -> bool:
    """Whether the process named by ``<pid>-...`` may still use its folder."""
    pid = name.partition("-")[0]
    if not pid.isdigit():
        return True  # not one of ours: leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise  # the note is gone: nothing to copy either
    except OSError:  # no hard links here, or another file system
        _copy_private(source, target)


def _copy_private(source: Path, target: Path) -> None:
    """Copy in chunks (never whole in memory) into a new 0600 file, never through a link."""
    with source.open("rb") as reader:
        fd = open_private_file(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "wb") as writer:
            shutil.copyfileobj(reader, writer)


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class ClipResponse(Response):
    """A clip streamed from its file in chunks, opened before the headers go.

    A clip evicted between the lookup and the open gets a 404; once the file is
    open, its removal does not cut the stream (the data lives until it is closed).
    The file is closed at the end, also when the listener goes away.
    """

    chunk_size = 64 * 1024

    def __init__(
        self, clip: VoiceClip, limiter: trio.CapacityLimiter, headers: Mapping[str, str]
    ) -> None:
        super().__init__(headers=headers, media_type=clip.media_type)
        self._clip = clip
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            opened = await trio.to_thread.run_sync(
                _open_sized, self._clip.path, limiter=self._limiter
            )
        except FileNotFoundError:
            await json_error(404, CLIP_GONE)(scope, receive, send)
            return
        audio, size = opened
        try:
            self.headers["content-length"] = str(size)
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await send(start)
            if scope.get("method") != "HEAD":
                await self._send_chunks(audio, send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            audio.close()

    async def _send_chunks(self, audio: BinaryIO, send: Send) -> None:
        read = audio.read
        while chunk := await trio.to_thread.run_sync(read, self.chunk_size, limiter=self._limiter):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})


def _open_sized(path: Path) -> tuple[BinaryIO, int]:
    audio = path.open("rb")
    return audio, os.fstat(audio.fileno()).st_size
