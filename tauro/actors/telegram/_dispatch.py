"""Per-chat order, cross-chat concurrency, and what each update is.

The original handled one update at a time, so one slow answer made every
other user wait. Here every chat with work has one worker task that handles
its updates strictly in order, and different chats run side by side, up to
TELEGRAM_MAX_CHATS_IN_FLIGHT of them. Beyond that ``submit`` waits, which
stops the poller and so holds updates back at Telegram (backpressure).

``route`` decides, from an update alone, what kind of work it is.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import trio

from tauro.actors.telegram._commands import Command, parse_command
from tauro.actors.telegram._incoming import Incoming
from tauro.actors.telegram._splitting import telegram_length
from tauro.i18n import N_, lazy

log = logging.getLogger("tauro.telegram")

J = TypeVar("J")


class ChatDispatcher(Generic[J]):
    """Runs ``handler(job)`` per chat in order, for a bounded number of chats at once."""

    def __init__(
        self, nursery: trio.Nursery, handler: Callable[[J], Awaitable[None]], max_chats: int
    ) -> None:
        self._nursery = nursery
        self._handler = handler
        self._slots = trio.Semaphore(max_chats)
        self._queues: dict[int, deque[J]] = {}
        self._closed = False
        self.handled = 0

    @property
    def chats_in_flight(self) -> int:
        return len(self._queues)

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def close(self) -> None:
        """Take no new jobs; the jobs running finish, those queued behind them are dropped."""
        self._closed = True

    async def submit(self, chat_id: int, job: J) -> None:
        """Queue ``job`` behind the chat's earlier ones; waits while all slots are busy."""
        if self._closed:
            return
        if self._append(chat_id, job):
            return
        await self._slots.acquire()
        if self._append(chat_id, job):  # the chat got a worker while we waited
            self._slots.release()
            return
        queue = deque([job])
        self._queues[chat_id] = queue
        self._nursery.start_soon(self._drain, chat_id, queue)

    def _append(self, chat_id: int, job: J) -> bool:
        queue = self._queues.get(chat_id)
        if queue is None:
            return False
        queue.append(job)
        return True

    async def _drain(self, chat_id: int, queue: deque[J]) -> None:
        """The chat's worker: its jobs one after the other, then it frees its slot.

        Invariant: a job stays at the head of its queue while it runs, so the
        queue is never empty while the worker is alive and ``_append`` never
        adds to a queue whose worker has finished (after ``close`` nothing is
        added, and the worker leaves the jobs not started).
        """
        try:
            while queue and not self._closed:
                try:
                    await self._handler(queue[0])
                except Exception:
                    fields = {"chat_id": chat_id}
                    log.exception("telegram.chat.job_failed", extra={"fields": fields})
                finally:
                    queue.popleft()
                    self.handled += 1
        finally:
            del self._queues[chat_id]
            self._slots.release()


# Routing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ignore:
    """Nothing to do (not for us); the update is only confirmed."""

    reason: str


@dataclass(frozen=True)
class Reply:
    """Answer with a fixed text, without the LLM; ``text`` is translated when sent."""

    text: str


@dataclass(frozen=True)
class RunCommand:
    command: Command


@dataclass(frozen=True)
class Turn:
    """A question for the model; ``text`` is what memory records."""

    text: str


Route = Ignore | Reply | RunCommand | Turn

NOT_TEXT = N_(
    "I can only read text messages, so I could not look at this one ({kind}). "
    "Please write your question as text."
)
EMPTY = N_("Your message is empty: write me a question as text.")
TOO_LONG = N_(
    "Your message is too long for me ({length} characters; at most {limit}). "
    "Please send a shorter one."
)
# What a message carried instead of text, in the words the user reads.
_KINDS = {
    "sticker": N_("a sticker"),
    "photo": N_("a photo"),
    "video": N_("a video"),
    "video_note": N_("a video note"),
    "animation": N_("an animation"),
    "voice": N_("a voice message"),
    "audio": N_("an audio file"),
    "document": N_("a file"),
    "location": N_("a location"),
    "contact": N_("a contact"),
    "poll": N_("a poll"),
    "dice": N_("a dice"),
    "other": N_("something other than text"),
}


def route(incoming: Incoming, bot_username: str, max_input: int) -> Route:
    """What to do with an update that passed the access check."""
    if incoming.chat_id is None:
        return Ignore("no message")
    if not incoming.addressed:
        return Ignore("group message not addressed to the bot")
    if incoming.text is None:
        kind = _KINDS.get(incoming.content, _KINDS["other"])
        return Reply(lazy(NOT_TEXT, kind=lazy(kind)))
    command = parse_command(incoming.text, bot_username)
    if command is not None:
        return Ignore("command for another bot") if command.for_other_bot else RunCommand(command)
    return _text_route(incoming, max_input)


def _text_route(incoming: Incoming, max_input: int) -> Route:
    text = incoming.text or ""
    if not text.strip():
        return Reply(lazy(EMPTY))
    length = telegram_length(text)
    if length > max_input:
        return Reply(lazy(TOO_LONG, length=length, limit=max_input))
    if incoming.is_group and incoming.user_name:
        # The group has one conversation with many people: say who speaks.
        return Turn(f"{incoming.user_name}: {text}")
    return Turn(text)
