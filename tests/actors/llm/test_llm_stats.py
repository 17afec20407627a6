"""Latency windows and the outcome counters."""

from __future__ import annotations

from tauro.actors.llm import GenerationResult
from tauro.actors.llm._stats import LatencyWindow, StatsRecorder, percentile
from tauro.errors import LLMResponseError

ERROR = LLMResponseError("boom at http://x", user_message="sorry")


def test_nearest_rank_percentiles() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 95) == 95.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) == 0.0


def test_the_window_keeps_only_recent_samples() -> None:
    window = LatencyWindow(size=3)
    for value in (100.0, 1.0, 2.0, 3.0):
        window.add(value)
    snapshot = window.snapshot()
    assert (snapshot.count, snapshot.p50, snapshot.max) == (3, 2.0, 3.0)


def test_empty_window_is_all_zero() -> None:
    snapshot = LatencyWindow().snapshot()
    assert (snapshot.count, snapshot.p50, snapshot.p99, snapshot.max) == (0, 0.0, 0.0, 0.0)


def result(**fields: object) -> GenerationResult:
    values: dict[str, object] = {"text": "", "complete": False, "error": None, "model": "m"}
    values.update(fields)
    return GenerationResult(**values)  # type: ignore[arg-type]


def test_outcomes_are_counted_by_how_they_ended() -> None:
    stats = StatsRecorder()
    stats.record(result(text="ok", complete=True, duration=2.0, time_to_first_token=0.5))
    stats.record(result(text="par", error=ERROR, time_to_first_token=0.7, completion_tokens=3))
    stats.record(result(error=ERROR))
    stats.record(result(text="x"))  # closed by the caller
    snap = stats.snapshot(provider="ollama", base_url="http://x", model="m", max_parallel=2)
    assert (snap.completed, snap.cut, snap.failed, snap.cancelled) == (1, 1, 1, 1)
    assert snap.total.count == 1
    assert snap.time_to_first_token.count == 2
    assert snap.completion_tokens == 3
    assert snap.last_error == "boom at http://x"


def test_max_in_flight_is_a_high_water_mark() -> None:
    stats = StatsRecorder()
    stats.enter()
    stats.enter()
    stats.in_flight -= 2
    stats.enter()
    assert (stats.in_flight, stats.max_in_flight) == (1, 2)
