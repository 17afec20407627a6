"""Webhook delivery of the Bot API emulator: pending updates POSTed as Telegram does.

While ``setWebhook`` holds a URL, every pending update goes to it as one
``POST`` with a JSON ``Update`` body and, when a ``secret_token`` was set, the
``X-Telegram-Bot-Api-Secret-Token`` header. The update is confirmed (removed)
only when the answer is 2xx. Anything else (another status, a refused
connection, a timeout) is recorded as ``last_error_date``/``last_error_message``
for ``getWebhookInfo`` and the same update is posted again after a pause that
doubles from ``retry_initial`` up to ``retry_max``. Like Telegram, updates of one
chat go one at a time, in order (the next only after the previous got its 2xx),
and different chats in parallel, at most ``max_connections`` requests at once. A
new ``setWebhook`` (a restarted bot) or ``deleteWebhook`` ends the pauses at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from tauro.testing._botapi_core import BotApiState
from tauro.testing._botapi_updates import UpdateQueue, Webhook

__all__ = ["SECRET_HEADER", "WebhookDelivery", "WebhookPost", "deliver_webhooks"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
_REASONS = {
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip


@dataclass(frozen=True)
class WebhookPost:
    """One delivery attempt: which update, the answer's status (None: no answer), when."""

    update_id: int
    status: int | None
    time: float
    error: str | None = None


@dataclass
class WebhookDelivery:
    """Retry pacing and what was posted; the emulator's ``webhook`` attribute."""

    retry_initial: float = 1.0
    retry_max: float = 60.0
    timeout: float = 60.0  # seconds an answer may take before it counts as failed
    posts: list[WebhookPost] = field(default_factory=list)

    def pause(self, failures: int) -> float:
        return float(min(self.retry_max, self.retry_initial * 2 ** max(failures - 1, 0)))


def chat_key(update: dict[str, Any]) -> object:
    """Updates of one chat are delivered in sequence; others have a sequence each."""
    for value in update.values():
        if isinstance(value, dict):
            chat = value.get("chat") or (value.get("message") or {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return chat["id"]
            sender = value.get("from")
            if isinstance(sender, dict) and "id" in sender:
                return ("user", sender["id"])
    return ("update", update.get("update_id"))


async def deliver_webhooks(
    state: BotApiState, delivery: WebhookDelivery, pulse: Callable[[], None] | None = None
) -> None:
    """Run forever: deliver the queue's updates while a webhook is set."""
    queue = state.updates
    active: set[object] = set()
    limited: tuple[Webhook, trio.CapacityLimiter] | None = None  # max_connections at once
    async with httpx.AsyncClient(timeout=delivery.timeout) as client, trio.open_nursery() as n:
        while True:
            hook = queue.webhook
            if hook is not None:
                if limited is None or limited[0] is not hook:
                    limited = (hook, trio.CapacityLimiter(hook.max_connections))
                limiter = limited[1]
                for update in queue.pending:
                    key = chat_key(update)
                    if key not in active:
                        active.add(key)
                        n.start_soon(_chat_sequence, client, state, delivery, hook, limiter,
                                     key, active, pulse)  # fmt: skip
            await _next_change(queue)


async def _next_change(queue: UpdateQueue) -> None:
    async with trio.open_nursery() as nursery:

        async def wait(event_wait: Callable[[], Awaitable[None]]) -> None:
            await event_wait()
            nursery.cancel_scope.cancel()

        nursery.start_soon(wait, queue.wait_arrival)
        nursery.start_soon(wait, queue.webhook_changed.wait)


async def _chat_sequence(
    client: httpx.AsyncClient,
    state: BotApiState,
    delivery: WebhookDelivery,
    hook: Webhook,
    limiter: trio.CapacityLimiter,
    key: object,
    active: set[object],
    pulse: Callable[[], None] | None,
) -> None:
    """Deliver one chat's pending updates in order until none is left (or the hook changes)."""
    queue = state.updates
    failures = 0
    try:
        while queue.webhook is hook:
            update = next((u for u in queue.pending if chat_key(u) == key), None)
            if update is None:
                return
            async with limiter:
                delivered = await _post(client, state, delivery, hook, update)
            if pulse is not None:
                pulse()
            if delivered:
                queue.remove(update["update_id"])
                failures = 0
                continue
            failures += 1
            changed = queue.webhook_changed
            with trio.move_on_after(delivery.pause(failures)):
                await changed.wait()
    finally:
        active.discard(key)
        if queue.webhook is not None and queue.webhook is not hook:
            queue.webhook_changed.set()  # the new hook's loop picks this chat up again


async def _post(
    client: httpx.AsyncClient,
    state: BotApiState,
    delivery: WebhookDelivery,
    hook: Webhook,
    update: dict[str, Any],
) -> bool:
    headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
    update_id = int(update["update_id"])
    try:
        response = await client.post(hook.url, json=update, headers=headers)
    except httpx.TimeoutException:
        error = "Read timeout expired"
    except httpx.HTTPError as exc:
        error = _connection_error(exc)
    else:
        status = response.status_code
        delivery.posts.append(WebhookPost(update_id, status, trio.current_time()))
        if 200 <= status < 300:
            return True
        reason = _REASONS.get(status, response.reason_phrase or "")
        message = f"Wrong response from the webhook: {status} {reason}"
        state.updates.last_error = (state.date(), message)
        return False
    delivery.posts.append(WebhookPost(update_id, None, trio.current_time(), error))
    state.updates.last_error = (state.date(), error)
    return False


def _connection_error(exc: httpx.HTTPError) -> str:
    """Telegram's words for what went wrong with the connection."""
    if not isinstance(exc, httpx.ConnectError):
        return "Connection reset by peer"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return "Connection refused"
        for inner in getattr(cause, "exceptions", ()):  # an OSError group from happy eyeballs
            if isinstance(inner, ConnectionRefusedError):
                return "Connection refused"
        cause = cause.__cause__ or cause.__context__
    return "Failed to connect"
