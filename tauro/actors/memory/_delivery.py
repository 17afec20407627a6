"""The delivery log: each new Telegram message id, written the moment it is known.

A message id that reaches memory through ``NoteShown`` crosses the memory
actor's mailbox, waits for the batches ahead of it and then for the writer
thread: under load that took tens to hundreds of milliseconds, and a crash in
that time leaves a message in the chat that no record names (a duplicate
after the restart). The delivery log is the short way: the Telegram side hands
the id to ``DeliveryLog.note`` as soon as the HTTP answer of ``sendMessage``
is read (before python-telegram-bot parses it), and one dedicated thread
appends a line to ``<MEMORY_FILE>.delivery.000003``. No fsync of its own: like
``NoteShown`` it survives a crash of the process (the kernel keeps what was
written), and the ids also reach memory the usual way.

A line is eight hex digits of the CRC-32 of the payload, a space, the payload
and a newline, like a journal record; the payload is
``{"c":"123","u":7,"i":1,"id":4242}``: message 4242 carries piece 1 (counted
from 0) of the answer to update 7 of conversation "123".

At start, memory reads every delivery log (``read_delivery_logs``), completes
its pending turns with the ids only the log knew (``merge_delivered``), writes
them to its journal, and deletes the logs nobody writes any more
(``remove_delivery_logs``): a log being written is held with ``flock``.
While running, the writer starts a new log once the current one passes
``ROTATE_BYTES``; the owner then removes the one before the log it left,
after memory confirms it has taken every note sent so far (``rotate``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import re
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import trio

from tauro.actors.memory._messages import NoteShown, PendingTurn
from tauro.actors.memory._records import frame, unframe

__all__ = [
    "ROTATE_BYTES",
    "DeliveryLog",
    "DeliveryNote",
    "delivery_log_path",
    "list_delivery_logs",
    "merge_delivered",
    "open_delivery_log",
    "read_delivery_logs",
    "remove_delivery_logs",
]

logger = logging.getLogger("tauro.memory")

ROTATE_BYTES = 64 * 1024  # a new log after this much (about 1,500 messages)
_DIGITS = 6


@dataclass(frozen=True, slots=True)
class DeliveryNote:
    """Message ``message_id`` carries piece ``index`` of the answer to ``update_id``."""

    conversation: str
    update_id: int
    index: int
    message_id: int


def delivery_log_path(memory_file: Path, number: int) -> Path:
    return memory_file.with_name(f"{memory_file.name}.delivery.{number:0{_DIGITS}d}")


def list_delivery_logs(memory_file: Path) -> list[int]:
    """Numbers of the delivery logs beside ``memory_file``, ascending."""
    pattern = re.compile(re.escape(memory_file.name) + r"\.delivery\.(\d+)")
    directory = memory_file.parent
    names = os.listdir(directory) if directory.is_dir() else []
    return sorted(int(m.group(1)) for name in names if (m := pattern.fullmatch(name)))


def encode_note(note: DeliveryNote) -> bytes:
    return frame(
        orjson.dumps(
            {"c": note.conversation, "u": note.update_id, "i": note.index, "id": note.message_id}
        )
    )


def decode_note(line: bytes) -> DeliveryNote | None:
    """The note of one line (without its newline); None if it is torn or damaged."""
    data = unframe(line)
    if data is None:
        return None
    conversation = data.get("c")
    numbers = [n for key in ("u", "i", "id") if type(n := data.get(key)) is int and n >= 0]
    if not isinstance(conversation, str) or len(numbers) != 3:
        return None
    return DeliveryNote(conversation, *numbers)


def read_delivery_logs(memory_file: Path) -> list[DeliveryNote]:
    """Every note of every delivery log, oldest first; damaged lines are skipped.

    A damaged line costs at most a possible duplicate (the id it held is not
    known), so it is not worth refusing to start over.
    """
    notes: list[DeliveryNote] = []
    for number in list_delivery_logs(memory_file):
        path = delivery_log_path(memory_file, number)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as error:
            fields = {"file": str(path), "error": str(error)}
            logger.warning("memory.delivery_log.unreadable", extra={"fields": fields})
            continue
        notes += [note for line in data.split(b"\n") if (note := decode_note(line)) is not None]
    return notes


def merge_delivered(
    pending: Iterable[PendingTurn], notes: Iterable[DeliveryNote]
) -> list[NoteShown]:
    """The ``NoteShown`` changes that give pending turns the ids only the logs knew.

    The logs are in the order the ids came, so a later note for the same
    piece wins. A send noted in flight (``sending``) is settled when the logs
    know the id it returned.
    """
    by_turn: dict[tuple[str, int], list[DeliveryNote]] = {}
    for note in notes:
        by_turn.setdefault((note.conversation, note.update_id), []).append(note)
    changes = []
    for turn in pending:
        ids = list(turn.message_ids)
        for note in by_turn.get((turn.conversation, turn.update_id), ()):
            if note.index < len(ids):
                ids[note.index] = note.message_id
            elif note.index == len(ids):
                ids.append(note.message_id)
        if ids != list(turn.message_ids):
            sending = turn.sending and len(ids) <= len(turn.message_ids)
            changes.append(NoteShown(turn.conversation, turn.update_id, tuple(ids), sending))
    return changes


def remove_delivery_logs(memory_file: Path) -> int:
    """Delete the delivery logs no process holds (their notes are in memory now)."""
    removed = 0
    for number in list_delivery_logs(memory_file):
        path = delivery_log_path(memory_file, number)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a running Telegram actor writes it
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)
        removed += 1
    return removed


_Item = bytes | int | None  # a line; a log number to switch to; None: close


class DeliveryLog:
    """Appends ``DeliveryNote`` lines from one dedicated thread; ``note`` never blocks.

    ``start``, ``remove`` and ``close`` touch the disk: call them in a worker
    thread. A failed write is logged (once per failure streak) and dropped:
    the id still reaches memory through ``NoteShown``.
    """

    def __init__(self, memory_file: Path, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.memory_file = memory_file
        self.rotate_bytes = rotate_bytes
        self.number = -1
        self.written = 0  # notes written since start (the writer thread counts)
        self._queued_bytes = 0
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._failing = False
        self._torn = False  # a write failed half way: the next line starts a new one

    def start(self) -> None:
        """Create the next log (held with flock) and start the writer thread."""
        self.number = max(list_delivery_logs(self.memory_file), default=0) + 1
        self._open(self.number)
        self._thread = threading.Thread(target=self._write_loop, name="delivery-log", daemon=True)
        self._thread.start()

    def note(self, note: DeliveryNote) -> None:
        """Queue ``note`` for the writer thread (never blocks, never raises)."""
        line = encode_note(note)
        self._queued_bytes += len(line)
        self._queue.put(line)

    @property
    def rotation_due(self) -> bool:
        return self._queued_bytes >= self.rotate_bytes

    def rotate(self) -> int:
        """Later notes go to a new log; returns the number of the log before the
        one just left, to ``remove`` once memory holds every note sent so far.

        Not the one just left: a send in another chat may have logged an id
        there a moment ago and not yet told memory. Its notes are a whole log
        (``rotate_bytes``) older.
        """
        self.number += 1
        self._queued_bytes = 0
        self._queue.put(self.number)
        return self.number - 2

    def remove(self, number: int) -> None:
        delivery_log_path(self.memory_file, number).unlink(missing_ok=True)

    def close(self) -> None:
        """Write what is queued, stop the thread, close (and keep) the log."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._close_fd()

    # -- the writer thread ------------------------------------------------------

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if isinstance(item, int):
                    self._open(item)
                else:
                    self._write(item)
                self._failing = False
            except OSError as error:
                self._failed(error)

    def _open(self, number: int) -> None:
        path = delivery_log_path(self.memory_file, number)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh number: nobody else has it
        self._close_fd()
        self._fd = fd

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            raise OSError(f"{delivery_log_path(self.memory_file, self.number)} is not open")
        view = memoryview(b"\n" + line if self._torn else line)
        self._torn = True  # until the whole line is out
        while view:
            view = view[os.write(self._fd, view) :]
        self._torn = False
        self.written += 1

    def _failed(self, error: OSError) -> None:
        if not self._failing:
            self._failing = True
            fields = {"file": str(delivery_log_path(self.memory_file, self.number))}
            fields["error"] = str(error)
            logger.warning("memory.delivery_log.write_failed", extra={"fields": fields})

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@asynccontextmanager
async def open_delivery_log(memory_file: Path) -> AsyncIterator[DeliveryLog | None]:
    """A started ``DeliveryLog`` beside ``memory_file``, closed at the end; None
    (logged) if it cannot be created: ids then reach memory only the usual way."""
    delivery_log = DeliveryLog(memory_file)
    try:
        await trio.to_thread.run_sync(delivery_log.start)
    except OSError as error:
        fields = {"file": str(memory_file), "error": str(error)}
        logger.warning("memory.delivery_log.unavailable", extra={"fields": fields})
        yield None
        return
    try:
        yield delivery_log
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(delivery_log.close)
