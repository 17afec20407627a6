from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
import trio

from tauro.actors.telegram._incoming import Incoming
from tauro.actors.telegram._polling import UpdateTracker, poll_forever
from tauro.errors import InvalidTokenError, PollingConflictError, TelegramError


def test_offset_waits_for_the_oldest_unsettled_update() -> None:
    tracker = UpdateTracker()
    assert tracker.offset() == 0
    for update_id in (10, 11, 12):
        assert tracker.receive(update_id)
    tracker.settle(11)
    tracker.settle(12)
    assert tracker.offset() == 10  # 10 is not recorded yet: confirm nothing
    tracker.settle(10)
    assert tracker.offset() == 13


def test_redelivered_updates_are_recognised() -> None:
    tracker = UpdateTracker()
    assert tracker.receive(10)
    assert tracker.receive(11)
    tracker.settle(11)
    tracker.confirmed(10)
    assert not tracker.receive(10)  # came back: still in progress
    assert not tracker.receive(11)  # came back: done, waiting for 10
    tracker.settle(10)
    tracker.confirmed(tracker.offset())
    assert tracker.offset() == 12
    assert not tracker.receive(9)


def test_resumed_turns_are_skipped_without_moving_the_offset() -> None:
    tracker = UpdateTracker()
    tracker.resume(20)
    assert tracker.offset() == 0  # an update below 20 may still be unrecorded
    assert tracker.receive(19)
    assert not tracker.receive(20)
    assert tracker.offset() == 19
    tracker.settle(19)
    assert tracker.offset() == 21


@dataclass
class FakeSource:
    """Plays Telegram: keeps updates until an offset confirms them."""

    updates: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    errors: list[TelegramError] = field(default_factory=list)
    polls: int = 0
    times: list[float] = field(default_factory=list)  # of each poll, on trio's clock

    async def get_updates(self, offset: int, timeout: float, limit: int = 100) -> list[Incoming]:
        self.polls += 1
        self.times.append(trio.current_time())
        self.offsets.append(offset)
        if self.errors:
            raise self.errors.pop(0)
        self.updates = [u for u in self.updates if u >= offset]
        if not self.updates:
            await trio.sleep(timeout)
        return [Incoming(u, chat_id=1) for u in self.updates[:limit]]


async def test_poller_hands_over_each_update_once_and_confirms_settled_ones(
    autojump_clock: trio.abc.Clock,
) -> None:
    source = FakeSource(updates=[1, 2, 3])
    tracker = UpdateTracker()
    handed: list[int] = []

    async def on_update(update: Incoming) -> None:
        handed.append(update.update_id)
        if update.update_id != 2:
            tracker.settle(update.update_id)

    with trio.move_on_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: poll_forever(source, tracker, on_update, timeout=30))
            await trio.sleep(3)
            assert source.offsets[-1] == 2  # 2 is unsettled: 2 and 3 keep coming back
            polls = source.polls
            await trio.sleep(3)
            assert source.polls - polls <= 4  # about one poll a second, not a busy loop
            tracker.settle(2)
            await trio.sleep(1)
            assert source.offsets[-1] == 4
            nursery.cancel_scope.cancel()
    assert handed == [1, 2, 3]


async def test_poller_survives_outages_and_stops_on_fatal_errors(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeSource(
        updates=[5],
        errors=[TelegramError("getUpdates failed: Bad Gateway")] * 3
        + [PollingConflictError("409 Conflict from getUpdates")],
    )
    with pytest.raises(PollingConflictError):
        await poll_forever(source, UpdateTracker(), _noop, timeout=30)
    assert source.polls == 4
    assert "telegram.polling.failed" in caplog.messages
    assert "telegram.polling.fatal" in caplog.messages
    source = FakeSource(errors=[InvalidTokenError("refused")])
    with pytest.raises(InvalidTokenError):
        await poll_forever(source, UpdateTracker(), _noop, timeout=30)


async def test_poller_pauses_twice_as_long_after_each_failure_up_to_a_minute(
    autojump_clock: trio.abc.Clock,
) -> None:
    outage = [TelegramError("getUpdates failed: Bad Gateway")] * 7
    source = FakeSource(errors=[*outage, PollingConflictError("409 Conflict from getUpdates")])
    with pytest.raises(PollingConflictError):
        await poll_forever(source, UpdateTracker(), _noop, timeout=30)
    pauses = [later - earlier for earlier, later in itertools.pairwise(source.times)]
    assert pauses == [2, 4, 8, 16, 32, 60, 60]


async def _noop(update: Incoming) -> None:
    return None
