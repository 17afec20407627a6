"""Who may talk to the bot, and how fast.

ALLOWED_USER_IDS (empty = everyone) keeps a private bot private: anyone else
gets one polite refusal, then silence, and nothing they write reaches memory
or the LLM. A per-user sliding window (RATE_LIMIT_MESSAGES per
RATE_LIMIT_WINDOW seconds, as the original's 30 per 60 s) stops one person
from monopolising a small local model; admins are exempt. Time is trio's.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Literal

import trio

from tauro.config import AccessSettings
from tauro.i18n import nt, t

Verdict = Literal["allow", "refuse", "limit", "silent"]

_REMEMBERED_STRANGERS = 10_000  # refused users remembered (oldest forgotten first)
_SWEEP_EVERY = 1000  # checks between sweeps of idle rate windows


class AccessControl:
    """``check(user_id)`` says what to do with one incoming message."""

    def __init__(self, settings: AccessSettings) -> None:
        self._settings = settings
        self._refused: OrderedDict[int, None] = OrderedDict()
        self._windows: dict[int, deque[float]] = {}
        self._notified_until: dict[int, float] = {}
        self._checks = 0

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._settings.admin_user_ids

    def is_allowed(self, user_id: int | None) -> bool:
        allowed = self._settings.allowed_user_ids
        if not allowed or self.is_admin(user_id):
            return True
        return user_id is not None and user_id in allowed

    def check(self, user_id: int | None) -> Verdict:
        """``allow``; ``refuse`` or ``limit`` (tell the user once); or ``silent``."""
        if not self.is_allowed(user_id):
            return self._refuse(user_id)
        if user_id is None or self.is_admin(user_id):
            return "allow"
        return self._rate(user_id)

    def _refuse(self, user_id: int | None) -> Verdict:
        if user_id is None or user_id in self._refused:
            return "silent"
        self._refused[user_id] = None
        if len(self._refused) > _REMEMBERED_STRANGERS:
            self._refused.popitem(last=False)
        return "refuse"

    def _rate(self, user_id: int) -> Verdict:
        now = trio.current_time()
        self._sweep(now)
        window = self._windows.setdefault(user_id, deque())
        while window and window[0] <= now - self._settings.rate_limit_window:
            window.popleft()
        if len(window) < self._settings.rate_limit_messages:
            window.append(now)
            return "allow"
        if self._notified_until.get(user_id, -1.0) > now:
            return "silent"
        self._notified_until[user_id] = self.retry_at(user_id)
        return "limit"

    def retry_at(self, user_id: int) -> float:
        """When ``user_id`` may write again (trio time)."""
        window = self._windows.get(user_id)
        if not window:
            return trio.current_time()
        return window[0] + self._settings.rate_limit_window

    def _sweep(self, now: float) -> None:
        """Forget windows with nothing in them any more, so memory stays bounded."""
        self._checks += 1
        if self._checks % _SWEEP_EVERY:
            return
        horizon = now - self._settings.rate_limit_window
        for user_id in [u for u, w in self._windows.items() if not w or w[-1] <= horizon]:
            del self._windows[user_id]
            self._notified_until.pop(user_id, None)


def refusal_text(user_id: int | None, language: str = "en") -> str:
    if user_id is None:
        return t(
            language,
            "Sorry, this is a private bot: it only talks to the people its owner allowed.",
        )
    return t(
        language,
        "Sorry, this is a private bot: it only talks to the people its owner allowed. "
        "Your Telegram user id is {user_id}. If you know the owner, ask them to add it "
        "to ALLOWED_USER_IDS.",
        user_id=user_id,
    )


def rate_limit_text(settings: AccessSettings, wait: float, language: str = "en") -> str:
    seconds = max(1, round(wait))
    limit = nt(
        language,
        "at most {count} message every {window} seconds",
        "at most {count} messages every {window} seconds",
        settings.rate_limit_messages,
        window=f"{settings.rate_limit_window:g}",
    )
    return nt(
        language,
        "You are writing faster than I can answer ({limit}). "
        "Please wait about {count} second, then write again.",
        "You are writing faster than I can answer ({limit}). "
        "Please wait about {count} seconds, then write again.",
        seconds,
        limit=limit,
    )
