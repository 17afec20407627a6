"""Journal segments: one write and one fsync per batch, torn tails, damage, faults."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from tauro.actors.memory._journal import (
    Journal,
    delete_segments_below,
    list_segments,
    scan_segment,
    scan_voids,
    segment_path,
)
from tauro.actors.memory._records import (
    ClearRecord,
    MessageRecord,
    VoidRecord,
    encode_fragment,
    encode_record,
)
from tauro.errors import CorruptMemoryFileError, PersistenceError


def message(seq: int) -> MessageRecord:
    return MessageRecord(seq, "123", encode_fragment("user", f"message {seq}", "t"))


def batch(*seqs: int) -> bytes:
    return b"".join(encode_record(message(seq)) for seq in seqs)


@pytest.fixture
def memory_file(tmp_path: Path) -> Path:
    return tmp_path / "conversations.json"


def test_append_counts_one_fsync_per_batch_and_files_are_private(memory_file: Path) -> None:
    journal = Journal(memory_file, durable=True)
    assert journal.open(0) == 1  # the directory entry
    result = journal.append(batch(1, 2, 3, 4, 5))
    assert result.fsyncs == 1
    assert result.bytes_written == len(batch(1, 2, 3, 4, 5))
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    journal.close()
    assert [r.seq for r in scan_segment(memory_file, 0).records] == [1, 2, 3, 4, 5]


def test_no_fsyncs_without_durability(memory_file: Path) -> None:
    journal = Journal(memory_file, durable=False)
    assert journal.open(0) == 0
    assert journal.append(batch(1)).fsyncs == 0


def test_rotate_and_cleanup_of_segments(memory_file: Path) -> None:
    journal = Journal(memory_file, durable=True)
    journal.open(3)
    journal.append(batch(1))
    journal.rotate()
    journal.append(batch(2))
    assert list_segments(memory_file) == [3, 4]
    assert delete_segments_below(memory_file, 4) == 1
    assert list_segments(memory_file) == [4]


def test_open_skips_a_segment_left_by_a_failed_rotation(memory_file: Path) -> None:
    segment_path(memory_file, 1).write_bytes(b"")
    journal = Journal(memory_file, durable=True)
    journal.open(1)
    assert journal.number == 2


def test_remove_if_empty(memory_file: Path) -> None:
    journal = Journal(memory_file, durable=True)
    journal.open(0)
    journal.remove_if_empty()
    assert list_segments(memory_file) == []


def test_a_torn_last_record_is_dropped_at_every_byte_offset(memory_file: Path) -> None:
    whole = batch(1, 2, 3)
    last_start = len(batch(1, 2))
    for cut in range(last_start, len(whole)):
        segment_path(memory_file, 0).write_bytes(whole[:cut])
        scan = scan_segment(memory_file, 0)
        assert [r.seq for r in scan.records] == [1, 2], cut
        assert scan.torn_bytes == cut - last_start


def test_garbage_after_the_last_good_record_is_a_torn_tail(memory_file: Path) -> None:
    segment_path(memory_file, 0).write_bytes(batch(1) + b"\0" * 300 + b"\n" + b"\0" * 5)
    scan = scan_segment(memory_file, 0)
    assert [r.seq for r in scan.records] == [1]
    assert scan.torn_bytes == 306


def test_damage_before_a_good_record_is_never_skipped(memory_file: Path) -> None:
    data = bytearray(batch(1, 2, 3))
    middle = len(batch(1)) + 15
    data[middle] ^= 0x20
    segment_path(memory_file, 0).write_bytes(bytes(data))
    with pytest.raises(CorruptMemoryFileError) as raised:
        scan_segment(memory_file, 0)
    assert str(segment_path(memory_file, 0)) in str(raised.value)
    assert "line 2" in str(raised.value)
    assert f"(byte {len(batch(1))})" in str(raised.value)  # where the damaged record starts
    assert f"(from byte {len(batch(1, 2))})" in str(raised.value)  # where good ones resume
    assert "move it aside" in str(raised.value)


def test_void_records_are_found_without_decoding_everything(memory_file: Path) -> None:
    data = batch(1, 2) + encode_record(VoidRecord(5, 3, 4)) + encode_record(ClearRecord(6, "1"))
    segment_path(memory_file, 0).write_bytes(data)
    assert scan_voids(memory_file, 0) == [VoidRecord(5, 3, 4)]


def failing_write(monkeypatch: pytest.MonkeyPatch, fd: int, partial: int = 0) -> None:
    """os.write on ``fd`` writes ``partial`` bytes once, then fails with ENOSPC."""
    real_write = os.write
    state = {"partial": partial}

    def write(target: int, data: bytes) -> int:
        if target != fd:
            return real_write(target, data)
        if state["partial"]:
            count, state["partial"] = state["partial"], 0
            return real_write(target, bytes(data)[:count])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_cuts_the_segment_back_and_names_the_file(
    memory_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(memory_file, durable=True)
    journal.open(0)
    journal.append(batch(1))
    failing_write(monkeypatch, journal._fd or -1, partial=10)
    with pytest.raises(PersistenceError) as raised:
        journal.append(batch(2, 3))
    assert "disk is full" in str(raised.value)
    assert str(journal.path) in str(raised.value)
    monkeypatch.undo()
    assert journal.path.stat().st_size == len(batch(1))  # the partial write is gone
    assert not journal.suspect
    journal.append(batch(4))  # space is back: the same segment goes on
    assert [r.seq for r in scan_segment(memory_file, 0).records] == [1, 4]


def test_a_failed_fsync_is_never_trusted_again(
    memory_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(memory_file, durable=True)
    journal.open(0)
    journal.append(batch(1))

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(PersistenceError) as raised:
        journal.append(batch(2))
    assert "I/O error" in str(raised.value)
    assert journal.suspect
    monkeypatch.undo()
    journal.append(batch(3))
    assert journal.number == 1  # a fresh segment, not the suspect file descriptor
    assert [r.seq for r in scan_segment(memory_file, 1).records] == [3]
