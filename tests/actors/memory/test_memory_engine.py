"""Batching, durability before acknowledgement, faults, snapshots, retention, shutdown."""

from __future__ import annotations

import errno
import gc
import json
import os
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import outcome
import pytest
import trio
import trio.testing

from tauro.actors.memory import (
    Append,
    AppendReceipt,
    BeginTurn,
    Clear,
    DeliveryLog,
    DeliveryNote,
    GetContext,
    GetPreferences,
    GetStats,
    MemoryEngine,
    MemoryStatistics,
    NoteShown,
    PendingTurn,
    PendingTurns,
    SetPreference,
    StoredMessage,
    TurnStart,
    UpdateStatus,
    recover,
)
from tauro.actors.memory import _engine as engine_module
from tauro.actors.memory._delivery import list_delivery_logs
from tauro.actors.memory._journal import list_segments
from tauro.actors.memory._snapshot import write_snapshot
from tauro.actors.memory._store import MemoryState
from tauro.config import MemorySettings
from tauro.errors import (
    CorruptMemoryFileError,
    MemoryStoreError,
    PersistenceError,
    UnsafePathError,
)

BASE = datetime(2025, 11, 5, 19, 52, 21)


def mock_wall_clock() -> datetime:
    """Wall time that follows trio's clock, so MockClock drives retention too."""
    return BASE + timedelta(seconds=trio.current_time())


def make_settings(tmp_path: Path, **overrides: Any) -> MemorySettings:
    return MemorySettings(file=tmp_path / "memory" / "conversations.json", **overrides)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[MemoryEngine]:
    memory = MemoryEngine(make_settings(tmp_path), rewrite_min_bytes=1 << 30)
    await memory.open()
    yield memory
    await memory.close()


def values(outcomes: list[outcome.Outcome[object]]) -> list[object]:
    return [result.unwrap() for result in outcomes]


def turn_starts(outcomes: list[outcome.Outcome[object]]) -> list[TurnStart]:
    starts = [start for start in values(outcomes) if isinstance(start, TurnStart)]
    assert len(starts) == len(outcomes)
    return starts


def stats(memory: MemoryEngine) -> MemoryStatistics:
    return memory.statistics()


def die(memory: MemoryEngine) -> None:
    """What the kernel does to a killed process: close its files, drop its lock."""
    memory._journal.close()
    memory._unlock()


def stored(path: Path, conversation: str = "1") -> list[str]:
    state = recover(path, 1000, repair=False).state
    return [m.content for m in state.context(conversation, 1000)]


async def test_a_batch_is_one_write_and_one_fsync(engine: MemoryEngine) -> None:
    before = stats(engine)
    receipts = values(await engine.process([Append("1", "user", str(n)) for n in range(5)]))
    after = stats(engine)
    assert receipts == [AppendReceipt(n) for n in range(1, 6)]
    assert after.batches - before.batches == 1
    assert after.fsyncs - before.fsyncs == 1
    assert after.journal_appends - before.journal_appends == 5


async def test_a_lone_message_is_committed_at_once(engine: MemoryEngine) -> None:
    (receipt,) = values(await engine.process([Append("1", "user", "alone")]))
    assert isinstance(receipt, AppendReceipt)
    assert stats(engine).batches == 1
    assert stored(engine.path) == ["alone"]  # durable before the reply


async def test_reads_see_the_changes_before_them_in_the_batch(engine: MemoryEngine) -> None:
    results = values(
        await engine.process(
            [
                Append("1", "user", "q", update_id=10),
                GetContext("1", 5),
                UpdateStatus("1", 10),
                PendingTurns(),
                Append("1", "assistant", "a", reply_to=10),
                SetPreference("1", "voice", True),
                UpdateStatus("1", 10),
                GetPreferences("1"),
                GetStats("1"),
            ]
        )
    )
    assert [m.content for m in results[1]] == ["q"]  # type: ignore[attr-defined]
    assert results[2:4] == ["recorded", (PendingTurn("1", 10, "q"),)]
    assert results[6:8] == ["answered", {"voice": True}]
    statistics = results[8]
    assert isinstance(statistics, MemoryStatistics)
    assert (statistics.conversations, statistics.messages, statistics.conversation_messages) == (
        1,
        2,
        2,
    )
    assert statistics.batches == 2  # two runs of changes, split by reads


