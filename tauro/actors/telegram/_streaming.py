"""An answer that appears as it is generated: the Telegram ``TurnSink``.

The first text is sent as soon as it arrives (or a placeholder if the model
is slow to start), then the message is edited as tokens come, at most every
TELEGRAM_EDIT_INTERVAL and only when Telegram's limits have room: an
intermediate edit is skipped, never queued, so a busy bot sends fewer edits
instead of falling behind. The final text always gets through (the edit
waits for its slot). Past the length limit the answer continues in new
messages, cut at paragraph or sentence boundaries. Every edit shows the
model's Markdown formatted (``_markdown``: Telegram HTML, with what the text
so far left open closed), the final one the full rendering. No edit ever
repeats what is shown.

Voice comes after the text: from ``voice_pending`` until the note is sent
(or fails) the chat shows "recording a voice message", renewed like
"typing"; a note that could not be made gets a short line in the chat.

Delivery across crashes: every message id Telegram returns goes at once to
``ShownNotes`` (memory records it), with a note just before each new send
and one when the complete text is shown. The id of a new message is also
handed to ``ShownNotes.created`` from inside the send, the moment Telegram's
answer arrives (``on_id``), so it is written without waiting for anything.
A reply resumed after a restart starts from the messages recorded for it
(``shown_ids``) and edits them instead of sending new ones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import trio

from tauro.actors.telegram._groups import unwrapped_errors
from tauro.actors.telegram._markdown import TelegramPiece, plain_piece, telegram_pieces
from tauro.actors.voice import VoiceNote
from tauro.errors import TelegramError
from tauro.i18n import N_

log = logging.getLogger("tauro.telegram")

PLACEHOLDER = "…"
PLACEHOLDER_AFTER = 2.0  # seconds without text before the placeholder is sent
FIRST_TEXT_DELAY = 0.15  # seconds the first text waits for more (a fast answer: one message)
TYPING_AFTER = 0.3  # seconds; an answer faster than this needs no "typing" (one call less)
TYPING_EVERY = 4.5  # seconds; Telegram shows "typing" for 5 s per action
RECORDING_EVERY = TYPING_EVERY  # "record_voice" lasts as long as "typing"
EMPTY_ANSWER = N_("(The model returned an empty answer.)")  # TranslatedSink says it first


# A function is called when the message actually goes.
Text = TelegramPiece | Callable[[], TelegramPiece]


@dataclass(frozen=True)
class Sent:
    """A message as Telegram shows it now."""

    message_id: int
    piece: TelegramPiece
    formatted: bool  # True when Telegram accepted ``piece.html`` (HTML parse mode)

    @property
    def text(self) -> str:
        """What the user reads."""
        return self.piece.text


class ChatApi(Protocol):
    """What a streaming reply needs of the Bot API, limits and retries applied."""

    async def send_text(
        self,
        chat_id: int,
        text: Text,
        *,
        reply_to: int | None,
        on_id: Callable[[int], None] | None = None,
    ) -> Sent:
        """Send a new message, waiting for the chat's and the bot's limits.

        A callable ``text`` is read once the limits allow the send. ``on_id``
        is called with the new message's id as early as the API can (it must
        not block); it may not be called at all.
        """

    async def edit_text(
        self, chat_id: int, message_id: int, text: TelegramPiece, *, optional: bool
    ) -> Sent | None:
        """Edit a message; ``optional`` edits return None at once when limits are busy."""

    async def typing(self, chat_id: int) -> None:
        """Show "typing"; failures are not worth reporting."""

    async def recording_voice(self, chat_id: int) -> None:
        """Show "recording a voice message" (``record_voice``); failures are not worth reporting."""

    async def send_voice(self, chat_id: int, note: VoiceNote, *, reply_to: int | None) -> None:
        """Upload a voice note."""


class ShownNotes(Protocol):
    """Where a reply reports the messages carrying it (the Telegram actor: memory)."""

    async def sending(self, shown: tuple[int, ...]) -> None:
        """A new message is about to be sent (returns once that is noted)."""

    def created(self, index: int, message_id: int) -> None:
        """Telegram created message ``message_id`` as piece ``index``: note it now,
        without blocking (called again, harmlessly, after the send returns)."""

    async def shown(self, shown: tuple[int, ...], *, delivered: bool) -> None:
        """These messages carry the answer; ``delivered``: all of it is shown."""


UNKNOWN_TEXT = ""  # a message recorded before a restart: its text is not known


@dataclass(frozen=True, kw_only=True)
class ReplyTimings:
    """When the user saw what (trio clock); for statistics and the benchmark."""

    started: float
    first_visible: float | None
    completed: float | None


class StreamingReply:
    """A ``TurnSink`` for one answer in one chat; open it with ``open_streaming_reply``."""

    def __init__(
        self,
        api: ChatApi,
        chat_id: int,
        *,
        reply_to: int | None,
        limit: int,
        edit_interval: float,
        notes: ShownNotes | None = None,
        shown_ids: tuple[int, ...] = (),
    ) -> None:
        self._api = api
        self._chat_id = chat_id
        self._reply_to = reply_to
        self._limit = limit
        self._edit_interval = edit_interval
        self._notes = notes
        unknown = plain_piece(UNKNOWN_TEXT)
        self._shown = [Sent(message_id, unknown, False) for message_id in shown_ids]
        self._latest = ""
        self._final: str | None = None
        self._changed = trio.Event()
        self._finished = trio.Event()
        self._first_text_at: float | None = None
        self._lock = trio.Lock()
        self._done = False
        self._started = trio.current_time()
        self._first_visible: float | None = None
        self._completed: float | None = None
        self._voice_pending = trio.Event()
        self._voice_over = trio.Event()

    @property
    def timings(self) -> ReplyTimings:
        return ReplyTimings(
            started=self._started, first_visible=self._first_visible, completed=self._completed
        )

    @property
    def shown(self) -> tuple[Sent, ...]:
        return tuple(self._shown)

    # TurnSink ---------------------------------------------------------------

    async def thinking(self) -> None:
        self._changed.set()  # wakes the background task, which shows "typing"

    async def partial(self, text_so_far: str) -> None:
        if self._first_text_at is None:
            self._first_text_at = trio.current_time()
        self._latest = text_so_far
        self._changed.set()

    async def final(self, text: str) -> None:
        await self._finish(text if text.strip() else EMPTY_ANSWER)

    async def failed(self, user_message: str) -> None:
        notice = f"⚠️ {user_message[:1].upper()}{user_message[1:]}"
        shown_text = self._latest.strip()
        await self._finish(f"{shown_text}\n\n{notice}" if shown_text else notice)

    async def voice_pending(self) -> None:
        self._voice_pending.set()  # wakes show_recording

    async def voice(self, note: VoiceNote) -> None:
        # Stop renewing "recording" first: one renewed after the note arrives
        # would show for 5 s over a voice note already there.
        self._voice_over.set()
        await self._api.send_voice(self._chat_id, note, reply_to=self._reply_to)

    async def voice_failed(self, user_message: str) -> None:
        self._voice_over.set()
        notice = plain_piece(f"({user_message})")
        await self._api.send_text(self._chat_id, notice, reply_to=self._reply_to)

    # Background: typing, placeholder, throttled edits ---------------------------

    async def run(self) -> None:
        """Until the final text: show typing, then follow ``partial`` at the edit rate."""
        typing_due = self._started + TYPING_AFTER
        placeholder_due = self._started + PLACEHOLDER_AFTER
        while not self._done:
            now = trio.current_time()
            waiting = self._first_visible is None  # no answer text shown yet
            if waiting and now >= typing_due:
                await self._chat_action(self._api.typing)
                typing_due = now + TYPING_EVERY
            if not self._shown and not self._latest and now >= placeholder_due:
                await self._update(PLACEHOLDER)
            wake = typing_due if waiting else math.inf
            if not self._shown:
                wake = min(wake, placeholder_due)
            with trio.move_on_at(wake):
                await self._changed.wait()
            self._changed = trio.Event()
            if self._latest and not self._shown:
                await self._gather_first_text()
            if self._latest and not self._done:
                await self._update(self._latest)
                await trio.sleep(self._edit_interval)

    async def _gather_first_text(self) -> None:
        """Let the first text grow a moment: a fast answer then needs no edit at all."""
        assert self._first_text_at is not None
        with trio.move_on_at(self._first_text_at + FIRST_TEXT_DELAY):
            await self._finished.wait()

    async def show_recording(self) -> None:
        """From ``voice_pending`` until the note is sent or failed: "record_voice"."""
        await self._voice_pending.wait()
        while not self._voice_over.is_set():
            await self._chat_action(self._api.recording_voice)
            with trio.move_on_after(RECORDING_EVERY):
                await self._voice_over.wait()

    async def _chat_action(self, show: Callable[[int], Awaitable[None]]) -> None:
        try:
            await show(self._chat_id)
        except TelegramError as error:
            fields = {"action": show.__name__, "error": str(error)}
            log.debug("telegram.chat_action.failed", extra={"fields": fields})

    async def _update(self, text: str) -> None:
        """Bring the shown messages closer to ``text``, skipping edits without room."""
        async with self._lock:
            if self._done:
                return
            try:
                await self._converge(self._pieces(text, streaming=True), final=False)
            except TelegramError as error:
                fields = {"chat_id": self._chat_id, "error": str(error)}
                log.warning("telegram.stream.update_failed", extra={"fields": fields})

    # Final ---------------------------------------------------------------------

    async def _finish(self, text: str) -> None:
        self._final = text
        self._done = True
        self._finished.set()
        self._changed.set()
        async with self._lock:
            await self._converge(self._pieces(text, streaming=False), final=True)
        self._completed = trio.current_time()
        if self._notes is not None:
            await self._notes.shown(self._shown_ids(), delivered=True)

    def _shown_ids(self) -> tuple[int, ...]:
        return tuple(sent.message_id for sent in self._shown)

    def _pieces(self, text: str, *, streaming: bool) -> list[TelegramPiece]:
        if text == PLACEHOLDER:
            return [plain_piece(text)]
        return telegram_pieces(text, self._limit, streaming=streaming)

    async def _converge(self, pieces: list[TelegramPiece], *, final: bool) -> None:
        """Edit the messages already shown and send the missing ones.

        While streaming, only the last piece can still change and the earlier
        ones were cut for good, so an edit of an earlier piece is as required
        as a new message; the last piece's edits are the optional ones.
        """
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            if index < len(self._shown):
                await self._edit(index, piece, optional=last and not final)
            elif final:
                await self._send(piece)
            else:
                await self._send(partial(self._piece_now, index, piece))

    def _piece_now(self, index: int, fallback: TelegramPiece) -> TelegramPiece:
        """Piece ``index`` of the newest text: a send that waited for its slot
        (a busy bot) shows all that arrived meanwhile, often the whole answer,
        which then needs no edit at all."""
        newest = self._final if self._final is not None else self._latest
        pieces = self._pieces(newest, streaming=self._final is None) if newest else []
        return pieces[index] if index < len(pieces) else fallback

    async def _send(self, text: Text) -> None:
        reply_to = self._reply_to if not self._shown else None
        sent = await self._send_noted(len(self._shown), text, reply_to)
        self._shown.append(sent)
        if self._notes is not None:
            await self._notes.shown(self._shown_ids(), delivered=False)
        if self._first_visible is None and sent.text != PLACEHOLDER:
            self._first_visible = trio.current_time()

    async def _send_noted(self, index: int, text: Text, reply_to: int | None) -> Sent:
        """Send the message that becomes piece ``index``, noted before and as it is made."""
        notes = self._notes
        if notes is None:
            return await self._api.send_text(self._chat_id, text, reply_to=reply_to)
        await notes.sending(self._shown_ids())
        on_id = partial(notes.created, index)
        sent = await self._api.send_text(self._chat_id, text, reply_to=reply_to, on_id=on_id)
        notes.created(index, sent.message_id)
        return sent

    async def _edit(self, index: int, piece: TelegramPiece, *, optional: bool) -> None:
        shown = self._shown[index]
        if shown.piece == piece:
            return  # never an unchanged edit
        try:
            sent = await self._api.edit_text(
                self._chat_id, shown.message_id, piece, optional=optional
            )
        except TelegramError as error:
            if shown.text != UNKNOWN_TEXT or "not found" not in str(error).lower():
                raise
            sent = await self._replace_gone(index, piece)
        if sent is not None:
            self._shown[index] = sent
            if self._first_visible is None and piece.text != PLACEHOLDER:
                self._first_visible = trio.current_time()

    async def _replace_gone(self, index: int, piece: TelegramPiece) -> Sent:
        """A message recorded before a restart is gone (deleted in the chat): send anew."""
        sent = await self._send_noted(index, piece, None)
        self._shown[index] = sent
        if self._notes is not None:
            await self._notes.shown(self._shown_ids(), delivered=False)
        return sent


@asynccontextmanager
async def open_streaming_reply(
    api: ChatApi,
    chat_id: int,
    *,
    reply_to: int | None,
    limit: int,
    edit_interval: float,
    notes: ShownNotes | None = None,
    shown_ids: tuple[int, ...] = (),
) -> AsyncIterator[StreamingReply]:
    """A reply whose background tasks (typing, edits, recording) live as long as the block.

    An error of the block comes out as itself, not wrapped in the nursery's
    exception group, so callers can catch ``TelegramError`` and the like.
    """
    reply = StreamingReply(
        api,
        chat_id,
        reply_to=reply_to,
        limit=limit,
        edit_interval=edit_interval,
        notes=notes,
        shown_ids=shown_ids,
    )
    with unwrapped_errors():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reply.run)
            nursery.start_soon(reply.show_recording)
            try:
                yield reply
            finally:
                nursery.cancel_scope.cancel()
