"""Start-up: snapshot plus journal segments, voids, torn tails, damaged files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tauro.actors.memory import recover
from tauro.actors.memory._journal import segment_path
from tauro.actors.memory._records import (
    ClearRecord,
    MessageRecord,
    Record,
    VoidRecord,
    encode_fragment,
    encode_record,
)
from tauro.actors.memory._snapshot import SnapshotData, backup_path, write_snapshot
from tauro.errors import CorruptMemoryFileError


def fragment(content: str) -> bytes:
    return encode_fragment("user", content, "2025-01-01T00:00:00")


def write_segment(path: Path, number: int, *records: Record) -> None:
    segment_path(path, number).write_bytes(b"".join(encode_record(r) for r in records))


def contents(path: Path, conversation: str = "a") -> list[str]:
    state = recover(path, 1000, repair=False).state
    return [m.content for m in state.context(conversation, 1000)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "conversations.json"


def test_nothing_on_disk_is_an_empty_memory(path: Path) -> None:
    recovery = recover(path, 10, repair=True)
    assert recovery.source == "empty"
    assert recovery.state.messages == 0
    assert recovery.needs_snapshot


def test_the_journal_is_replayed_on_the_snapshot_in_order(path: Path) -> None:
    write_snapshot(path, SnapshotData([("a", [fragment("s")])], {}, seq=4, journal=2), durable=True)
    write_segment(path, 1, MessageRecord(3, "a", fragment("old, covered")))
    write_segment(
        path,
        2,
        MessageRecord(4, "a", fragment("covered by seq")),
        MessageRecord(5, "a", fragment("j1")),
    )
    write_segment(path, 3, MessageRecord(6, "a", fragment("j2")), ClearRecord(7, "b"))
    recovery = recover(path, 1000, repair=False)
    assert [m.content for m in recovery.state.context("a", 10)] == ["s", "j1", "j2"]
    assert (recovery.segments, recovery.replayed, recovery.last_seq) == ([2, 3], 3, 7)
    assert recovery.needs_snapshot


def test_a_snapshot_with_no_journal_needs_no_rewrite(path: Path) -> None:
    write_snapshot(path, SnapshotData([("a", [fragment("s")])], {}, seq=4, journal=2), durable=True)
    recovery = recover(path, 1000, repair=False)
    assert recovery.source == "file"
    assert not recovery.needs_snapshot


def test_voided_records_are_not_resurrected(path: Path) -> None:
    write_segment(
        path,
        0,
        MessageRecord(1, "a", fragment("ok")),
        MessageRecord(2, "a", fragment("failed fsync")),
    )
    write_segment(path, 1, VoidRecord(4, 2, 3), MessageRecord(5, "a", fragment("later")))
    recovery = recover(path, 1000, repair=False)
    assert [m.content for m in recovery.state.context("a", 10)] == ["ok", "later"]
    assert recovery.last_seq == 5


def test_last_seq_covers_voided_numbers_that_never_reached_disk(path: Path) -> None:
    write_segment(path, 0, MessageRecord(1, "a", fragment("ok")), VoidRecord(9, 2, 8))
    assert recover(path, 1000, repair=False).last_seq == 9


def test_a_torn_tail_is_dropped_with_a_log_line(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_segment(path, 0, MessageRecord(1, "a", fragment("kept")))
    with segment_path(path, 0).open("ab") as segment:
        segment.write(encode_record(MessageRecord(2, "a", fragment("torn")))[:-7])
    with caplog.at_level(logging.WARNING, logger="tauro.memory"):
        recovery = recover(path, 1000, repair=False)
    assert [m.content for m in recovery.state.context("a", 10)] == ["kept"]
    assert recovery.torn_bytes > 0
    (record,) = [r for r in caplog.records if r.getMessage() == "memory.journal.torn_tail"]
    assert str(segment_path(path, 0)) in str(record.fields)  # type: ignore[attr-defined]


def test_damage_in_the_middle_of_the_journal_stops_the_start(path: Path) -> None:
    write_segment(
        path,
        0,
        MessageRecord(1, "a", fragment("one")),
        MessageRecord(2, "a", fragment("two")),
        MessageRecord(3, "a", fragment("3")),
    )
    data = bytearray(segment_path(path, 0).read_bytes())
    data[data.index(b"two")] = ord("T")
    segment_path(path, 0).write_bytes(bytes(data))
    with pytest.raises(CorruptMemoryFileError):
        recover(path, 1000, repair=True)
    assert segment_path(path, 0).read_bytes() == bytes(data)  # nothing was changed


def corrupt_main_file(path: Path, with_backup: bool) -> None:
    write_snapshot(path, SnapshotData([("a", [fragment("bak")])], {}, 3, 1), durable=True)
    write_snapshot(path, SnapshotData([("a", [fragment("newer")])], {}, 6, 2), durable=True)
    if not with_backup:
        backup_path(path).unlink()
    path.write_text('{"conversations": {"a": [')  # e.g. the original's torn write
    write_segment(path, 2, MessageRecord(7, "a", fragment("journal")))


def test_a_corrupt_file_is_moved_aside_and_the_backup_used(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt_main_file(path, with_backup=True)
    with caplog.at_level(logging.ERROR, logger="tauro.memory"):
        recovery = recover(path, 1000, repair=True)
    assert recovery.source == "backup"
    assert recovery.moved_aside is not None
    assert recovery.moved_aside.read_text() == '{"conversations": {"a": ['
    assert [m.content for m in recovery.state.context("a", 10)] == ["bak", "journal"]
    assert json.loads(path.read_text()) == json.loads(backup_path(path).read_text())
    (record,) = [r for r in caplog.records if r.getMessage() == "memory.file.corrupt"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["file"] == str(path)
    assert fields["moved_to"] == str(recovery.moved_aside)
    assert "inspect" in fields["action"]
    assert contents(path) == ["bak", "journal"]  # a crash now would recover the same


def test_a_corrupt_file_without_a_backup_starts_empty(path: Path) -> None:
    corrupt_main_file(path, with_backup=False)
    recovery = recover(path, 1000, repair=True)
    assert recovery.source == "empty"
    assert recovery.moved_aside is not None
    assert [m.content for m in recovery.state.context("a", 10)] == ["journal"]


def test_a_corrupt_backup_is_left_alone(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    corrupt_main_file(path, with_backup=True)
    backup_path(path).write_text("garbage")
    with caplog.at_level(logging.ERROR, logger="tauro.memory"):
        recovery = recover(path, 1000, repair=True)
    assert recovery.source == "empty"
    assert backup_path(path).read_text() == "garbage"
    (record,) = [r for r in caplog.records if r.getMessage() == "memory.backup.unusable"]
    assert record.fields["file"] == str(backup_path(path))  # type: ignore[attr-defined]


def test_read_only_recovery_never_moves_anything(path: Path) -> None:
    corrupt_main_file(path, with_backup=True)
    with pytest.raises(CorruptMemoryFileError):
        recover(path, 1000, repair=False)
    assert path.read_text() == '{"conversations": {"a": ['
