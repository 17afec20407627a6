"""The per-client backoff after wrong secrets, on trio's mock clock."""

from __future__ import annotations

import trio
import trio.testing

from tauro.actors.web import LoginThrottle


async def test_three_free_tries_then_waits_that_double_up_to_the_cap(
    mock_clock: trio.testing.MockClock,
) -> None:
    throttle = LoginThrottle(free_failures=3, first_delay=1.0, max_delay=8.0)
    assert [throttle.failed("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.retry_after("10.0.0.1") == 0.0
    waits = []
    for _ in range(6):
        waits.append(throttle.failed("10.0.0.1"))
        assert throttle.retry_after("10.0.0.1") == waits[-1]
        mock_clock.jump(waits[-1])
        assert throttle.retry_after("10.0.0.1") == 0.0
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_clients_are_counted_apart_and_a_right_secret_clears(
    mock_clock: trio.testing.MockClock,
) -> None:
    throttle = LoginThrottle(free_failures=0, first_delay=5.0)
    throttle.failed("guesser")
    assert throttle.retry_after("guesser") == 5.0
    assert throttle.retry_after("owner") == 0.0  # someone else is not held up
    mock_clock.jump(5.0)
    throttle.succeeded("guesser")
    assert throttle.failed("guesser") == 5.0  # counting starts again


async def test_quiet_clients_are_forgotten_and_the_table_is_bounded(
    mock_clock: trio.testing.MockClock,
) -> None:
    throttle = LoginThrottle(free_failures=1, forget_after=60.0, max_clients=3)
    for n in range(5):
        throttle.failed(f"10.0.0.{n}")
    assert len(throttle) == 3  # the oldest went first
    mock_clock.jump(61.0)
    assert throttle.retry_after("10.0.0.4") == 0.0
    assert len(throttle) == 0
    assert throttle.failed("10.0.0.4") == 0.0  # a fresh start: the first try is free again


async def test_a_siege_of_wrong_secrets_keeps_waiting_the_cap(
    mock_clock: trio.testing.MockClock,
) -> None:
    throttle = LoginThrottle(free_failures=3, first_delay=1.0, max_delay=300.0)
    for _ in range(2000):  # one every 5 minutes for a week: the count never overflows
        wait = throttle.failed("guesser")
        mock_clock.jump(wait)
    assert wait == 300.0
    assert throttle.failed("guesser") == 300.0
    assert throttle.retry_after("guesser") == 300.0  # still held, not forgotten
