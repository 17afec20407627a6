"""The status page's last hour: per-minute samples from the status reports."""

from __future__ import annotations

import trio
import trio.testing

from tauro.actors.web import ActorStatus, LatencySummary, MetricsHistory, StatusReport
from tauro.actors.web._history import sample_every_minute


def _report(completed: int, failed: int = 0, restarts: int = 0, p50: float = 0.25) -> StatusReport:
    return StatusReport(
        uptime_s=1.0,
        actors=(ActorStatus("llm", "running", restarts, 0, 0),),
        llm=LatencySummary(
            first_token={"p50": p50}, counters={"completed": completed, "failed": failed}
        ),
        memory={"errors": 0},
        voice={"failures": 1},
    )


def test_each_sample_is_what_changed_since_the_minute_before() -> None:
    history = MetricsHistory()
    assert history.record(_report(10), at=0.0) is None  # the baseline
    history.record(_report(13, failed=1, restarts=2), at=60.0)
    history.record(_report(13, failed=1, restarts=2), at=120.0)
    first, second = history.samples()
    assert (first.at, first.answers, first.errors, first.restarts) == (60.0, 3, 1, 2)
    assert first.first_token_ms == 250.0
    assert (second.answers, second.errors, second.restarts) == (0, 0, 0)
    assert second.first_token_ms is None  # no answer, no latency to show


def test_a_counter_that_starts_again_from_zero_counts_from_zero() -> None:
    history = MetricsHistory()
    history.record(_report(50), at=0.0)
    sample = history.record(_report(4), at=60.0)  # the LLM actor restarted
    assert sample is not None
    assert sample.answers == 4


def test_only_the_last_hour_is_kept_and_served_as_json() -> None:
    history = MetricsHistory()
    for minute in range(75):
        history.record(_report(minute), at=60.0 * minute)
    samples = history.samples()
    assert len(samples) == 60
    assert samples[-1].at == 60.0 * 74
    body = history.as_json()
    assert body["interval_s"] == 60.0
    assert isinstance(body["minutes"], list)
    assert body["minutes"][-1] == {
        "at": 4440.0,
        "answers": 1,
        "first_token_ms": 250.0,
        "errors": 0,
        "restarts": 0,
    }


async def test_a_sample_is_taken_every_minute(autojump_clock: trio.testing.MockClock) -> None:
    history = MetricsHistory()
    answered = 0

    async def status() -> StatusReport:
        return _report(answered)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: sample_every_minute(history, status, wall_clock=trio.current_time)
        )
        await trio.sleep(59.9)
        assert history.samples() == []
        answered = 7
        await trio.sleep(0.2)
        assert [s.answers for s in history.samples()] == [7]
        await trio.sleep(60 * 3)
        assert [s.answers for s in history.samples()] == [7, 0, 0, 0]
        nursery.cancel_scope.cancel()
