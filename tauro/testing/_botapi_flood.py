"""Telegram's flood limits, as token buckets on trio's clock (off by default).

Telegram documents about one message per second per private chat (short bursts
tolerated), 20 messages per minute per group and about 30 per second for the bot
overall; beyond them it answers 429 "Too Many Requests: retry after N" with
``parameters.retry_after``. The emulator enforces the same numbers when asked, so a
bot that ignores them fails its tests instead of getting banned in production.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import trio

from tauro.testing._botapi_types import ApiFailure

__all__ = ["FloodLimiter", "FloodLimits"]


@dataclass(frozen=True, kw_only=True)
class FloodLimits:
    """Rates in messages per second; bursts in messages sent back to back."""

    private_rate: float = 1.0
    private_burst: int = 3
    group_rate: float = 20 / 60
    group_burst: int = 20
    global_rate: float = 30.0
    global_burst: int = 30


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_s(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class FloodLimiter:
    """Charges one token per message from the chat's bucket and the global one."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._chats: dict[int, _Bucket] = {}
        self._global = self._bucket(limits.global_rate, limits.global_burst)
        self.rejected = 0

    @staticmethod
    def _bucket(rate: float, burst: int) -> _Bucket:
        return _Bucket(rate, float(burst), float(burst), trio.current_time())

    def _chat_bucket(self, chat_id: int, is_group: bool) -> _Bucket:
        if chat_id not in self._chats:
            limits = self.limits
            rate, burst = (limits.group_rate, limits.group_burst) if is_group else (
                limits.private_rate, limits.private_burst)  # fmt: skip
            self._chats[chat_id] = self._bucket(rate, burst)
        return self._chats[chat_id]

    def charge(self, chat_id: int, is_group: bool) -> None:
        """Take a token for one message, or raise the 429 Telegram would send."""
        now = trio.current_time()
        buckets = (self._chat_bucket(chat_id, is_group), self._global)
        for bucket in buckets:
            bucket.refill(now)
        wait = max(bucket.wait_s() for bucket in buckets)
        if wait > 0:
            self.rejected += 1
            retry_after = max(1, math.ceil(wait))
            raise ApiFailure(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for bucket in buckets:
            bucket.tokens -= 1
