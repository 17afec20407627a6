"""Backoff: doubling delays with a cap and jitter, slept by the caller on trio's clock."""

from __future__ import annotations

import math
import random

import pytest
import trio
import trio.testing

from tauro.runtime import Backoff


def test_delays_double_from_the_initial_one_up_to_the_maximum() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0)
    assert [backoff.delay(retry) for retry in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    backoff = Backoff(initial=2.0, maximum=60.0)
    assert [backoff.delay(n) for n in range(8)] == [backoff.ceiling(n) for n in range(8)]


def test_a_long_run_of_retries_stays_at_the_maximum_without_overflowing() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.5)
    assert backoff.ceiling(10_000) == 30.0
    assert 15.0 <= backoff.delay(10_000) <= 30.0
    assert Backoff(initial=1e300, maximum=math.inf).ceiling(10_000) == math.inf


def test_a_zero_initial_delay_retries_at_once() -> None:
    assert [Backoff(initial=0.0, maximum=5.0).delay(n) for n in (0, 1, 5000)] == [0, 0, 0]


def test_jitter_draws_each_delay_between_its_share_below_the_ceiling_and_the_ceiling() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.5)
    rng = random.Random(7)
    for retry in range(6):
        delays = [backoff.delay(retry, rng) for _ in range(200)]
        ceiling = backoff.ceiling(retry)
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4  # spread out, not in step


def test_jitter_comes_from_the_given_random_generator() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=1.0)
    first = [backoff.delay(3, random.Random(42)) for _ in range(3)]
    assert first == [8.0 * (1 - random.Random(42).random())] * 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"initial": -1.0, "maximum": 1.0}, "backoff initial must be seconds >= 0, not -1.0"),
        ({"initial": math.nan, "maximum": 1.0}, "backoff initial"),
        ({"initial": math.inf, "maximum": 1.0}, "backoff initial"),
        ({"initial": 1.0, "maximum": -2.0}, "backoff maximum must be seconds >= 0, not -2.0"),
        ({"initial": 1.0, "maximum": math.nan}, "backoff maximum"),
        ({"initial": 1.0, "maximum": 2.0, "jitter": 1.5}, "jitter must be between 0 and 1"),
        ({"initial": 1.0, "maximum": 2.0, "jitter": -0.1}, "jitter must be between 0 and 1"),
    ],
)
def test_invalid_settings_are_refused_saying_what_is_wrong(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**options)


def test_retries_count_from_zero() -> None:
    with pytest.raises(ValueError, match="retry counts from 0, not -1"):
        Backoff(initial=1.0, maximum=2.0).delay(-1)


async def test_a_retry_loop_sleeps_the_delays_on_trios_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = Backoff(initial=1.0, maximum=4.0)
    attempts: list[float] = []
    for retry in range(5):
        attempts.append(trio.current_time())
        await trio.sleep(backoff.delay(retry))
    assert attempts == [0, 1, 3, 7, 11]  # waits of 1, 2, 4, 4


async def test_a_jittered_retry_loop_never_waits_longer_than_the_ceilings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = Backoff(initial=1.0, maximum=4.0, jitter=0.5)
    for retry in range(5):
        await trio.sleep(backoff.delay(retry))
    ceilings = sum(backoff.ceiling(retry) for retry in range(5))
    assert ceilings / 2 <= trio.current_time() <= ceilings
