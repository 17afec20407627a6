"""getUpdates long polling, confirming only what is safely handled.

Telegram forgets every update below the ``offset`` of a getUpdates call, so
the offset is the durability boundary: it only moves past an update once that
update is *settled* (its user message recorded by memory, or nothing to
record), never merely because it was received. Updates that come back again
because an earlier one is still unsettled are recognised and not handled
twice; when a poll brings nothing new, the poller waits for something to
settle (or STALLED_POLL_INTERVAL) instead of asking again at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from tauro.actors.telegram._incoming import Incoming
from tauro.errors import InvalidTokenError, PollingConflictError, TelegramError
from tauro.runtime import Backoff

log = logging.getLogger("tauro.telegram")

STALLED_POLL_INTERVAL = 1.0  # seconds between polls while only old updates come back
CONFIRM_TIMEOUT = 2.0  # seconds the last confirmation when polling ends may take
# Between polls while Telegram keeps failing: 2 s after the first failure in a
# row, doubled after each further one, at most 60 s.
ERROR_BACKOFF = Backoff(initial=2.0, maximum=60.0)


class UpdateTracker:
    """Which updates were received and which are settled; the offset to confirm."""

    def __init__(self) -> None:
        self._unsettled: set[int] = set()
        self._seen: set[int] = set()  # ids >= the confirmed offset already received
        self._resumed: set[int] = set()  # pending turns from memory, handled already
        self._highest = -1
        self._confirmed = 0
        self.changed = trio.Event()

    @property
    def unsettled(self) -> int:
        return len(self._unsettled)

    def resume(self, update_id: int) -> None:
        """A turn memory reported pending: if Telegram redelivers it, it is not new.

        It does not move the offset: an update still unconfirmed below it (in
        another chat) may not have been recorded at all.
        """
        self._resumed.add(update_id)

    def receive(self, update_id: int) -> bool:
        """Record a received update; False if it was received before."""
        if update_id < self._confirmed or update_id in self._seen:
            return False
        self._seen.add(update_id)
        self._highest = max(self._highest, update_id)
        if update_id in self._resumed:
            self._resumed.discard(update_id)
            return False
        self._unsettled.add(update_id)
        return True

    def settle(self, update_id: int) -> None:
        """The update may be confirmed to Telegram (safe to forget)."""
        if update_id in self._unsettled:
            self._unsettled.discard(update_id)
            self.changed.set()
            self.changed = trio.Event()

    def is_settled(self, update_id: int) -> bool:
        """Received before and safe to forget (a webhook may answer 200 for it)."""
        if update_id < self._confirmed:
            return True
        return update_id in self._seen and update_id not in self._unsettled

    async def wait_settled(self, update_id: int) -> None:
        while not self.is_settled(update_id):
            await self.changed.wait()

    def forget_settled(self, keep: int) -> None:
        """Webhook mode: remember only the ``keep`` newest settled ids (bounded memory).

        Updates arrive in any order there, so no offset can stand for the old
        ones; a redelivery older than that (Telegram gives up long before) would
        still be recognised by memory (``UpdateStatus``) if it was a question.
        """
        if len(self._seen) <= 2 * keep:
            return
        settled = sorted(self._seen - self._unsettled)
        self._seen -= set(settled[: len(settled) - keep])

    def offset(self) -> int:
        """The next getUpdates offset: the oldest unsettled update, or past the newest."""
        if self._unsettled:
            return min(self._unsettled)
        return self._highest + 1 if self._highest >= 0 else self._confirmed

    def unconfirmed_offset(self) -> int | None:
        """The offset that would confirm settled updates Telegram still holds, if any."""
        offset = self.offset()
        return offset if offset > self._confirmed else None

    def confirmed(self, offset: int) -> None:
        """Telegram accepted ``offset``: ids below it will never come back."""
        if offset > self._confirmed:
            self._confirmed = offset
            self._seen = {u for u in self._seen if u >= offset}
            self._resumed = {u for u in self._resumed if u >= offset}


class UpdateSource(Protocol):
    async def get_updates(self, offset: int, timeout: float, limit: int = 100) -> list[Incoming]:
        """Long-poll Telegram (``BotApi.get_updates``)."""


async def poll_forever(
    source: UpdateSource,
    tracker: UpdateTracker,
    on_update: Callable[[Incoming], Awaitable[None]],
    *,
    timeout: float,
) -> None:
    """Poll and hand every new update to ``on_update`` (which may wait: backpressure).

    Transient failures are retried forever with a growing pause, so an outage
    of Telegram does not stop the bot; a bad token or a 409 Conflict is fatal.
    """
    failures = 0
    while True:
        offset = tracker.offset()
        try:
            updates = await source.get_updates(offset, timeout)
        except (InvalidTokenError, PollingConflictError) as error:
            log.critical("telegram.polling.fatal", extra={"fields": {"error": str(error)}})
            raise
        except TelegramError as error:
            failures += 1
            await _pause_after_failure(failures, error)
            continue
        failures = 0
        tracker.confirmed(offset)
        fresh = [update for update in updates if tracker.receive(update.update_id)]
        for update in fresh:
            await on_update(update)
        if updates and not fresh and tracker.unsettled:
            await _wait_for_progress(tracker)


async def confirm_settled(source: UpdateSource, tracker: UpdateTracker) -> None:
    """After polling ended (a stop, a crash): tell Telegram what was settled since the last poll.

    Without it the updates handled after the last getUpdates (a /clear, a
    question answered meanwhile) would come back at the next start. Updates
    at or after the offset are not confirmed by this call and are left alone.
    Best effort, within CONFIRM_TIMEOUT: they are recorded, so a redelivery
    would be recognised anyway.
    """
    offset = tracker.unconfirmed_offset()
    if offset is None:
        return
    with trio.move_on_after(CONFIRM_TIMEOUT):
        try:
            await source.get_updates(offset, timeout=0, limit=1)
        except TelegramError as error:
            log.warning("telegram.confirm.failed", extra={"fields": {"error": str(error)}})
            return
        tracker.confirmed(offset)


async def _pause_after_failure(failures: int, error: TelegramError) -> None:
    pause = ERROR_BACKOFF.delay(failures - 1)
    fields = {"error": str(error), "failures": failures, "pause_s": pause}
    log.warning("telegram.polling.failed", extra={"fields": fields})
    await trio.sleep(pause)


async def _wait_for_progress(tracker: UpdateTracker) -> None:
    """Only redeliveries came back: wait until an update settles, or a short while."""
    with trio.move_on_after(STALLED_POLL_INTERVAL):
        await tracker.changed.wait()
