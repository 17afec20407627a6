"""Webhook mode: Telegram POSTs each update to the bot's own web server.

The web server (another actor) owns the HTTP side; this module owns what an
update means. They meet at ``WebhookInbox``, made once by the application and
given to both actors, so it outlives a restart of either:

- the Telegram actor opens it with a fresh random secret before ``setWebhook``
  (the secret is never logged) and closes it when it drains or stops;
- the web route hands it each POST: the ``X-Telegram-Bot-Api-Secret-Token``
  header is compared in constant time before the body is even read (401, and
  nothing touched, when missing or wrong); while closed every POST gets 503 and
  Telegram tries again later.

``WebhookReceiver`` keeps polling's promise: a POST is answered 200 only once its
update is settled (its user message recorded by memory, or nothing to record),
so Telegram redelivers whatever a crash lost. Updates received before are
recognised (``UpdateTracker``) and wait for the first delivery's outcome
instead of being handled twice. An update that cannot settle within
ANSWER_TIMEOUT (its chat is still busy with an earlier answer, or memory cannot
record) gets 503: it stays queued here and Telegram asks again later.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from tauro.actors.telegram._incoming import Incoming
from tauro.actors.telegram._polling import UpdateTracker

__all__ = ["ANSWER_TIMEOUT", "WebhookInbox", "WebhookReceiver", "new_secret"]

log = logging.getLogger("tauro.telegram")

# Seconds a POST waits for its update to settle. Telegram does not document how
# long it waits for an answer; well under a minute keeps clear of its limit.
ANSWER_TIMEOUT = 20.0
# Settled update ids remembered to recognise redeliveries (webhook updates come
# in any order, so no offset can stand for the old ones).
REMEMBERED_UPDATES = 10_000

OK, UNAUTHORIZED, MALFORMED, RETRY_LATER = 200, 401, 400, 503

Receive = Callable[[Mapping[str, Any]], Awaitable[int]]
ReadBody = Callable[[], Awaitable[bytes]]


def new_secret() -> str:
    """A secret_token for setWebhook: 43 characters of A-Z, a-z, 0-9, _ and -."""
    return secrets.token_urlsafe(32)


class WebhookInbox:
    """Where the web route hands Telegram's POSTs to the Telegram actor.

    ``path`` is the URL path the web server answers on (TELEGRAM_WEBHOOK_URL's).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._secret: bytes | None = None
        self._receive: Receive | None = None

    @property
    def is_open(self) -> bool:
        return self._receive is not None

    def open(self, secret: str, receive: Receive) -> None:
        self._secret = secret.encode()
        self._receive = receive

    def close(self) -> None:
        self._secret = None
        self._receive = None

    async def post(self, secret: str | None, read_body: ReadBody) -> int:
        """The HTTP status for one POST: 200, 400, 401 or 503 (Telegram retries all but 200).

        ``read_body`` is called only for a request that carries the secret.
        """
        expected, receive = self._secret, self._receive
        if expected is None or receive is None:
            return RETRY_LATER
        if secret is None or not hmac.compare_digest(secret.encode(), expected):
            log.warning("telegram.webhook.refused", extra={"fields": {"reason": "secret"}})
            return UNAUTHORIZED
        update = _update(await read_body())
        if update is None:
            return MALFORMED
        if self._receive is not receive:  # closed (or reopened) while the body came
            return RETRY_LATER
        return await receive(update)


def _update(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(value, dict) or type(value.get("update_id")) is not int:
        return None
    return value


class WebhookReceiver:
    """One open webhook: each POSTed update goes to ``on_update``; 200 once it settles.

    ``parse`` reads the JSON update (ValueError if it is not one); ``on_update``
    queues it in its chat (and may wait while every chat slot is busy).
    """

    def __init__(
        self,
        tracker: UpdateTracker,
        parse: Callable[[Mapping[str, Any]], Incoming],
        on_update: Callable[[Incoming], Awaitable[None]],
        *,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self._tracker = tracker
        self._parse = parse
        self._on_update = on_update
        self._answer_timeout = answer_timeout
        self._closed = trio.Event()

    def close(self) -> None:
        """No new update is taken; the POSTs still waiting get 503 unless already settled."""
        self._closed.set()

    async def __call__(self, update: Mapping[str, Any]) -> int:
        if self._closed.is_set():
            return RETRY_LATER
        try:
            incoming = self._parse(update)
        except ValueError as error:
            log.warning("telegram.webhook.malformed", extra={"fields": {"error": str(error)}})
            return MALFORMED
        update_id = incoming.update_id
        if self._tracker.receive(update_id):
            await self._on_update(incoming)
        else:
            log.info("telegram.webhook.redelivered", extra={"fields": {"update_id": update_id}})
        if await self._settled(update_id):
            self._tracker.forget_settled(REMEMBERED_UPDATES)
            return OK
        return RETRY_LATER

    async def _settled(self, update_id: int) -> bool:
        with trio.move_on_after(self._answer_timeout):
            async with trio.open_nursery() as nursery:

                async def closed() -> None:
                    await self._closed.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(closed)
                await self._tracker.wait_settled(update_id)
                nursery.cancel_scope.cancel()
        return self._tracker.is_settled(update_id)
