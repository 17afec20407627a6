import itertools

import pytest
import trio
import trio.lowlevel

from tauro.actors.telegram._limits import (
    RateLimit,
    RetryAdvice,
    RetryPolicy,
    SendLimiter,
    retrying,
)
from tauro.config import TelegramSettings
from tauro.runtime import Backoff


async def test_burst_then_steady_rate(autojump_clock: trio.abc.Clock) -> None:
    bucket = RateLimit(rate=1.0, burst=3)
    start = trio.current_time()
    times = []
    for _ in range(6):
        await bucket.acquire()
        times.append(trio.current_time() - start)
    assert times == pytest.approx([0, 0, 0, 1, 2, 3])


async def test_waiters_are_served_in_order(autojump_clock: trio.abc.Clock) -> None:
    bucket = RateLimit(rate=10.0)
    order: list[int] = []

    async def send(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    async with trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(send, i)
            await trio.lowlevel.checkpoint()
    assert order == list(range(20))


async def test_try_acquire_never_waits(autojump_clock: trio.abc.Clock) -> None:
    bucket = RateLimit(rate=1.0, burst=2)
    assert bucket.try_acquire()
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    await trio.sleep(1.0)
    assert bucket.try_acquire()


async def test_pause_holds_back_after_429(autojump_clock: trio.abc.Clock) -> None:
    bucket = RateLimit(rate=100.0, burst=5)
    bucket.pause(7.0)
    start = trio.current_time()
    await bucket.acquire()
    assert trio.current_time() - start == pytest.approx(7.0)


async def test_global_limit_caps_many_chats(autojump_clock: trio.abc.Clock) -> None:
    limiter = SendLimiter(TelegramSettings(global_rate=30.0))
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for chat in range(300):
            nursery.start_soon(limiter.message, chat)
    elapsed = trio.current_time() - start
    # 10 go at once (a third of a second's worth), the other 290 at 95% of 30 per second.
    assert elapsed == pytest.approx(290 / 28.5, abs=0.05)


async def test_group_gets_20_per_minute(autojump_clock: trio.abc.Clock) -> None:
    limiter = SendLimiter(TelegramSettings(group_rate_per_minute=20))
    start = trio.current_time()
    for _ in range(23):
        await limiter.message(-100)
    assert trio.current_time() - start == pytest.approx(60.0, abs=0.05)


async def test_private_chat_gets_one_per_second(autojump_clock: trio.abc.Clock) -> None:
    limiter = SendLimiter(TelegramSettings(per_chat_rate=1.0))
    start = trio.current_time()
    for _ in range(12):
        await limiter.message(42)
    # A burst of 2 (Telegram tolerates 3), then one per second.
    assert trio.current_time() - start == pytest.approx(10.0, abs=0.05)


async def test_optional_edit_skipped_when_chat_is_busy(autojump_clock: trio.abc.Clock) -> None:
    limiter = SendLimiter(TelegramSettings())
    for _ in range(2):
        await limiter.message(42)
    assert not limiter.try_edit(42)
    await trio.sleep(1.0)
    assert limiter.try_edit(42)


async def test_idle_chat_buckets_are_forgotten(autojump_clock: trio.abc.Clock) -> None:
    limiter = SendLimiter(TelegramSettings())
    for chat in range(1024):
        limiter.chat(chat).reserve()
    await trio.sleep(10)
    for chat in range(5000, 6024):
        limiter.chat(chat).reserve()
    # The sweep at the 2048th new chat dropped the first 1024, all idle by then.
    assert set(limiter._chats) == set(range(5000, 6024))


class Transient(Exception):
    pass


class Flood(Exception):
    pass


def classify(error: Exception) -> RetryAdvice | None:
    if isinstance(error, Flood):
        return RetryAdvice("429", wait=5.0)
    if isinstance(error, Transient):
        return RetryAdvice("network")
    return None


async def test_retry_waits_retry_after_then_succeeds(autojump_clock: trio.abc.Clock) -> None:
    failures = [Flood(), Transient()]
    floods: list[float] = []

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    start = trio.current_time()
    policy = RetryPolicy(backoff=Backoff(initial=1.0, maximum=30.0, jitter=0.5))
    result = await retrying(call, classify, policy, method="sendMessage", on_flood=floods.append)
    assert result == "ok"
    assert floods == [5.0]
    # 5 s for the 429, then the second retry backs off 1 to 2 s (jittered).
    assert 6.0 <= trio.current_time() - start <= 7.0


async def test_transient_errors_back_off_from_half_a_second_up_to_30_s_jittered(
    autojump_clock: trio.abc.Clock,
) -> None:
    times: list[float] = []

    async def call() -> str:
        times.append(trio.current_time())
        if len(times) <= 8:
            raise Transient("Bad Gateway")
        return "ok"

    assert await retrying(call, classify, RetryPolicy(max_retries=8), method="getMe") == "ok"
    waits = [later - earlier for earlier, later in itertools.pairwise(times)]
    ceilings = [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert all(c / 2 <= wait <= c for wait, c in zip(waits, ceilings, strict=True)), waits


async def test_retry_gives_up_and_raises_the_last_error(autojump_clock: trio.abc.Clock) -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise Transient("down")

    with pytest.raises(Transient):
        await retrying(call, classify, RetryPolicy(max_retries=3), method="getMe")
    assert calls == 4


async def test_retry_does_not_retry_permanent_errors() -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        await retrying(call, classify, RetryPolicy(), method="sendMessage")
    assert calls == 1