async def test_begin_turn_records_the_question_then_reads_what_the_turn_needs(
    engine: MemoryEngine,
) -> None:
    values(await engine.process([Append("1", "user", "old"), SetPreference("1", "voice", True)]))
    (start,) = turn_starts(await engine.process([BeginTurn("1", "new", 5, update_id=10)]))
    assert start.status == "new"
    assert [(m.content, m.update_id) for m in start.context] == [("old", None), ("new", 10)]
    assert start.preferences == {"voice": True}
    assert stored(engine.path) == ["old", "new"]  # durable before the reply
    assert values(await engine.process([UpdateStatus("1", 10)])) == ["recorded"]


async def test_begin_turn_without_an_update_id_always_records(engine: MemoryEngine) -> None:
    starts = await engine.process([BeginTurn("web:1", "q", 5), BeginTurn("web:1", "q", 5)])
    assert [start.status for start in turn_starts(starts)] == ["new", "new"]
    assert stored(engine.path, "web:1") == ["q", "q"]


async def test_begin_turn_records_a_question_once(engine: MemoryEngine) -> None:
    """A redelivery, in the same batch or later, is not recorded again."""
    before = stats(engine)
    first, again = turn_starts(
        await engine.process([BeginTurn("1", "q", 5, update_id=3), BeginTurn("1", "q", 5, 3)])
    )
    (later,) = turn_starts(await engine.process([BeginTurn("1", "q", 5, update_id=3)]))
    assert [start.status for start in (first, again, later)] == ["new", "recorded", "recorded"]
    assert again == later == TurnStart("recorded", first.context, {})
    assert stored(engine.path) == ["q"]
    assert stats(engine).journal_appends - before.journal_appends == 1


async def test_begin_turn_for_an_answered_question_reads_nothing(engine: MemoryEngine) -> None:
    values(
        await engine.process(
            [Append("1", "user", "q", update_id=3), Append("1", "assistant", "a", reply_to=3)]
        )
    )
    assert values(await engine.process([BeginTurn("1", "q", 5, update_id=3)])) == [
        TurnStart("answered")
    ]
    assert stored(engine.path) == ["q", "a"]


async def test_begin_turns_of_many_chats_share_one_write(engine: MemoryEngine) -> None:
    before = stats(engine)
    starts = turn_starts(
        await engine.process([BeginTurn(str(chat), "q", 5, update_id=chat) for chat in range(4)])
    )
    assert [start.context for start in starts] == [
        (StoredMessage("user", "q", start.context[0].timestamp, chat),)
        for chat, start in enumerate(starts)
    ]
    assert stats(engine).fsyncs - before.fsyncs == 1


async def test_clear_and_global_stats(engine: MemoryEngine) -> None:
    await engine.process(
        [Append("1", "user", "x"), Append("2", "user", "y"), Append("2", "user", "z")]
    )
    assert stats(engine).average_per_conversation == 1.5
    values(await engine.process([Clear("2")]))
    assert (stats(engine).conversations, stats(engine).messages) == (1, 1)
    assert stored(engine.path, "2") == []


async def test_an_unknown_message_is_an_error_for_its_asker_only(engine: MemoryEngine) -> None:
    results = await engine.process(["hello", Append("1", "user", "x")])  # type: ignore[list-item]
    assert isinstance(results[0], outcome.Error)
    assert isinstance(results[0].error, TypeError)
    assert isinstance(results[1].unwrap(), AppendReceipt)


