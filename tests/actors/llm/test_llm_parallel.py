"""The parallelism rule: a fixed number, the server's word, or an adaptive limit."""

from __future__ import annotations

from tauro.actors.llm._parallel import AUTO_MAX, MIN_ROUND, PROBE_ROUNDS, ParallelLimit, Sample


def fast(limit: ParallelLimit) -> Sample:
    """An answer sent at full load that started as fast as ever."""
    return Sample(first_token=0.1, in_flight=limit.value, limit=limit.value)


def slow(limit: ParallelLimit) -> Sample:
    """An answer that waited for a server slot."""
    return Sample(first_token=2.0, in_flight=limit.value, limit=limit.value)


def rounds(limit: ParallelLimit, count: int, answer: object = fast) -> None:
    for _ in range(count):
        for _ in range(max(limit.value, MIN_ROUND)):
            limit.observe(answer(limit))  # type: ignore[operator]


def test_a_number_fixes_the_limit_whatever_happens() -> None:
    limit = ParallelLimit(3)
    limit.use_server_slots(8, "llama.cpp /props total_slots")
    limit.observe(Sample(first_token=None, in_flight=3, interrupted=True))
    rounds(limit, 5)
    assert (limit.value, limit.source) == (3, "LLM_MAX_PARALLEL")


def test_auto_takes_the_servers_slots() -> None:
    limit = ParallelLimit("auto")
    assert limit.value == 1
    limit.use_server_slots(1, "llama-cpp-python")
    rounds(limit, 5)
    assert (limit.value, limit.source) == (1, "llama-cpp-python")


def test_a_server_that_queues_gets_one_more_to_wait_there() -> None:
    limit = ParallelLimit("auto")
    limit.use_server_slots(8, "llama.cpp /props total_slots", queues=True)
    rounds(limit, 5)
    assert limit.value == 9
    assert limit.source == "llama.cpp /props total_slots = 8, +1 waiting at the server"


def test_slow_start_doubles_per_good_round_at_full_load() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 4)
    assert limit.value == 16
    assert limit.source == "adaptive"


def test_no_rise_when_the_limit_is_not_used() -> None:
    limit = ParallelLimit("auto")
    for _ in range(30):
        limit.observe(Sample(first_token=0.1, in_flight=1, limit=4))  # 1 of 4 used
    assert limit.value == 1


def settle(limit: ParallelLimit, count: int) -> None:
    """The answers that queued behind the old limit: slow, and skipped."""
    for _ in range(count):
        limit.observe(slow(limit))


def test_a_slow_round_lowers_by_a_quarter_then_probes_rarely() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 3)
    assert limit.value == 8
    rounds(limit, 1, slow)
    assert limit.value == 6
    assert "first token slowed down" in limit.source
    settle(limit, 8)
    assert limit.value == 6
    rounds(limit, PROBE_ROUNDS - 1)
    assert limit.value == 6  # above the best good level (4): one more per PROBE_ROUNDS
    rounds(limit, 1)
    assert limit.value == 7


def test_after_a_deep_fall_it_climbs_back_a_step_per_round() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 5)
    assert limit.value == 32  # 16 went well
    for expected in (24, 18, 13):
        limit.observe(Sample(first_token=None, in_flight=limit.value, timed_out=True))
        assert limit.value == expected
    settle(limit, 32)
    for expected in (14, 15, 16):
        rounds(limit, 1)
        assert limit.value == expected
    rounds(limit, PROBE_ROUNDS - 1)
    assert limit.value == 16  # from the known-good level on, only probes


def test_when_fewer_answers_do_not_help_the_slowness_is_the_new_normal() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 4)
    assert limit.value == 16
    rounds(limit, 1, slow)
    assert limit.value == 12
    settle(limit, 16)
    rounds(limit, 1, slow)  # as slow with fewer: the machine, not the load
    assert limit.value == 12
    rounds(limit, PROBE_ROUNDS, slow)  # the new baseline: good rounds again
    assert limit.value == 13


def test_a_few_slow_answers_in_a_round_are_noise() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 3)
    assert limit.value == 8
    for index in range(8):
        limit.observe(slow(limit) if index < 3 else fast(limit))  # median still fast
    assert limit.value == 16


def test_an_interruption_lowers_at_once_and_caps_for_good() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 1)
    assert limit.value == 2
    limit.observe(Sample(first_token=0.1, in_flight=2, interrupted=True))
    assert limit.value == 1
    assert "interrupted" in limit.source
    rounds(limit, 50)
    assert limit.value == 1


def test_a_first_token_timeout_lowers_it() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 2)
    limit.observe(Sample(first_token=None, in_flight=4, timed_out=True))
    assert limit.value == 3


def test_adaptive_stops_at_its_maximum() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 20)
    assert limit.value == AUTO_MAX


def test_answers_sent_before_a_decrease_do_not_count() -> None:
    limit = ParallelLimit("auto")
    rounds(limit, 3)
    rounds(limit, 1, slow)
    assert limit.value == 6
    settle(limit, 8)
    for _ in range(20):
        limit.observe(Sample(first_token=2.0, in_flight=8, limit=8))  # still ending
    assert limit.value == 6
