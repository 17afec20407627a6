"""The append-only journal beside the memory file: numbered segments of records.

``conversations.json.journal.000007`` holds the changes made after the snapshot
that names segment 7 as its first one to replay. A snapshot starts a fresh
segment and, once it is safely in place, the segments it covers are deleted;
recovery is the snapshot plus every later segment, in order.

Every method of ``Journal`` runs in the one writer thread (never on the event
loop); ``append`` is one ``write`` and one ``fdatasync`` per batch.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tauro.actors.memory._records import VOID_MARK, Record, VoidRecord, decode_line
from tauro.errors import CorruptMemoryFileError, MemoryStoreError, PersistenceError

__all__ = [
    "AppendResult",
    "Journal",
    "SegmentScan",
    "delete_segments_below",
    "fsync_directory",
    "list_segments",
    "lock_memory_file",
    "scan_segment",
    "scan_voids",
    "segment_path",
]

logger = logging.getLogger("tauro.memory")

_SEGMENT_DIGITS = 6


def segment_path(memory_file: Path, number: int) -> Path:
    return memory_file.with_name(f"{memory_file.name}.journal.{number:0{_SEGMENT_DIGITS}d}")


def list_segments(memory_file: Path) -> list[int]:
    """Numbers of the journal segments that exist, ascending."""
    pattern = re.compile(re.escape(memory_file.name) + r"\.journal\.(\d+)")
    directory = memory_file.parent
    names = os.listdir(directory) if directory.is_dir() else []
    return sorted(int(m.group(1)) for name in names if (m := pattern.fullmatch(name)))


def delete_segments_below(memory_file: Path, number: int) -> int:
    """Delete the segments a snapshot made obsolete; returns how many went."""
    removed = 0
    for old in list_segments(memory_file):
        if old < number:
            segment_path(memory_file, old).unlink(missing_ok=True)
            removed += 1
    return removed


def lock_memory_file(memory_file: Path) -> int:
    """Hold an exclusive lock on ``<file>.lock`` for as long as the descriptor is open.

    Two writers of one journal would each number segments and replace the
    snapshot without knowing of the other; the lock turns that into a clear
    error at start. The kernel drops it when the process dies, even by SIGKILL.
    """
    path = memory_file.with_name(memory_file.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MemoryStoreError(
            str(memory_file),
            "is in use by another TauroBot process; stop that one first, or give each "
            "its own MEMORY_FILE",
        ) from None
    return fd


def fsync_directory(directory: Path) -> None:
    """Make a create, rename or unlink in ``directory`` survive a power loss."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class AppendResult:
    bytes_written: int
    fsyncs: int


