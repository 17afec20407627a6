"""The update queue behind ``getUpdates``: offsets, long polling, conflicts.

Follows the documented rules: an update is confirmed (forgotten) as soon as
``getUpdates`` is called with an offset higher than its id; a negative offset keeps
only the last ``-offset`` updates; ``timeout`` waits (on trio's clock) until an update
arrives; ``allowed_updates`` persists between calls and filters updates created
after it was set. Like Telegram, a second ``getUpdates`` ends the one still waiting
with 409 "terminated by other getUpdates request", and a set webhook makes
``getUpdates`` fail with 409 until ``deleteWebhook``.

While a webhook is set, ``_botapi_webhook`` delivers the same pending updates by
POST; this module keeps what it needs (the webhook, its last error) free of I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import trio

from tauro.testing._botapi_types import ApiFailure

__all__ = ["DEFAULT_ALLOWED_UPDATES", "UpdateQueue"]

# Without allowed_updates Telegram sends every type except these three.
_OPT_IN = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_ALL_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "inline_query", "chosen_inline_result",
        "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
) | _OPT_IN  # fmt: skip
DEFAULT_ALLOWED_UPDATES = _ALL_TYPES - _OPT_IN

OTHER_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"  # noqa: E501
WEBHOOK_ACTIVE = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"  # noqa: E501
BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"


def update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "unknown")


@dataclass(frozen=True)
class Webhook:
    """What ``setWebhook`` set: where to POST, the secret header, how many at once."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40


@dataclass
class _Poll:
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    ended_by: str | None = None


class UpdateQueue:
    """Pending updates and the one running long poll."""

    def __init__(self, first_update_id: int = 1) -> None:
        self._pending: deque[dict[str, Any]] = deque()
        self._next_id = first_update_id
        self._arrived = trio.Event()
        self._allowed = DEFAULT_ALLOWED_UPDATES
        self._poll: _Poll | None = None
        self.webhook: Webhook | None = None
        self.webhook_changed = trio.Event()
        self.last_error: tuple[int, str] | None = None  # (unix date, message) of a delivery
        self.pushed = self.delivered = self.filtered = 0

    @property
    def webhook_url(self) -> str:
        return self.webhook.url if self.webhook is not None else ""

    @property
    def allowed(self) -> frozenset[str]:
        return self._allowed

    @property
    def pending(self) -> tuple[dict[str, Any], ...]:
        """The updates not yet confirmed (polling) or answered 2xx (webhook), oldest first."""
        return tuple(self._pending)

    async def wait_arrival(self) -> None:
        await self._arrived.wait()

    def remove(self, update_id: int) -> None:
        """A webhook delivery was answered 2xx: the update is confirmed."""
        for index, update in enumerate(self._pending):
            if update["update_id"] == update_id:
                del self._pending[index]
                self.delivered += 1
                return

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def polling(self) -> bool:
        """Whether a ``getUpdates`` call is waiting right now."""
        return self._poll is not None

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update (assigning its id if missing); returns the id.

        An update of a type the bot did not allow is dropped, as Telegram does.
        """
        update_id = int(update.get("update_id") or self._next_id)
        self._next_id = max(self._next_id, update_id + 1)
        update["update_id"] = update_id
        self.pushed += 1
        if update_type(update) not in self._allowed:
            self.filtered += 1
            return update_id
        self._pending.append(update)
        self._arrived.set()
        self._arrived = trio.Event()
        return update_id

    def drop_pending(self) -> None:
        self._pending.clear()

    def set_webhook(self, url: str, secret_token: str | None = None, max_connections: int = 40,
                    allowed: list[str] | None = None) -> None:  # fmt: skip
        """Set (or, with an empty ``url``, delete) the webhook; deliveries start anew."""
        self.webhook = Webhook(url, secret_token, max_connections) if url else None
        self.last_error = None
        if url:
            self._allow(allowed)
            self._end_poll(BY_SET_WEBHOOK)
        self.webhook_changed.set()
        self.webhook_changed = trio.Event()

    def _end_poll(self, reason: str) -> None:
        if self._poll is not None:
            self._poll.ended_by = reason
            self._poll.scope.cancel()
            self._poll = None

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        elif offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()

    def _allow(self, allowed: list[str] | None) -> None:
        if allowed is not None:
            self._allowed = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES

    async def get(
        self, offset: int, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """One ``getUpdates`` call."""
        if self.webhook_url:
            raise ApiFailure(409, WEBHOOK_ACTIVE)
        self._end_poll(OTHER_POLL)
        self._allow(allowed)
        self._confirm(offset)
        poll = self._poll = _Poll()
        try:
            with poll.scope, trio.move_on_after(max(timeout, 0.0)):
                while not self._pending:
                    await self._arrived.wait()
        finally:
            if self._poll is poll:
                self._poll = None
        if poll.ended_by is not None:
            raise ApiFailure(409, poll.ended_by)
        batch = list(islice(self._pending, min(max(limit, 1), 100)))
        self.delivered += len(batch)
        return batch