def fail_journal_writes(monkeypatch: pytest.MonkeyPatch, memory: MemoryEngine) -> None:
    real_write = os.write

    def write(target: int, data: bytes) -> int:
        if ".journal." in os.readlink(f"/proc/self/fd/{target}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(target, data)

    monkeypatch.setattr(os, "write", write)


async def test_a_full_disk_means_no_acknowledgement_and_resumes_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = MemoryEngine(make_settings(tmp_path), rewrite_min_bytes=1 << 30)
    await memory.open()
    values(await memory.process([Append("1", "user", "before")]))
    await memory.snapshot()
    snapshot_before = memory.path.read_bytes()
    fail_journal_writes(monkeypatch, memory)
    results = await memory.process([Append("1", "user", "lost 1"), Append("1", "user", "lost 2")])
    errors = [result.error for result in results if isinstance(result, outcome.Error)]
    assert len(errors) == 2
    assert errors[0] is not errors[1]
    assert all(isinstance(error, PersistenceError) for error in errors)
    assert "disk is full" in str(errors[0])
    assert stats(memory).errors == 1
    assert "disk is full" in (stats(memory).last_error or "")
    assert memory.path.read_bytes() == snapshot_before  # the old snapshot is intact
    assert [m.content for m in memory.state.context("1", 9)] == ["before"]
    monkeypatch.undo()
    values(await memory.process([Append("1", "user", "after")]))
    assert stored(memory.path) == ["before", "after"]
    await memory.close()
    assert stored(memory.path) == ["before", "after"]


async def test_a_turn_whose_question_cannot_be_written_gets_the_error(
    engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_journal_writes(monkeypatch, engine)
    first, again = await engine.process([BeginTurn("1", "q", 5, 3), BeginTurn("1", "q", 5, 3)])
    assert isinstance(first, outcome.Error)
    assert isinstance(first.error, PersistenceError)
    assert isinstance(again, outcome.Error)  # its redelivery tried again, and failed too
    monkeypatch.undo()
    assert values(await engine.process([UpdateStatus("1", 3)])) == ["new"]


async def test_a_failed_fsync_retires_the_segment_and_never_resurrects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = MemoryEngine(make_settings(tmp_path), rewrite_min_bytes=1 << 30)
    await memory.open()
    values(await memory.process([Append("1", "user", "durable")]))

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    (result,) = await memory.process([Append("1", "user", "maybe on disk")])
    assert isinstance(result, outcome.Error)
    assert isinstance(result.error, PersistenceError)
    monkeypatch.undo()
    assert memory._snapshot_wanted.is_set()  # the suspect segment must be retired
    values(await memory.process([Append("1", "user", "next")]))
    # Even before the snapshot, recovery skips the unacknowledged record:
    assert stored(memory.path) == ["durable", "next"]
    assert await memory.snapshot()
    assert stored(memory.path) == ["durable", "next"]
    await memory.close()


async def test_the_journal_is_compacted_when_it_outgrows_the_snapshot(tmp_path: Path) -> None:
    memory = MemoryEngine(make_settings(tmp_path), rewrite_growth=2.0, rewrite_min_bytes=2000)
    await memory.open()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(memory.run)
        for number in range(200):
            values(await memory.process([Append("1", "user", f"message {number}")]))
            await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    statistics = stats(memory)
    assert statistics.snapshots >= 2
    assert len(list_segments(memory.path)) <= 2
    assert stored(memory.path) == [f"message {n}" for n in range(200)]
    await memory.close()
    assert list_segments(memory.path) == []


async def test_a_snapshot_serves_every_request_made_before_it_started(tmp_path: Path) -> None:
    memory = MemoryEngine(make_settings(tmp_path), rewrite_growth=0.0, rewrite_min_bytes=100)
    await memory.open()
    await memory.snapshot()
    for number in range(3):  # each is over the threshold and asks for a snapshot
        values(await memory.process([Append("1", "user", f"message {number}")]))
    assert memory._snapshot_wanted.is_set()
    assert await memory.snapshot()
    assert not memory._snapshot_wanted.is_set()  # no second rewrite of the same state
    await memory.close()


async def test_appends_go_on_while_a_snapshot_is_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = MemoryEngine(make_settings(tmp_path), rewrite_min_bytes=1 << 30)
    await memory.open()
    values(await memory.process([Append("1", "user", f"old {n}") for n in range(5)]))
    started, release = trio.Event(), threading.Event()
    real_write = write_snapshot

    def slow_write(*args: Any, **kwargs: Any) -> Any:
        trio.from_thread.run_sync(started.set)
        release.wait(timeout=30)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(engine_module, "write_snapshot", slow_write)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(memory.snapshot)
        await started.wait()
        for number in range(10):
            values(await memory.process([Append("1", "user", f"new {number}")]))
        assert stats(memory).snapshots == 0  # still being written
        release.set()
    assert stats(memory).snapshots == 1
    expected = [f"old {n}" for n in range(5)] + [f"new {n}" for n in range(10)]
    assert stored(memory.path) == expected
    data = json.loads(memory.path.read_text())
    assert len(data["conversations"]["1"]) == 5  # the snapshot holds what it copied
    await memory.close()
    assert len(json.loads(memory.path.read_text())["conversations"]["1"]) == 15


async def test_close_writes_a_complete_snapshot_and_leaves_no_journal(tmp_path: Path) -> None:
    memory = MemoryEngine(make_settings(tmp_path))
    await memory.open()
    values(await memory.process([Append("1", "user", "a"), SetPreference("1", "lang", "en")]))
    assert await memory.close()
    assert list_segments(memory.path) == []
    data = json.loads(memory.path.read_text())
    assert [m["content"] for m in data["conversations"]["1"]] == ["a"]
    assert data["preferences"] == {"1": {"lang": "en"}}
    results = await memory.process([Append("1", "user", "too late")])
    assert isinstance(results[0], outcome.Error)
    assert isinstance(results[0].error, MemoryStoreError)


async def test_start_removes_stale_temp_files_and_works_without_a_directory_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / ".conversations.json.k2j3h4.tmp"
    stale.write_text("half a snapshot")
    memory = MemoryEngine(MemorySettings(file=Path("conversations.json")))
    with caplog.at_level("INFO", logger="tauro.memory"):
        await memory.open()
    assert not stale.exists()
    assert any(r.getMessage() == "memory.temp.removed" for r in caplog.records)
    values(await memory.process([Append("1", "user", "x")]))
    await memory.close()
    assert json.loads((tmp_path / "conversations.json").read_text())["conversations"]["1"]


async def test_one_memory_file_has_one_writer(tmp_path: Path) -> None:
    first = MemoryEngine(make_settings(tmp_path))
    await first.open()
    second = MemoryEngine(make_settings(tmp_path))
    with pytest.raises(MemoryStoreError) as raised:
        await second.open()
    assert "another TauroBot process" in str(raised.value)
    await first.close()
    await second.open()  # free again once the first has closed
    await second.close()


async def test_a_failed_start_names_the_damage_and_keeps_no_lock(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    memory = MemoryEngine(settings)
    await memory.open()
    values(await memory.process([Append("1", "user", f"m{n}") for n in range(3)]))
    die(memory)
    segment = memory._journal.path
    damaged = segment.read_bytes().replace(b"m1", b"M1")
    segment.write_bytes(damaged)
    with pytest.raises(CorruptMemoryFileError) as raised:
        await MemoryEngine(settings).open()
    assert str(segment) in str(raised.value)
    assert segment.read_bytes() == damaged  # left for the user to inspect
    segment.write_bytes(damaged.replace(b"M1", b"m1"))  # the user restored it
    again = MemoryEngine(settings)
    await again.open()
    assert [m.content for m in again.state.context("1", 5)] == ["m0", "m1", "m2"]
    await again.close()


async def test_a_clean_close_does_not_rewrite_the_file(tmp_path: Path) -> None:
    first = MemoryEngine(make_settings(tmp_path))
    await first.open()
    values(await first.process([Append("1", "user", "a")]))
    await first.close()
    before = first.path.stat().st_mtime_ns
    second = MemoryEngine(make_settings(tmp_path))
    await second.open()
    values(await second.process([GetContext("1", 1)]))
    await second.close()
    assert second.path.stat().st_mtime_ns == before
    assert stats(second).snapshots == 0
    assert list_segments(second.path) == []


async def test_close_is_shielded_from_the_cancellation_of_its_caller(tmp_path: Path) -> None:
    memory = MemoryEngine(make_settings(tmp_path))
    await memory.open()
    values(await memory.process([Append("1", "user", "a")]))
    with trio.CancelScope() as scope:
        scope.cancel()
        await memory.close()
    assert json.loads(memory.path.read_text())["conversations"]["1"][0]["content"] == "a"


async def test_the_final_snapshot_gives_up_at_its_deadline_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    memory = MemoryEngine(make_settings(tmp_path, flush_timeout=2.0))
    await memory.open()
    values(await memory.process([Append("1", "user", "in the journal")]))
    release, finished = threading.Event(), threading.Event()
    real_write = write_snapshot

    def stuck(*args: Any, **kwargs: Any) -> Any:
        release.wait(timeout=30)
        try:
            return real_write(*args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(engine_module, "write_snapshot", stuck)
    assert not await memory.close()
    assert stats(memory).errors == 1
    assert "timed out" in (stats(memory).last_error or "")
    assert stored(memory.path) == ["in the journal"]  # the journal holds it
    release.set()
    await trio.to_thread.run_sync(finished.wait, 30)


async def test_without_durability_there_are_no_fsyncs(tmp_path: Path) -> None:
    memory = MemoryEngine(make_settings(tmp_path, durability="none"))
    await memory.open()
    values(await memory.process([Append("1", "user", "a")]))
    await memory.close()
    assert stats(memory).fsyncs == 0
    assert stored(memory.path) == ["a"]


async def test_retention_drops_idle_conversations(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    settings = make_settings(tmp_path, retention_days=1.0)
    memory = MemoryEngine(settings, wall_clock=mock_wall_clock)
    await memory.open()
    values(await memory.process([Append("old", "user", "x"), SetPreference("old", "voice", True)]))
    mock_clock.jump(12 * 3600)
    values(await memory.process([Append("recent", "user", "y")]))
    mock_clock.jump(12 * 3600 + 1)
    assert await memory.sweep() == 1
    assert list(memory.state.conversations) == ["recent"]
    mock_clock.jump(12 * 3600)
    assert await memory.sweep() == 1
    assert await memory.sweep() == 0
    await memory.close()
    assert recover(memory.path, 10, repair=False).state.preferences == {"old": {"voice": True}}
    assert stored(memory.path, "old") == []
    assert stored(memory.path, "recent") == []


async def test_retention_sweeps_at_start_and_on_schedule(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, retention_days=30.0, retention_check_interval=3600.0)
    memory = MemoryEngine(settings)
    sweeps: list[float] = []

    async def sweep() -> int:
        sweeps.append(trio.current_time())
        return 0

    monkeypatch.setattr(memory, "sweep", sweep)
    start = trio.current_time()
    with trio.move_on_after(3 * 3600 + 10):
        await memory._retention_loop()
    assert [round(t - start) for t in sweeps] == [0, 3600, 7200, 10800]


async def test_zero_retention_days_never_sweeps(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = MemoryEngine(make_settings(tmp_path, retention_days=0.0))

    async def sweep() -> int:
        raise AssertionError("no sweep expected")

    monkeypatch.setattr(memory, "sweep", sweep)
    with trio.move_on_after(365 * 86400):
        await memory._retention_loop()


async def test_year_old_history_of_the_original_bot_is_kept_by_default(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Upgrading never deletes history: retention is off unless an operator sets it."""
    settings = make_settings(tmp_path)
    assert settings.retention_days == 0
    stamp = (datetime.now() - timedelta(days=365)).isoformat()
    old = [{"role": "user", "content": "un anno fa", "timestamp": stamp}]
    settings.file.parent.mkdir(mode=0o700)
    settings.file.write_text(json.dumps({"conversations": {"42": old}, "last_updated": stamp}))
    memory = MemoryEngine(settings)
    await memory.open()
    with trio.move_on_after(7 * 86400):  # a week of running, background work included
        await memory.run()
    (context,) = values(await memory.process([GetContext("42", 10)]))
    await memory.close()
    assert [m.content for m in context] == ["un anno fa"]  # type: ignore[attr-defined]
    assert stored(memory.path, "42") == ["un anno fa"]


async def test_a_sweep_that_deletes_says_so_at_warning(
    tmp_path: Path, mock_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    memory = MemoryEngine(make_settings(tmp_path, retention_days=1.0), wall_clock=mock_wall_clock)
    await memory.open()
    values(await memory.process([Append("a", "user", "x"), Append("b", "user", "y")]))
    mock_clock.jump(86400 + 1)
    with caplog.at_level("WARNING", logger="tauro.memory"):
        assert await memory.sweep() == 2
    await memory.close()
    (record,) = [r for r in caplog.records if r.getMessage() == "memory.retention.dropped"]
    assert record.levelname == "WARNING"
    assert record.fields == {"conversations": 2, "retention_days": 1.0}  # type: ignore[attr-defined]


async def test_the_original_bots_readable_file_is_made_private_at_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.file.parent.mkdir(mode=0o755)
    settings.file.write_text('{"conversations": {"1": []}}')
    settings.file.chmod(0o644)
    memory = MemoryEngine(settings)
    await memory.open()
    await memory.close()
    assert settings.file.stat().st_mode & 0o777 == 0o600
    made = [p for p in settings.file.parent.iterdir() if p.is_file()]
    assert made
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in made)


async def test_a_memory_folder_others_may_write_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.file.parent.mkdir()
    settings.file.parent.chmod(0o777)
    with pytest.raises(UnsafePathError, match="MEMORY_FILE") as caught:
        await MemoryEngine(settings).open()
    assert str(settings.file.parent) in str(caught.value)
    assert list(settings.file.parent.iterdir()) == []


async def test_trimming_survives_restarts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_size=3)
    memory = MemoryEngine(settings)
    await memory.open()
    for number in range(5):
        values(await memory.process([Append("1", "user", str(number))]))
    assert [m.content for m in memory.state.context("1", 10)] == ["2", "3", "4"]
    await memory.close()
    again = MemoryEngine(settings)
    await again.open()
    assert [m.content for m in again.state.context("1", 10)] == ["2", "3", "4"]
    await again.close()


async def test_a_restart_after_a_crash_replays_and_compacts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    crashed = MemoryEngine(settings)
    await crashed.open()
    values(await crashed.process([Append("1", "user", "q", update_id=5)]))
    die(crashed)
    restarted = MemoryEngine(settings)
    recovery = await restarted.open()
    assert recovery.replayed == 1
    assert restarted._snapshot_wanted.is_set()
    values(await restarted.process([Append("1", "user", "more")]))
    assert restarted.state.pending_turns() == (PendingTurn("1", 5, "q"),)
    receipts = [r for r in values(await restarted.process([Append("1", "user", "x")]))]
    assert receipts == [AppendReceipt(3)]  # sequence numbers never go back
    await restarted.close()
    assert stored(restarted.path) == ["q", "more", "x"]


# -- delivery: which messages carry an answer, and whether it was shown ---------------


async def test_an_undelivered_answer_stays_pending_with_the_messages_that_show_it(
    tmp_path: Path,
) -> None:
    memory = MemoryEngine(make_settings(tmp_path, durability="none"))
    await memory.open()
    values(
        await memory.process(
            [
                Append("7", "user", "q", update_id=10),
                NoteShown("7", 10, (), sending=True),
                NoteShown("7", 10, (501,)),
                Append("7", "assistant", "a", reply_to=10, delivered=False),
                NoteShown("7", 10, (501,), sending=True),
                NoteShown("7", 10, (501, 502)),
            ]
        )
    )
    (pending,) = values(await memory.process([PendingTurns()]))
    assert pending == (PendingTurn("7", 10, "q", "a", (501, 502)),)
    die(memory)  # a crash: what the journal holds is what the next start knows
    reopened = MemoryEngine(make_settings(tmp_path, durability="none"))
    await reopened.open()
    assert values(await reopened.process([PendingTurns()])) == [pending]
    values(await reopened.process([NoteShown("7", 10, (501, 502), delivered=True)]))
    assert values(await reopened.process([PendingTurns(), UpdateStatus("7", 10)])) == [
        (),
        "answered",
    ]
    await reopened.close()
    stored = json.loads(make_settings(tmp_path).file.read_text())["conversations"]["7"]
    assert stored[1] == {
        "role": "assistant",
        "content": "a",
        "timestamp": stored[1]["timestamp"],
        "reply_to": 10,
        "delivered": True,
        "message_ids": [501, 502],
    }


async def test_a_send_in_flight_at_a_crash_is_counted_as_a_possible_duplicate(
    tmp_path: Path,
) -> None:
    memory = MemoryEngine(make_settings(tmp_path, durability="none"))
    await memory.open()
    changes: list[Append | NoteShown] = [
        Append("7", "user", "q", update_id=10),
        NoteShown("7", 10, (), sending=True),
    ]
    values(await memory.process(changes))
    die(memory)
    reopened = MemoryEngine(make_settings(tmp_path, durability="none"))
    await reopened.open()
    (pending,) = values(await reopened.process([PendingTurns()]))
    assert pending == (PendingTurn("7", 10, "q", None, (), sending=True),)
    assert stats(reopened).unconfirmed_sends == 1
    await reopened.close()


async def test_shown_notes_are_written_without_an_fsync_of_their_own(
    engine: MemoryEngine,
) -> None:
    values(await engine.process([Append("7", "user", "q", update_id=10)]))
    fsyncs = stats(engine).fsyncs
    values(await engine.process([NoteShown("7", 10, (501,))]))
    assert stats(engine).fsyncs == fsyncs
    assert stats(engine).journal_appends == 2


async def test_a_shown_note_that_cannot_be_written_is_no_error_for_its_sender(
    engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    results = await engine.process([NoteShown("7", 10, (501,)), Append("7", "user", "q")])
    assert results[0] == outcome.Value(None)
    assert isinstance(results[1], outcome.Error)
    assert stats(engine).errors == 1


async def test_ids_only_the_delivery_log_holds_complete_pending_turns_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A crash after Telegram answered but before memory had the id: the delivery
    log has it, so the next start edits that message instead of sending anew."""
    settings = make_settings(tmp_path, durability="none")
    memory = MemoryEngine(settings)
    await memory.open()
    changes: list[Append | NoteShown] = [
        Append("7", "user", "q", update_id=10),
        NoteShown("7", 10, (), sending=True),
        Append("7", "user", "q2", update_id=11),
        NoteShown("7", 11, (), sending=True),
    ]
    values(await memory.process(changes))
    log = DeliveryLog(settings.file)
    log.start()
    log.note(DeliveryNote("7", 10, 0, 501))  # the one memory never heard of
    log.close()
    die(memory)
    reopened = MemoryEngine(settings)
    with caplog.at_level("INFO", logger="tauro.memory"):
        await reopened.open()
    (merged,) = [r for r in caplog.records if r.getMessage() == "memory.delivery_log.merged"]
    assert merged.fields["turns"] == 1  # type: ignore[attr-defined]
    assert values(await reopened.process([PendingTurns()])) == [
        (PendingTurn("7", 10, "q", None, (501,)), PendingTurn("7", 11, "q2", None, (), True))
    ]
    assert stats(reopened).unconfirmed_sends == 1  # only the send nobody heard back from
    assert list_delivery_logs(settings.file) == []  # merged into the journal, then deleted
    die(reopened)
    again = MemoryEngine(settings)
    await again.open()
    (pending,) = values(await again.process([PendingTurns()]))
    assert isinstance(pending, tuple)
    assert pending[0] == PendingTurn("7", 10, "q", None, (501,))
    await again.close()


async def _a_question_whose_answer_id_only_the_log_holds(settings: MemorySettings) -> MemoryEngine:
    """An open engine with question 10 of chat "7" journalled, and message 501 (the
    first piece of its answer) noted in a delivery log only."""
    memory = MemoryEngine(settings)
    await memory.open()
    values(await memory.process([Append("7", "user", "q", update_id=10)]))
    log = DeliveryLog(settings.file)
    log.start()
    log.note(DeliveryNote("7", 10, 0, 501))
    log.close()
    return memory


async def test_delivery_logs_stay_when_their_ids_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, durability="none")
    memory = await _a_question_whose_answer_id_only_the_log_holds(settings)
    die(memory)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    reopened = MemoryEngine(settings)
    await reopened.open()
    assert list_delivery_logs(settings.file) == [1]  # kept for the next start
    monkeypatch.undo()
    await reopened.close()


async def test_a_graceful_stop_takes_the_delivery_log_in_and_leaves_none(tmp_path: Path) -> None:
    """A turn cut by the stop's deadline may have an id only the log holds."""
    settings = make_settings(tmp_path)
    memory = await _a_question_whose_answer_id_only_the_log_holds(settings)
    assert await memory.close()
    assert list_delivery_logs(settings.file) == []
    assert list_segments(settings.file) == []
    (question,) = json.loads(settings.file.read_text())["conversations"]["7"]
    assert question["answer_message_ids"] == [501]


async def test_the_loaded_state_is_kept_from_the_collector_until_close(tmp_path: Path) -> None:
    """Its first collection would walk every loaded message holding the GIL."""
    settings = make_settings(tmp_path)
    memory = MemoryEngine(settings)
    await memory.open()
    values(await memory.process([Append("7", "user", "q", update_id=10)]))
    assert await memory.close()
    reopened = MemoryEngine(settings)
    await reopened.open()
    loaded = reopened.state.conversations["7"]
    assert gc.get_freeze_count() > 0
    assert not any(tracked is loaded for tracked in gc.get_objects())
    assert await reopened.close()
    assert gc.get_freeze_count() == 0
    assert any(tracked is loaded for tracked in gc.get_objects())


async def test_the_pending_turns_of_a_load_are_found_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding them reads every pending turn's messages: long with many."""
    settings = make_settings(tmp_path)
    memory = await _a_question_whose_answer_id_only_the_log_holds(settings)
    die(memory)
    on_the_loop = []
    pending_turns = MemoryState.pending_turns

    def watched(state: MemoryState) -> tuple[PendingTurn, ...]:
        on_the_loop.append(threading.current_thread() is threading.main_thread())
        return pending_turns(state)

    monkeypatch.setattr(MemoryState, "pending_turns", watched)
    reopened = MemoryEngine(settings)
    await reopened.open()
    assert on_the_loop == [False, False]  # the delivery log's merge, then the count
    (turn,) = pending_turns(reopened.state)
    assert turn.message_ids == (501,)
    await reopened.close()
