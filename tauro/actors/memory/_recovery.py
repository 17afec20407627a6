"""Recovery at start: the snapshot, then every journal segment after it, in order.

``recover(..., repair=False)`` only reads (tests and the kill-9 checker use it);
``repair=True`` is what the actor does: a damaged memory file is moved aside and
a copy of a good ``.bak`` put in its place, so a crash right after recovers the
same state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tauro.actors.memory._journal import (
    list_segments,
    scan_segment,
    scan_voids,
    segment_path,
)
from tauro.actors.memory._records import Record, VoidRecord
from tauro.actors.memory._snapshot import (
    LoadedSnapshot,
    backup_path,
    copy_of,
    move_aside,
    read_snapshot,
)
from tauro.actors.memory._store import MemoryState
from tauro.errors import CorruptMemoryFileError

__all__ = ["Recovery", "recover"]

logger = logging.getLogger("tauro.memory")

Source = Literal["file", "backup", "empty"]


@dataclass
class Recovery:
    state: MemoryState
    source: Source
    journal: int  # first segment replayed, from the snapshot's marker
    snapshot_bytes: int
    segments: list[int] = field(default_factory=list)
    replayed: int = 0
    torn_bytes: int = 0
    last_seq: int = 0  # highest sequence number ever used, voided ones included
    moved_aside: Path | None = None

    @property
    def needs_snapshot(self) -> bool:
        """True when the file on disk is not yet the whole state."""
        return self.replayed > 0 or self.torn_bytes > 0 or self.source != "file"


def recover(path: Path, max_size: int, *, repair: bool) -> Recovery:
    snapshot, source, moved = _load_snapshot(path, repair)
    state = MemoryState(max_size)
    if snapshot is not None:
        state.load(snapshot.conversations, snapshot.preferences, snapshot.turns)
        state.seq = snapshot.seq
    journal = snapshot.journal if snapshot is not None else 0
    size = snapshot.size if snapshot is not None else 0
    recovery = Recovery(state, source, journal, size, moved_aside=moved)
    _replay(path, recovery)
    return recovery


def _replay(path: Path, recovery: Recovery) -> None:
    segments = [n for n in list_segments(path) if n >= recovery.journal]
    voids = [void for n in segments for void in scan_voids(path, n)]
    base = recovery.state.seq
    recovery.last_seq = max([base] + [void.last for void in voids])
    for number in segments:
        scan = scan_segment(path, number)
        for record in scan.records:
            recovery.last_seq = max(recovery.last_seq, record.seq)
            if record.seq > base and not _voided(record, voids):
                recovery.state.apply(record)
                recovery.replayed += 1
        if scan.torn_bytes:
            _log_torn(path, number, scan.torn_bytes)
        recovery.torn_bytes += scan.torn_bytes
    recovery.segments = segments


def _voided(record: Record, voids: list[VoidRecord]) -> bool:
    return any(void.first <= record.seq <= void.last for void in voids)


def _log_torn(path: Path, number: int, torn: int) -> None:
    logger.warning(
        "memory.journal.torn_tail",
        extra={
            "fields": {
                "file": str(segment_path(path, number)),
                "bytes": torn,
                "meaning": "the write in progress at a crash was incomplete and never "
                "acknowledged; it was dropped, nothing acknowledged is missing",
            }
        },
    )


def _load_snapshot(path: Path, repair: bool) -> tuple[LoadedSnapshot | None, Source, Path | None]:
    try:
        snapshot = read_snapshot(path)
    except CorruptMemoryFileError as exc:
        if not repair:
            raise
        backup = _read_backup(path)
        restored = copy_of(backup_path(path), path) if backup is not None else None
        moved = move_aside(path, replacement=restored)
        _log_corrupt(path, moved, exc, backup is not None)
        return backup, ("backup" if backup is not None else "empty"), moved
    return snapshot, ("file" if snapshot is not None else "empty"), None


def _read_backup(path: Path) -> LoadedSnapshot | None:
    try:
        return read_snapshot(backup_path(path))
    except CorruptMemoryFileError as exc:
        logger.error(
            "memory.backup.unusable",
            extra={"fields": {"file": str(backup_path(path)), "reason": str(exc)}},
        )
        return None


def _log_corrupt(path: Path, moved: Path, exc: CorruptMemoryFileError, has_backup: bool) -> None:
    start = f"the backup {backup_path(path)}" if has_backup else "an empty memory"
    logger.error(
        "memory.file.corrupt",
        extra={
            "fields": {
                "file": str(path),
                "moved_to": str(moved),
                "reason": str(exc),
                "started_from": start,
                "action": f"inspect {moved} (kept untouched) and merge what you need by hand; "
                "messages in the journal were replayed on top",
            }
        },
    )
