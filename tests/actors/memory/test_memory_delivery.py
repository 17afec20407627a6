"""The delivery log: ids written from one thread, read back, merged, rotated, removed."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest
import trio

from tauro.actors.memory import DeliveryLog, DeliveryNote, NoteShown, PendingTurn
from tauro.actors.memory._delivery import (
    decode_note,
    delivery_log_path,
    encode_note,
    list_delivery_logs,
    merge_delivered,
    open_delivery_log,
    read_delivery_logs,
    remove_delivery_logs,
)


def memory_file(tmp_path: Path) -> Path:
    return tmp_path / "conversations.json"


def test_a_note_survives_encoding_and_damage_is_refused() -> None:
    note = DeliveryNote("-1001", 7, 1, 4242)
    line = encode_note(note)
    assert line.endswith(b"\n")
    assert decode_note(line[:-1]) == note
    assert decode_note(line[:-5]) is None  # torn
    assert decode_note(line[:-1].replace(b"4242", b"4243")) is None  # CRC
    assert decode_note(b"") is None


def test_notes_are_written_in_order_and_read_back(tmp_path: Path) -> None:
    log = DeliveryLog(memory_file(tmp_path))
    log.start()
    notes = [DeliveryNote("1", 5, index, 100 + index) for index in range(3)]
    for note in notes:
        log.note(note)
    log.close()
    assert log.written == 3
    assert read_delivery_logs(memory_file(tmp_path)) == notes
    assert os.stat(delivery_log_path(memory_file(tmp_path), 1)).st_mode & 0o777 == 0o600


def test_a_torn_line_costs_only_itself(tmp_path: Path) -> None:
    path = delivery_log_path(memory_file(tmp_path), 1)
    good = DeliveryNote("1", 5, 0, 100)
    path.write_bytes(encode_note(good) + encode_note(DeliveryNote("1", 5, 1, 101))[:-7])
    assert read_delivery_logs(memory_file(tmp_path)) == [good]


def test_an_unreadable_log_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    delivery_log_path(memory_file(tmp_path), 1).mkdir()  # cannot be read as a file
    good = DeliveryNote("1", 5, 0, 100)
    delivery_log_path(memory_file(tmp_path), 2).write_bytes(encode_note(good))
    assert read_delivery_logs(memory_file(tmp_path)) == [good]
    (record,) = [r for r in caplog.records if r.getMessage() == "memory.delivery_log.unreadable"]
    assert record.levelname == "WARNING"
    assert record.fields["file"] == str(delivery_log_path(memory_file(tmp_path), 1))  # type: ignore[attr-defined]


def test_a_failed_write_is_logged_and_the_next_note_starts_a_new_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    log = DeliveryLog(memory_file(tmp_path))
    log.start()
    real_write = os.write
    calls = 0

    def half_then_full(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data[:5]))  # a short write...
        if calls == 2:
            raise OSError(errno.ENOSPC, "No space left on device")  # ...then a full disk
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    log.note(DeliveryNote("1", 5, 0, 100))
    log.note(DeliveryNote("1", 5, 1, 101))
    log.close()
    assert read_delivery_logs(memory_file(tmp_path)) == [DeliveryNote("1", 5, 1, 101)]
    assert "memory.delivery_log.write_failed" in caplog.messages


def test_each_start_takes_a_new_log_and_rotation_moves_on(tmp_path: Path) -> None:
    first = DeliveryLog(memory_file(tmp_path), rotate_bytes=80)
    first.start()
    first.note(DeliveryNote("1", 5, 0, 100))
    assert not first.rotation_due
    first.note(DeliveryNote("1", 5, 1, 101))
    assert first.rotation_due
    assert first.rotate() == 0  # no log before the one just left: nothing to remove yet
    first.note(DeliveryNote("1", 6, 0, 102))
    assert first.rotate() == 1  # the one before the log just left
    first.remove(1)
    first.close()
    second = DeliveryLog(memory_file(tmp_path))
    second.start()
    second.close()
    assert list_delivery_logs(memory_file(tmp_path)) == [2, 3, 4]
    assert read_delivery_logs(memory_file(tmp_path)) == [DeliveryNote("1", 6, 0, 102)]


def test_a_log_in_use_is_never_removed(tmp_path: Path) -> None:
    old = delivery_log_path(memory_file(tmp_path), 1)
    old.write_bytes(encode_note(DeliveryNote("1", 5, 0, 100)))
    log = DeliveryLog(memory_file(tmp_path))
    log.start()
    assert remove_delivery_logs(memory_file(tmp_path)) == 1
    assert list_delivery_logs(memory_file(tmp_path)) == [2]
    fd = os.open(delivery_log_path(memory_file(tmp_path), 2), os.O_RDONLY)
    with pytest.raises(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    log.close()
    assert remove_delivery_logs(memory_file(tmp_path)) == 1
    assert list_delivery_logs(memory_file(tmp_path)) == []


def test_merging_gives_pending_turns_the_ids_only_the_log_knew() -> None:
    pending = [
        PendingTurn("1", 5, "q", None, (), sending=True),  # its first id never reached memory
        PendingTurn("1", 6, "q2", "a2", (200,), sending=True),  # its second one neither
        PendingTurn("2", 7, "q3", "a3", (300, 301)),  # memory knows it all
        PendingTurn("3", 8, "q4", None, (), sending=True),  # cut before Telegram answered
    ]
    notes = [
        DeliveryNote("1", 5, 0, 100),
        DeliveryNote("1", 6, 0, 200),
        DeliveryNote("1", 6, 1, 201),
        DeliveryNote("2", 7, 1, 301),
        DeliveryNote("9", 1, 0, 900),  # a turn that is not pending any more
        DeliveryNote("1", 5, 3, 103),  # a gap: cannot be placed, ignored
    ]
    assert merge_delivered(pending, notes) == [
        NoteShown("1", 5, (100,)),
        NoteShown("1", 6, (200, 201)),
    ]


def test_a_later_note_for_the_same_piece_wins() -> None:
    """A recorded message deleted in the chat was sent anew: the newer id counts."""
    pending = [PendingTurn("1", 5, "q", "a", (100, 101), sending=True)]
    notes = [DeliveryNote("1", 5, 1, 101), DeliveryNote("1", 5, 1, 150)]
    assert merge_delivered(pending, notes) == [NoteShown("1", 5, (100, 150), sending=True)]


async def test_open_delivery_log_without_a_directory_gives_none_and_a_cancel_still_flushes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_delivery_log(tmp_path / "missing" / "conversations.json") as log:
        assert log is None
    assert "memory.delivery_log.unavailable" in caplog.messages
    with trio.CancelScope() as scope:
        async with open_delivery_log(memory_file(tmp_path)) as log:
            assert log is not None
            log.note(DeliveryNote("1", 5, 0, 100))
            scope.cancel()  # a stop: what was queued is still written
            await trio.sleep(1)
    assert read_delivery_logs(memory_file(tmp_path)) == [DeliveryNote("1", 5, 0, 100)]