class Journal:
    """The open segment being appended to.

    After a failed fsync the segment is *suspect*: the kernel may have dropped
    the pages it could not write and will not report it again, so the next
    append starts a fresh segment instead of trusting that file descriptor.
    """

    def __init__(self, memory_file: Path, *, durable: bool) -> None:
        self.memory_file = memory_file
        self.durable = durable
        self.number = -1
        self.size = 0
        self.suspect = False
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return segment_path(self.memory_file, self.number)

    def open(self, number: int) -> int:
        """Create segment ``number`` or the first free one after it; returns fsyncs made."""
        path = segment_path(self.memory_file, number)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        try:
            while True:
                try:
                    fd = os.open(path, flags, 0o600)
                    break
                except FileExistsError:
                    number += 1  # left by a rotation that failed half way
                    path = segment_path(self.memory_file, number)
            self._sync_new(fd, path)
        except OSError as exc:
            raise _persistence_error(path, "cannot create the journal segment", exc) from exc
        self.close()
        self._fd, self.number, self.size, self.suspect = fd, number, 0, False
        return 1 if self.durable else 0

    def _sync_new(self, fd: int, path: Path) -> None:
        if not self.durable:
            return
        try:
            fsync_directory(self.memory_file.parent)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise

    def rotate(self) -> int:
        """Start the next segment; returns fsyncs made."""
        return self.open(self.number + 1)

    def append(self, data: bytes, *, sync: bool = True) -> AppendResult:
        """Write ``data`` and make it durable, or raise ``PersistenceError``.

        On failure the segment is cut back to its last good length, so a later
        batch never lands behind a torn one. ``sync=False`` only writes (the
        data survives a crash of the process; the next fsync covers it).
        """
        fsyncs = self.rotate() if self.suspect or self._fd is None else 0
        fd = self._fd
        assert fd is not None
        try:
            _write_all(fd, data)
        except OSError as exc:
            self._cut_back(fd)
            raise _persistence_error(self.path, "cannot append to the journal", exc) from exc
        if self.durable and sync:
            try:
                os.fdatasync(fd)
            except OSError as exc:
                self.suspect = True
                self._cut_back(fd)
                raise _persistence_error(self.path, "fsync of the journal failed", exc) from exc
            fsyncs += 1
        self.size += len(data)
        return AppendResult(len(data), fsyncs)

    def _cut_back(self, fd: int) -> None:
        try:
            os.ftruncate(fd, self.size)
        except OSError:
            self.suspect = True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove_if_empty(self) -> None:
        """Close, and delete the segment if nothing was ever written to it."""
        self.close()
        if self.number >= 0 and self.size == 0 and not self.suspect:
            self.path.unlink(missing_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "write returned no progress")
        view = view[written:]


def _persistence_error(path: Path, what: str, exc: OSError) -> PersistenceError:
    hint = {
        errno.ENOSPC: "the disk is full: free some space; writing resumes by itself",
        errno.EDQUOT: "the disk quota is exceeded: free some space",
        errno.EIO: "the disk reported an I/O error: check the disk (dmesg)",
        errno.EROFS: "the filesystem is read-only: remount it read-write",
        errno.EACCES: "permission denied: fix the directory's owner or mode",
    }.get(exc.errno or 0, "check the disk and the directory's permissions")
    reason = exc.strerror or str(exc)
    return PersistenceError(str(path), f"{what} ({reason}); {hint}")


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """The records of one segment and how many bytes of torn tail followed them."""

    number: int
    records: list[Record]
    torn_bytes: int


def scan_segment(memory_file: Path, number: int) -> SegmentScan:
    """Read one segment; a damaged tail is dropped, damage before a good record is not.

    A crash can only tear what was written last (never acknowledged), so bad
    bytes after the last good record are dropped. Bad bytes *followed* by a good
    record mean the file was damaged after it was written: that is never
    skipped silently, it raises ``CorruptMemoryFileError``.
    """
    path = segment_path(memory_file, number)
    data = path.read_bytes()
    records: list[Record] = []
    damaged_at: int | None = None
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        complete = end >= 0
        end = end if complete else len(data)
        record = decode_line(data[position:end]) if complete else None
        if record is None:
            damaged_at = position if damaged_at is None else damaged_at
        elif damaged_at is not None:
            raise _corrupt(path, data, damaged_at, position)
        else:
            records.append(record)
        position = end + 1
    torn = 0 if damaged_at is None else len(data) - damaged_at
    return SegmentScan(number, records, torn)


def scan_voids(memory_file: Path, number: int) -> list[VoidRecord]:
    """The void records of a segment, found without decoding the others."""
    data = segment_path(memory_file, number).read_bytes()
    if VOID_MARK not in data:
        return []
    voids = []
    for line in data.split(b"\n"):
        if VOID_MARK in line and isinstance(record := decode_line(line), VoidRecord):
            voids.append(record)
    return voids


def _corrupt(path: Path, data: bytes, bad: int, good: int) -> CorruptMemoryFileError:
    line = data.count(b"\n", 0, bad) + 1
    return CorruptMemoryFileError(
        str(path),
        f"journal record on line {line} (byte {bad}) is damaged but valid records follow "
        f"(from byte {good}); nothing was changed. Restore the file from a backup, or move "
        "it aside to start without the changes it holds from that line on.",
    )
