"""What the Telegram actor has done, for /stats, the status page and the benchmark."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from tauro.runtime import Request

_SAMPLES = 1000  # latencies kept for percentiles


@dataclass(frozen=True, slots=True)
class GetTelegramStats(Request["TelegramStatistics"]):
    """Ask the Telegram actor for a ``TelegramStatistics`` snapshot."""


TelegramMessage = GetTelegramStats


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramStatistics:
    """A snapshot; latencies are seconds from the start of a turn (p50, p99)."""

    bot_username: str
    updates: int  # received and new (redeliveries not counted)
    outcomes: dict[str, int]  # answered, failed, skipped, command, refused, limited...
    chats_in_flight: int
    queued: int
    unsettled: int  # received and not yet confirmable to Telegram
    held: int = 0  # updates held, unconfirmed, while memory cannot record them
    api_calls: int
    api_retries: int
    api_floods: int  # 429s received
    markdown_fallbacks: int  # formatted messages Telegram refused (then sent as plain text)
    api_failures: int
    first_visible: tuple[float, float]
    complete: tuple[float, float]


def percentiles(samples: deque[float]) -> tuple[float, float]:
    """(p50, p99) by the nearest-rank method; zeros when there are no samples."""
    if not samples:
        return (0.0, 0.0)
    ordered = sorted(samples)
    last = len(ordered) - 1
    return (ordered[round(0.50 * last)], ordered[round(0.99 * last)])


class StatsRecorder:
    """Counters and recent latencies, updated by the actor's tasks."""

    def __init__(self) -> None:
        self.updates = 0
        self.outcomes: Counter[str] = Counter()
        self.first_visible: deque[float] = deque(maxlen=_SAMPLES)
        self.complete: deque[float] = deque(maxlen=_SAMPLES)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1

    def timing(self, first_visible: float | None, complete: float | None) -> None:
        if first_visible is not None:
            self.first_visible.append(first_visible)
        if complete is not None:
            self.complete.append(complete)


def statistics_lines(stats: TelegramStatistics) -> list[str]:
    """The admin's view in /stats."""
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items())) or "none"
    return [
        f"Telegram: @{stats.bot_username}, {stats.updates} updates ({outcomes})",
        f"Chats in progress: {stats.chats_in_flight}, waiting: {stats.queued}, "
        f"held (memory cannot record): {stats.held}",
        f"Bot API: {stats.api_calls} calls, {stats.api_retries} retries, "
        f"{stats.api_floods} flood waits, {stats.api_failures} failures, "
        f"{stats.markdown_fallbacks} formatting refused",
        f"First text visible: p50 {stats.first_visible[0]:.2f} s, "
        f"p99 {stats.first_visible[1]:.2f} s; complete: p50 {stats.complete[0]:.2f} s, "
        f"p99 {stats.complete[1]:.2f} s",
    ]
