"""The last hour, a minute at a time, for the status page's charts.

Every minute the web actor takes the same :class:`StatusReport` the status page
shows and keeps what changed since the minute before: answers, errors and
restarts, and the first-token latency (median of the LLM's recent answers) when
there were answers. Sixty samples are kept; older ones fall off. The history
belongs to the web actor's spec, not to one run of the actor, so a restart of
the web actor does not wipe the charts that should show it.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from tauro.actors.web._status import StatusReport

__all__ = ["HISTORY_MINUTES", "MetricsHistory", "MinuteSample", "sample_every_minute"]

HISTORY_MINUTES = 60
SAMPLE_INTERVAL = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class MinuteSample:
    at: float  # Unix time at the end of the minute
    answers: int
    first_token_ms: float | None  # None: no answer that minute
    errors: int
    restarts: int


@dataclass(frozen=True, slots=True)
class _Totals:
    answers: int
    errors: int
    restarts: int


def _count(values: object, key: str) -> int:
    value = values.get(key) if isinstance(values, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _totals(report: StatusReport) -> _Totals:
    llm = dict(report.llm.counters)
    errors = (
        _count(llm, "failed")
        + _count(dict(report.memory), "errors")
        + _count(dict(report.voice), "failures")
    )
    restarts = sum(actor.restarts for actor in report.actors)
    return _Totals(_count(llm, "completed"), errors, restarts)


def _since(now: int, before: int) -> int:
    return now - before if now >= before else now  # a counter that restarted from 0


class MetricsHistory:
    """A ring of per-minute samples (the newest last)."""

    def __init__(self, minutes: int = HISTORY_MINUTES) -> None:
        self._samples: deque[MinuteSample] = deque(maxlen=minutes)
        self._last: _Totals | None = None

    def record(self, report: StatusReport, at: float) -> MinuteSample | None:
        """Take a report; from the second one on, keep what changed since the last."""
        totals, last = _totals(report), self._last
        self._last = totals
        if last is None:
            return None  # the baseline
        answers = _since(totals.answers, last.answers)
        p50 = report.llm.first_token.get("p50")
        sample = MinuteSample(
            at=at,
            answers=answers,
            first_token_ms=round(p50 * 1000, 1) if answers and p50 is not None else None,
            errors=_since(totals.errors, last.errors),
            restarts=_since(totals.restarts, last.restarts),
        )
        self.add(sample)
        return sample

    def add(self, sample: MinuteSample) -> None:
        self._samples.append(sample)

    def samples(self) -> list[MinuteSample]:
        return list(self._samples)

    def as_json(self) -> dict[str, object]:
        return {
            "interval_s": SAMPLE_INTERVAL,
            "minutes": [dataclasses.asdict(sample) for sample in self._samples],
        }


async def sample_every_minute(
    history: MetricsHistory,
    status: Callable[[], Awaitable[StatusReport]],
    *,
    interval: float = SAMPLE_INTERVAL,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Record a report now (the baseline) and then every ``interval`` seconds."""
    history.record(await status(), wall_clock())
    while True:
        await trio.sleep(interval)
        history.record(await status(), wall_clock())
