"""Telegram's send limits and retries, on trio's clock.

Telegram asks bots to stay under about one message per second per private
chat (short bursts are tolerated), 20 messages per minute per group and 30
messages per second overall, and answers 429 with ``retry_after`` when they do
not. The original bot ignored all of this.

Each limit is a GCRA bucket (generic cell rate algorithm): a single number,
the theoretical arrival time, per bucket. A send *reserves* its slot
synchronously and then sleeps until it, so waiters are served in order with
no lock and no polling. Every send and edit waits for its chat's bucket,
then the global one (Telegram's flood control counts edits too); the
intermediate edits of a streaming answer are skipped, never queued, when
either bucket is busy.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import trio

from tauro.config import TelegramSettings
from tauro.runtime import Backoff

log = logging.getLogger("tauro.telegram")

T = TypeVar("T")

# Bursts a little below what Telegram tolerates (3 per private chat, about 30
# for the bot): a request that travels slower than the next one must not make
# two arrive closer together than the limit allows.
_PRIVATE_BURST = 2
_GROUP_BURST = 3
_GLOBAL_BURST_SHARE = 1 / 3  # of one second's worth of messages
_GLOBAL_MARGIN = 0.95  # of TELEGRAM_GLOBAL_RATE: uneven network delays bunch sends up
_PRUNE_EVERY = 1024  # per-chat buckets created between sweeps of idle ones


class RateLimit:
    """``rate`` events per second with bursts of up to ``burst`` events."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, not {rate}, {burst}")
        self.interval = 1.0 / rate
        self._tolerance = (burst - 1) * self.interval
        self._tat = -math.inf  # theoretical arrival time of the next event

    def reserve(self) -> float:
        """Take the next free slot now and return the time it starts."""
        now = trio.current_time()
        start = max(now, self._tat - self._tolerance)
        self._tat = max(self._tat, start) + self.interval
        return start

    async def acquire(self) -> None:
        """Wait for a slot (in order of arrival)."""
        start = self.reserve()
        if start > trio.current_time():
            await trio.sleep_until(start)

    def available(self) -> bool:
        """Whether a slot is free right now (without taking it)."""
        return trio.current_time() >= self._tat - self._tolerance

    def try_acquire(self) -> bool:
        """Take a slot only if one is free right now."""
        if not self.available():
            return False
        self.reserve()
        return True

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now (after a 429's retry_after)."""
        resume = trio.current_time() + seconds
        self._tat = max(self._tat, resume + self._tolerance)

    def idle(self) -> bool:
        """True when the bucket is full again, so forgetting it changes nothing."""
        return self._tat <= trio.current_time()


class SendLimiter:
    """All of the bot's outgoing limits: global, per private chat, per group."""

    def __init__(self, settings: TelegramSettings) -> None:
        self._settings = settings
        burst = max(1, int(settings.global_rate * _GLOBAL_BURST_SHARE))
        self.global_limit = RateLimit(settings.global_rate * _GLOBAL_MARGIN, burst)
        self._chats: dict[int, RateLimit] = {}
        self._created = 0

    def chat(self, chat_id: int) -> RateLimit:
        """The bucket of one chat; group ids are negative in the Bot API."""
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._new_bucket(chat_id)
            self._chats[chat_id] = bucket
        return bucket

    def _new_bucket(self, chat_id: int) -> RateLimit:
        self._created += 1
        if self._created % _PRUNE_EVERY == 0:
            self._prune()
        if chat_id < 0:
            return RateLimit(self._settings.group_rate_per_minute / 60.0, _GROUP_BURST)
        return RateLimit(self._settings.per_chat_rate, _PRIVATE_BURST)

    def _prune(self) -> None:
        for chat_id in [c for c, bucket in self._chats.items() if bucket.idle()]:
            del self._chats[chat_id]

    async def message(self, chat_id: int) -> None:
        """Wait until a new message may go to ``chat_id``."""
        await self.chat(chat_id).acquire()
        await self.global_limit.acquire()

    async def edit(self, chat_id: int) -> None:
        """Wait until a required edit (the final text) may go to ``chat_id``."""
        await self.chat(chat_id).acquire()
        await self.global_limit.acquire()

    def try_edit(self, chat_id: int) -> bool:
        """Take a slot for an optional edit only if the chat and the bot are idle enough."""
        bucket = self.chat(chat_id)
        if not (bucket.available() and self.global_limit.available()):
            return False
        bucket.reserve()
        self.global_limit.reserve()
        return True

    def flood(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said 429: hold the chat (or, without a chat, the bot) back."""
        (self.global_limit if chat_id is None else self.chat(chat_id)).pause(seconds)


# Before the n-th retry (from 0) of a transient error: 0.5 * 2**n seconds, at
# most 30, jittered down to half so that many chats do not retry in step.
TRANSIENT_BACKOFF = Backoff(initial=0.5, maximum=30.0, jitter=0.5)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a failed Bot API call is retried."""

    max_retries: int = 5
    backoff: Backoff = TRANSIENT_BACKOFF


@dataclass(frozen=True)
class RetryAdvice:
    """How to retry one failure: after ``wait`` seconds, or with backoff if None."""

    reason: str
    wait: float | None = None


Classifier = Callable[[Exception], RetryAdvice | None]


async def retrying(
    call: Callable[[], Awaitable[T]],
    classify: Classifier,
    policy: RetryPolicy,
    *,
    method: str,
    on_flood: Callable[[float], None] | None = None,
) -> T:
    """Run ``call``, retrying what ``classify`` says is worth retrying.

    A 429 (advice with ``wait``) waits exactly that long; other transient
    errors back off exponentially. After ``policy.max_retries`` retries the
    last error is raised, so nothing is dropped silently.
    """
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as error:
            advice = classify(error)
            if advice is None or attempt >= policy.max_retries:
                raise
            wait = policy.backoff.delay(attempt) if advice.wait is None else advice.wait
            if advice.wait is not None and on_flood is not None:
                on_flood(advice.wait)
            _log_retry(method, attempt, wait, advice.reason)
            attempt += 1
            await trio.sleep(wait)


def _log_retry(method: str, attempt: int, wait: float, reason: str) -> None:
    fields = {"method": method, "attempt": attempt + 1, "wait_s": round(wait, 3), "reason": reason}
    log.warning("telegram.request.retry", extra={"fields": fields})
