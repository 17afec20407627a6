"""The memory file itself: an atomic, durable snapshot in the original JSON layout.

The original bot reads ``data["conversations"][id]`` as lists of ``{role,
content, timestamp}``; that stays true. We add two top-level keys it ignores:
``preferences`` and ``tauro`` (the last change the snapshot holds, and the first
journal segment it does not).

Writing: unique temp file in the same directory (0600), write, fsync, the
``.bak`` made once, ``os.replace``, fsync the directory. The file on disk is
therefore always either the old snapshot or the new one, never a mix.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from tauro.actors.memory._journal import fsync_directory
from tauro.actors.memory._messages import PreferenceValue
from tauro.actors.memory._pieces import (
    PieceError,
    Turns,
    beside_the_event_loop,
    read_in_pieces,
)
from tauro.actors.memory._records import dumps, fragment_from_dict
from tauro.errors import CorruptMemoryFileError, MemoryStoreError, PersistenceError
from tauro.files import tighten_file

__all__ = [
    "LoadedSnapshot",
    "SnapshotData",
    "SnapshotResult",
    "backup_path",
    "copy_of",
    "move_aside",
    "read_snapshot",
    "sweep_temp_files",
    "write_snapshot",
]

logger = logging.getLogger("tauro.memory")

MARKER_KEY = "tauro"
_FORMAT = 1
_CHUNK = 1 << 20
_SLICE = 2048  # messages joined at once
_SYNC_EVERY = 1 << 20  # bytes of snapshot written between fdatasyncs (see _write_chunks)
Preferences = dict[str, dict[str, PreferenceValue]]


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


@dataclass(frozen=True, slots=True)
class SnapshotData:
    """An immutable copy of the state, taken on the event loop, written by a thread.

    The fragment lists are copies; the fragments are immutable bytes, so the
    copy costs one reference per message and appends may go on meanwhile.
    """

    conversations: list[tuple[str, list[bytes]]]
    preferences: Preferences
    seq: int
    journal: int  # the first journal segment this snapshot does not cover


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    snapshot_bytes: int
    backup_bytes: int  # 0 unless this write made the one-time backup
    fsyncs: int

    @property
    def bytes_written(self) -> int:
        return self.snapshot_bytes + self.backup_bytes

    @property
    def backup_made(self) -> bool:
        return self.backup_bytes > 0


def _chunks(data: SnapshotData, last_updated: str) -> Iterator[bytes]:
    """The file, in pieces of at most ``_SLICE`` messages (short GIL holds)."""
    yield b'{"conversations":{'
    separator = b"\n"
    for conversation, fragments in data.conversations:
        yield separator + dumps(conversation) + b":[\n"
        for start in range(0, len(fragments), _SLICE):
            comma = b",\n" if start else b""
            yield comma + b",\n".join(fragments[start : start + _SLICE])
        yield b"]"
        separator = b",\n"
    marker = {"format": _FORMAT, "seq": data.seq, "journal": data.journal}
    yield b'\n},"preferences":' + dumps(data.preferences)
    yield b',"last_updated":' + dumps(last_updated)
    yield b',"' + MARKER_KEY.encode() + b'":' + dumps(marker) + b"}\n"


def _write_chunks(fd: int, chunks: Iterator[bytes], sync_every: int = 0) -> tuple[int, int]:
    """Write in ~1 MiB pieces (the GIL is released at every write).

    With ``sync_every``, flush each time that many bytes have been written: on
    ext4 a journal fsync waits for the dirty data of other files in the same
    commit, so a snapshot must never pile up hundreds of MB of it. Returns the
    bytes written and the fsyncs made.
    """
    total, pending, size, unsynced, syncs = 0, [], 0, 0, 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= _CHUNK:
            total += _write_all(fd, b"".join(pending))
            unsynced += size
            pending, size = [], 0
            if sync_every and unsynced >= sync_every:
                os.fdatasync(fd)
                unsynced, syncs = 0, syncs + 1
    return total + _write_all(fd, b"".join(pending)), syncs


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _temp_file(path: Path) -> tuple[int, Path]:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return fd, Path(name)


def _write_temp(path: Path, chunks: Iterator[bytes], durable: bool) -> tuple[Path, int, int]:
    """A new private temp file beside ``path``; returns it, its size, fsyncs made."""
    fd, temp = _temp_file(path)
    try:
        written, fsyncs = _write_chunks(fd, chunks, _SYNC_EVERY if durable else 0)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp, written, fsyncs + (1 if durable else 0)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            yield chunk


def _backup_once(path: Path, durable: bool) -> tuple[int, int]:
    """Copy the file we are about to replace to ``.bak``, unless one exists.

    Returns the bytes copied (0: no backup made) and the fsyncs made. The
    backup keeps the state from before TauroBot's first write, which is what a
    user wants back.
    """
    backup = backup_path(path)
    if backup.exists() or not path.exists():
        return 0, 0
    temp, copied, fsyncs = _write_temp(backup, _read_chunks(path), durable)
    os.replace(temp, backup)
    logger.info("memory.backup.made", extra={"fields": {"file": str(backup)}})
    return copied, fsyncs


def write_snapshot(path: Path, data: SnapshotData, *, durable: bool) -> SnapshotResult:
    """Replace the memory file atomically; ``PersistenceError`` leaves the old one intact."""
    last_updated = datetime.now().isoformat()
    try:
        temp, written, fsyncs = _write_temp(path, _chunks(data, last_updated), durable)
        try:
            backup, backup_fsyncs = _backup_once(path, durable)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if durable:
            fsync_directory(path.parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PersistenceError(
            str(path),
            f"cannot write the snapshot ({reason}); the previous file and the journal are "
            "intact and nothing is lost; free disk space or fix permissions, it is retried",
        ) from exc
    return SnapshotResult(written, backup, fsyncs + backup_fsyncs + (1 if durable else 0))


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    conversations: dict[str, list[bytes]]
    preferences: Preferences
    seq: int
    journal: int
    size: int
    turns: Turns | None = None  # None: not noted while reading (see _pieces.Turns)


def read_snapshot(path: Path) -> LoadedSnapshot | None:
    """Load a snapshot (ours or the original bot's); None if there is no file.

    Raises ``CorruptMemoryFileError`` if it is not JSON or not the layout.
    """
    try:
        with path.open("rb") as file, beside_the_event_loop():
            size = os.fstat(file.fileno()).st_size
            try:
                turns: Turns = {}
                conversations, rest = read_in_pieces(_file_chunks(file), turns)  # see _pieces
            except PieceError:
                return _read_whole(path, _read_all(file))
            return dataclasses.replace(_finish(path, conversations, rest, size), turns=turns)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MemoryStoreError(str(path), f"cannot read the memory file ({exc.strerror})") from exc


_READ_CHUNK = 4 << 20  # bytes read at a time by read_snapshot


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(_READ_CHUNK):
        yield chunk


def _read_all(file: BinaryIO) -> bytes:
    file.seek(0)
    return file.read()


def _read_whole(path: Path, raw: bytes) -> LoadedSnapshot:
    """Any valid file, however laid out (and the exact error for a damaged one)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CorruptMemoryFileError(str(path), f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("conversations"), dict):
        raise CorruptMemoryFileError(str(path), 'not the memory layout: no "conversations" object')
    conversations = {}
    for name, messages in data["conversations"].items():
        conversations[name] = _fragments(path, name, messages)
    return _finish(path, conversations, data, len(raw))


def _finish(
    path: Path, conversations: dict[str, list[bytes]], data: dict[str, Any], size: int
) -> LoadedSnapshot:
    preferences = _preferences(path, data.get("preferences", {}))
    seq, journal = _marker(path, data.get(MARKER_KEY))
    return LoadedSnapshot(conversations, preferences, seq, journal, size)


def _fragments(path: Path, name: str, messages: object) -> list[bytes]:
    if not isinstance(messages, list):
        raise CorruptMemoryFileError(str(path), f"conversation {name!r} is not a list")
    fragments = []
    for index, message in enumerate(messages):
        fragment = fragment_from_dict(message)
        if fragment is None:
            raise CorruptMemoryFileError(
                str(path), f"message {index} of conversation {name!r} has no role or content"
            )
        fragments.append(fragment)
    return fragments


def _preferences(path: Path, raw: object) -> Preferences:
    if not isinstance(raw, dict) or not all(
        isinstance(values, dict) and all(isinstance(v, str | bool) for v in values.values())
        for values in raw.values()
    ):
        raise CorruptMemoryFileError(str(path), '"preferences" is not an object of objects')
    return {name: dict(values) for name, values in raw.items()}


def _marker(path: Path, raw: object) -> tuple[int, int]:
    if raw is None:
        return 0, 0
    if isinstance(raw, dict) and type(raw.get("seq")) is int and type(raw.get("journal")) is int:
        return raw["seq"], raw["journal"]
    logger.warning(
        "memory.snapshot.marker_ignored",
        extra={"fields": {"file": str(path), "marker": MARKER_KEY}},
    )
    return 0, 0


def move_aside(path: Path, replacement: Path | None = None) -> Path:
    """Move a damaged file out of the way; it is never overwritten or deleted.

    With ``replacement`` (a complete file in the same directory), the damaged
    file is first linked to its new name and then atomically replaced, so at
    no moment is there no memory file: a crash half way leaves either the
    damaged file (moved aside again at the next start) or the replacement.
    """
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    suffix = 1
    while target.exists():
        suffix += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{suffix}")
    if replacement is None:
        os.rename(path, target)
    else:
        _link_or_copy(path, target)
        os.replace(replacement, path)
    tighten_file(target)  # the damaged file may be the original bot's, readable by all
    fsync_directory(path.parent)
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        temp, _, _ = _write_temp(target, _read_chunks(source), durable=True)
        os.replace(temp, target)


def copy_of(source: Path, beside: Path) -> Path:
    """A durable private copy of ``source`` in a temp file beside ``beside``."""
    temp, _, _ = _write_temp(beside, _read_chunks(source), durable=True)
    return temp


def sweep_temp_files(path: Path) -> list[Path]:
    """Remove temp files left by a crash mid-snapshot (ours and the original's)."""
    pattern = os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")
    stale = [Path(name) for name in glob.glob(pattern)]
    original = path.with_name(path.name + ".tmp")
    stale += [original] if original.exists() else []
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale
