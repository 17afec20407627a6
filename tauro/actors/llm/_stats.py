"""Counters and latency windows behind ``GetLLMStats``.

Everything runs in one trio thread, so plain attributes need no lock. The
latency windows keep the last ``size`` samples: percentiles describe recent
behaviour, not the average since start, and cost a sort of at most ``size``
floats per snapshot.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from tauro.actors.llm._messages import (
    GenerationResult,
    LatencyHistogram,
    LatencyStatistics,
    LLMStatistics,
)

WINDOW = 1000  # latency samples kept
# Upper bounds (seconds) of the Prometheus histogram buckets: a local model's
# first token takes from tens of milliseconds to a minute (loading), an answer
# up to LLM_TOTAL_TIMEOUT.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, math.inf)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100] of already sorted samples."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class LatencyWindow:
    """The last ``size`` durations, in seconds."""

    def __init__(self, size: int = WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def snapshot(self) -> LatencyStatistics:
        ordered = sorted(self._samples)
        return LatencyStatistics(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1] if ordered else 0.0,
        )


class Histogram:
    """Cumulative counts per bucket, the sum and the count, since start."""

    def __init__(self) -> None:
        self._counts = [0] * len(BUCKETS)
        self._sum = 0.0
        self._count = 0

    def add(self, seconds: float) -> None:
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self._counts[index] += 1
                break
        self._sum += seconds
        self._count += 1

    def snapshot(self, kind: str, provider: str, model: str) -> LatencyHistogram:
        cumulative, total = [], 0
        for bound, count in zip(BUCKETS, self._counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return LatencyHistogram(
            kind=kind, provider=provider, model=model, buckets=tuple(cumulative),
            sum=self._sum, count=self._count,
        )  # fmt: skip


@dataclass(slots=True)
class StatsRecorder:
    """Mutable counters updated by the generation tasks."""

    in_flight: int = 0
    queued: int = 0
    max_in_flight: int = 0
    started: int = 0
    completed: int = 0
    cut: int = 0
    failed: int = 0
    cancelled: int = 0
    retries: int = 0
    completion_tokens: int = 0
    last_error: str | None = None
    first_token: LatencyWindow = field(default_factory=LatencyWindow)
    total: LatencyWindow = field(default_factory=LatencyWindow)
    # (kind, provider, model) -> histogram; kind "first_token" or "generation"
    histograms: dict[tuple[str, str, str], Histogram] = field(default_factory=dict)
    answered_by: dict[str, str] = field(default_factory=dict)  # asked model -> answering

    def enter(self) -> None:
        """A generation got a slot and is about to send its request."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def record(self, result: GenerationResult, provider: str = "") -> None:
        """Count one finished generation by how it ended."""
        if result.answered_by:
            self.answered_by[result.model] = result.answered_by
        if result.complete:
            self.completed += 1
            self.total.add(result.duration)
            self._histogram("generation", provider, result.model).add(result.duration)
        elif result.error is None:
            self.cancelled += 1
        elif result.text:
            self.cut += 1
        else:
            self.failed += 1
        if result.error is not None:
            self.last_error = str(result.error)
        if result.time_to_first_token is not None:
            self.first_token.add(result.time_to_first_token)
            histogram = self._histogram("first_token", provider, result.model)
            histogram.add(result.time_to_first_token)
        self.completion_tokens += result.completion_tokens

    def _histogram(self, kind: str, provider: str, model: str) -> Histogram:
        key = (kind, provider, model)
        if (found := self.histograms.get(key)) is None:
            found = self.histograms[key] = Histogram()
        return found

    def snapshot(
        self,
        *,
        provider: str,
        base_url: str,
        model: str,
        max_parallel: int,
        max_parallel_source: str = "LLM_MAX_PARALLEL",
        context_window: int = 0,
        context_source: str = "LLM_CONTEXT_WINDOW",
        tokenizer: str = "estimate",
    ) -> LLMStatistics:
        histograms = tuple(h.snapshot(*key) for key, h in sorted(self.histograms.items()))
        return LLMStatistics(
            provider=provider,
            base_url=base_url,
            model=model,
            max_parallel=max_parallel,
            answered_by=self.answered_by.get(model),
            histograms=histograms,
            max_parallel_source=max_parallel_source,
            context_window=context_window,
            context_source=context_source,
            tokenizer=tokenizer,
            in_flight=self.in_flight,
            queued=self.queued,
            max_in_flight=self.max_in_flight,
            started=self.started,
            completed=self.completed,
            cut=self.cut,
            failed=self.failed,
            cancelled=self.cancelled,
            retries=self.retries,
            completion_tokens=self.completion_tokens,
            last_error=self.last_error,
            time_to_first_token=self.first_token.snapshot(),
            total=self.total.snapshot(),
        )
