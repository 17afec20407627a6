"""The parallelism rule: a fixed number, the server's word, or an adaptive limit."""

from __future__ import annotations

import logging

import pytest

from tauro.actors.llm._parallel import AUTO_MAX, PROBE_ROUNDS, ParallelLimit, Sample


def fast(limit: ParallelLimit) -> Sample:
    """An answer sent at full load that started as fast as ever."""
    return Sample(first_token=0.1, in_flight=limit.value, limit=limit.value)


def slow(limit: ParallelLimit) -> Sample:
    """An answer that waited for a server slot."""
    return Sample(first_token=2.0, in_flight=limit.value, limit=limit.value)


def feed(limit: ParallelLimit, count: int, answer: object = fast) -> None:
    for _ in range(count):
        limit.observe(answer(limit))  # type: ignore[operator]


def one_round(limit: ParallelLimit, answer: object = fast) -> None:
    """As many answers as the limit (at least 3), all sent under the current limit."""
    value = limit.value
    for _ in range(max(value, 3)):
        limit.observe(Sample(first_token=0.1 if answer is fast else 2.0, in_flight=value,
                             limit=value))  # fmt: skip


def grow_to(limit: ParallelLimit, target: int) -> None:
    while limit.value < target:
        limit.observe(fast(limit))


def test_a_number_fixes_the_limit_whatever_happens() -> None:
    limit = ParallelLimit(3)
    limit.use_server_slots(8, "llama.cpp /props total_slots")
    limit.observe(Sample(first_token=None, in_flight=3, interrupted=True))
    feed(limit, 30)
    assert (limit.value, limit.source) == (3, "LLM_MAX_PARALLEL")


def test_auto_takes_the_servers_slots() -> None:
    limit = ParallelLimit("auto")
    assert limit.value == 1
    limit.use_server_slots(1, "llama-cpp-python")
    feed(limit, 30)
    assert (limit.value, limit.source) == (1, "llama-cpp-python")


def test_a_server_that_queues_gets_one_more_to_wait_there() -> None:
    limit = ParallelLimit("auto")
    limit.use_server_slots(8, "llama.cpp /props total_slots", queues=True)
    feed(limit, 30)
    assert limit.value == 9
    assert limit.source == "llama.cpp /props total_slots = 8, +1 waiting at the server"


def test_slow_start_adds_one_per_fast_answer_at_full_load() -> None:
    limit = ParallelLimit("auto")
    feed(limit, 15)
    assert limit.value == 16
    assert limit.source == "adaptive"


def test_no_rise_when_the_limit_is_not_used() -> None:
    limit = ParallelLimit("auto")
    for _ in range(30):
        limit.observe(Sample(first_token=0.1, in_flight=1, limit=4))  # 1 of 4 used
    assert limit.value == 1


def test_a_slow_round_lowers_by_a_quarter_then_probes_rarely() -> None:
    limit = ParallelLimit("auto")
    grow_to(limit, 8)
    one_round(limit, slow)
    assert limit.value < 8
    assert "first token slowed down" in limit.source
    lowered = limit.value
    feed(limit, 16, slow)  # queued behind the old limit: skipped
    assert limit.value == lowered
    for _ in range(PROBE_ROUNDS - 1):
        one_round(limit)
    assert limit.value == lowered  # no known-good level above: one more per PROBE_ROUNDS
    one_round(limit)
    assert limit.value == lowered + 1


def test_after_timeouts_it_climbs_back_a_step_per_round_below_the_level_that_failed() -> None:
    limit = ParallelLimit("auto")
    grow_to(limit, 16)
    limit._slow_start = False
    one_round(limit)  # 16 went well
    assert limit.value == 16
    for _ in range(3):
        before = limit.value
        limit.observe(Sample(first_token=None, in_flight=limit.value, timed_out=True))
    assert limit.value == 6  # 16, 12, 9, 6: the last level that failed was 9
    feed(limit, before, slow)  # settling: queued behind the old limit
    for expected in (7, 8):
        one_round(limit)
        assert limit.value == expected
    for _ in range(PROBE_ROUNDS - 1):
        one_round(limit)
    assert limit.value == 8  # from the highest level not known to fail, only probes


def test_when_fewer_answers_do_not_help_the_slowness_is_the_new_normal() -> None:
    limit = ParallelLimit("auto")
    grow_to(limit, 16)
    one_round(limit, slow)
    lowered = limit.value
    assert lowered < 16
    feed(limit, 32, slow)  # settling
    one_round(limit, slow)  # as slow with fewer: the machine, not the load
    assert limit.value == lowered
    for _ in range(PROBE_ROUNDS):
        one_round(limit, slow)  # the new baseline: good rounds
    assert limit.value == lowered + 1


def test_still_slow_but_faster_after_a_decrease_lowers_again() -> None:
    # 32 sent to a server with 16 hidden slots: lowering to 24 halves the wait, not to 0
    limit = ParallelLimit("auto")
    grow_to(limit, 32)
    one_round(limit, slow)  # first token 2.0 s
    assert limit.value == 24
    feed(limit, 32, slow)  # settling
    for _ in range(24):
        limit.observe(Sample(first_token=1.0, in_flight=24, limit=24))
    assert limit.value == 18  # a second quarter off
    feed(limit, 24, slow)  # settling
    one_round(limit)  # fast again at 18
    assert limit.value == 18


def test_the_baseline_does_not_creep_up_with_slightly_slower_answers() -> None:
    # Each answer 10 ms slower than the last (requests beginning to wait at the
    # server): past 2 * 0.1 + 0.1 s they are slow, whatever the answers before.
    limit = ParallelLimit("auto")
    for index in range(60):
        value = limit.value
        limit.observe(Sample(first_token=0.1 + 0.01 * index, in_flight=value, limit=value))
    assert limit.value <= 21
    assert "slowed down" in limit.source


def test_a_few_slow_answers_in_a_round_are_noise() -> None:
    limit = ParallelLimit("auto")
    grow_to(limit, 8)
    limit._slow_start = False
    value = limit.value
    for index in range(value):
        first = 2.0 if index < 3 else 0.1  # the median is still fast
        limit.observe(Sample(first_token=first, in_flight=value, limit=value))
    assert limit.value >= value


def test_an_interruption_lowers_at_once_and_caps_for_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = ParallelLimit("auto")
    feed(limit, 1)
    assert limit.value == 2
    with caplog.at_level(logging.INFO, logger="tauro.llm"):
        limit.observe(Sample(first_token=0.1, in_flight=2, interrupted=True))
    assert limit.value == 1
    (record,) = [r for r in caplog.records if r.getMessage() == "llm.parallel.changed"]
    assert record.fields["previous"] == 2  # type: ignore[attr-defined]
    assert record.fields["limit"] == 1  # type: ignore[attr-defined]
    assert "interrupted" in limit.source
    feed(limit, 50)
    assert limit.value == 1


def test_a_first_token_timeout_lowers_it() -> None:
    limit = ParallelLimit("auto")
    grow_to(limit, 4)
    limit.observe(Sample(first_token=None, in_flight=4, timed_out=True))
    assert limit.value == 3


def test_answers_sent_before_a_decrease_do_not_count() -> None:
    limit = ParallelLimit("auto")
    grow_to(limit, 8)
    one_round(limit, slow)
    lowered = limit.value
    for _ in range(40):
        limit.observe(Sample(first_token=2.0, in_flight=8, limit=8))  # still ending
    assert limit.value == lowered


def test_adaptive_stops_at_its_maximum() -> None:
    limit = ParallelLimit("auto")
    feed(limit, AUTO_MAX * 3)
    assert limit.value == AUTO_MAX
