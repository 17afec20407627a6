"""The memory engine: batching, durability, snapshots and retention, on trio.

The MemoryActor is a thin shell around this; keeping it free of the runtime
lets the crash tests and the benchmark drive the exact same code.

Threads: journal writes (and opening/rotating segments, and recovery) run in
one writer thread, in order (``CapacityLimiter(1)``); snapshots run in a second
one, so a long snapshot never holds up appends, which go on into a fresh
segment meanwhile.

Invariant: the in-memory state changes only after the journal record of the
change is durable, and only under ``_lock``; so a snapshot taken under the lock
is exactly "everything in the segments it covers".
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import math
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import outcome
import trio

from tauro.actors.memory._delivery import (
    merge_delivered,
    read_delivery_logs,
    remove_delivery_logs,
)
from tauro.actors.memory._health import WriteHealth
from tauro.actors.memory._journal import (
    Journal,
    delete_segments_below,
    list_segments,
    lock_memory_file,
)
from tauro.actors.memory._messages import (
    Append,
    AppendReceipt,
    BeginTurn,
    Clear,
    MemoryMessage,
    MemoryStatistics,
    NoteShown,
    SetPreference,
    StoredMessage,
)
from tauro.actors.memory._pieces import beside_the_event_loop
from tauro.actors.memory._reads import Counters, answer, statistics, turn_start
from tauro.actors.memory._records import (
    ClearRecord,
    MessageRecord,
    PreferenceRecord,
    Record,
    ShownRecord,
    VoidRecord,
    encode_fragment,
    encode_record,
)
from tauro.actors.memory._recovery import Recovery, recover
from tauro.actors.memory._snapshot import (
    SnapshotData,
    SnapshotResult,
    sweep_temp_files,
    write_snapshot,
)
from tauro.actors.memory._store import MemoryState
from tauro.config import MemorySettings
from tauro.errors import MemoryStoreError, PersistenceError
from tauro.files import make_state_directory, tighten_file

__all__ = ["REWRITE_GROWTH", "REWRITE_MIN_BYTES", "MemoryEngine"]

logger = logging.getLogger("tauro.memory")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

REWRITE_GROWTH = 2.0  # rewrite the snapshot when the journal is this many times its size
REWRITE_MIN_BYTES = 1 << 20  # ...and at least this big (Redis: auto-aof-rewrite-min-size)
SNAPSHOT_RETRY = 10.0  # seconds before a failed snapshot is tried again

Change = Append | Clear | SetPreference | NoteShown
_CHANGES = (Append, Clear, SetPreference, NoteShown)


class MemoryEngine:
    """Owns the state and its files; call ``open``, run ``run`` in a task, ``close``."""

    def __init__(
        self,
        settings: MemorySettings,
        *,
        wall_clock: Callable[[], datetime] = datetime.now,
        rewrite_growth: float = REWRITE_GROWTH,
        rewrite_min_bytes: int = REWRITE_MIN_BYTES,
    ) -> None:
        self.settings = settings
        self.path = Path(settings.file)
        self._durable = settings.durability == "fsync"
        self._wall_clock = wall_clock
        self._growth = rewrite_growth
        self._min_bytes = rewrite_min_bytes
        self._journal = Journal(self.path, durable=self._durable)
        self._journal_thread = trio.CapacityLimiter(1)
        self._snapshot_thread = trio.CapacityLimiter(1)
        self._lock = trio.Lock()
        self._state = MemoryState(settings.max_size)
        self._counters = Counters()
        self._next_seq = 1
        self._void: tuple[int, int] | None = None
        self._journal_bytes = 0  # appended since the last snapshot started
        self._snapshot_bytes = 0
        self._snapshot_seq = -1  # highest seq the snapshot on disk covers
        self._snapshot_wanted = trio.Event()
        self._snapshot_retry_at = -math.inf
        self._open = False
        self._lock_fd: int | None = None
        self._health = WriteHealth(self.path)

    @property
    def state(self) -> MemoryState:
        return self._state

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> Recovery:
        """``lock`` then ``load``: what the memory actor does before it is ready."""
        await self.lock()
        return await self.load()

    async def lock(self) -> None:
        """Make the folder and take the memory file's lock (quick; a second bot fails here)."""
        await trio.to_thread.run_sync(self._lock_sync, limiter=self._journal_thread)

    async def load(self) -> Recovery:
        """Recover from disk (in the writer thread) and start a fresh segment.

        The event loop is never held for long meanwhile: the work is done in the
        writer thread, beside the event loop (see ``_pieces``), and only the
        finished state is handed over.
        """
        started = trio.current_time()
        recovery = await trio.to_thread.run_sync(self._load_sync, limiter=self._journal_thread)
        self._state = recovery.state
        self._next_seq = recovery.last_seq + 1
        await self._take_delivery_logs()
        pending = await self._in_writer(self._state.pending_turns)  # a read; long if many
        self._counters.unconfirmed_sends = sum(turn.sending for turn in pending)
        self._snapshot_bytes = recovery.snapshot_bytes
        if recovery.needs_snapshot:
            self._snapshot_wanted.set()
        else:
            self._snapshot_seq = recovery.last_seq
        self._open = True
        _log_open(self.path, recovery, trio.current_time() - started)
        return recovery

    def _lock_sync(self) -> None:
        make_state_directory(self.path.parent, "MEMORY_FILE")
        self._lock_fd = lock_memory_file(self.path)
        if tighten_file(self.path):  # the original bot's file was readable by all
            logger.info("memory.file.made_private", extra={"fields": {"file": str(self.path)}})

    def _load_sync(self) -> Recovery:
        """The recovered state; the journal's next segment is open."""
        if self._lock_fd is None:
            self._lock_sync()
        logger.info("memory.loading", extra={"fields": {"file": str(self.path)}})
        try:
            with beside_the_event_loop():
                for temp in sweep_temp_files(self.path):
                    logger.info("memory.temp.removed", extra={"fields": {"file": str(temp)}})
                recovery = recover(self.path, self.settings.max_size, repair=True)
                delete_segments_below(self.path, recovery.journal)
                first = max([recovery.journal] + [n + 1 for n in list_segments(self.path)])
                self._counters.fsyncs += self._journal.open(first)
                gc.freeze()  # before the collector is back: see the note above _take_delivery_logs
        except BaseException:
            self._unlock()
            raise
        return recovery

    # The loaded state (10^6 fragments at 10^6 messages, scattered in memory) is
    # moved out of the cyclic collector's sight with ``gc.freeze`` at the end of the
    # load, together with everything else alive then: its first collection after
    # the load would walk every fragment holding the GIL, 100 ms and more (the
    # event loop waits meanwhile). The state never forms cycles; what it frees is
    # freed by reference counting, frozen or not. ``close`` gives the objects back
    # to the collector (``gc.unfreeze``), so a process that opens engines one after
    # another (the tests) does not keep what the earlier ones left in cycles.

    async def _take_delivery_logs(self) -> None:
        """Give pending turns the message ids only the delivery logs hold
        (``_delivery``), write them to the journal, then delete the logs
        nobody holds open. At start, and before the final snapshot, so a
        graceful stop leaves no log behind."""
        async with self._lock:
            notes = await self._in_writer(read_delivery_logs, self.path)
            # A read of the state, in the thread (long with many pending turns); it
            # changes only under the lock, which is held:
            pending = await self._in_writer(self._state.pending_turns) if notes else ()
            changes = merge_delivered(pending, notes)
            if changes:
                records = self._records(list(changes))
                if await self._append(records) is not None:
                    return  # keep the logs: the next start tries again
                for change, record in zip(changes, records[-len(changes) :], strict=True):
                    self._apply(change, record)
                fields = {"turns": len(changes), "file": str(self.path)}
                logger.info("memory.delivery_log.merged", extra={"fields": fields})
            await self._in_writer(remove_delivery_logs, self.path)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def run(self) -> None:
        """Background work until cancelled: snapshots when due, retention sweeps."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._snapshot_loop)
            nursery.start_soon(self._retention_loop)
            nursery.start_soon(self._health.run)

    async def close(self) -> bool:
        """Write the final snapshot, shielded, within ``flush_timeout``; True if done.

        If it cannot finish, nothing is lost: the journal is durable and is
        replayed at the next start.
        """
        if not self._open:
            self._unlock()  # locked, never loaded (a stop during the load, a failed load)
            return True
        gc.unfreeze()  # see the note above _take_delivery_logs
        with trio.CancelScope(shield=True):
            with trio.move_on_after(self.settings.flush_timeout) as scope:
                await self._take_delivery_logs()  # a turn cut by the stop may need them
                done = await self._final_snapshot()
            if scope.cancelled_caught:
                self._failed(PersistenceError(str(self.path), "final snapshot timed out"))
                done = False
        self._unlock()
        return done

    async def _final_snapshot(self) -> bool:
        async with self._lock:
            self._open = False  # no change may follow the final snapshot
            if self._snapshot_seq == self._next_seq - 1:
                await self._in_writer(self._journal.remove_if_empty)
                return True
            data = self._state.freeze(self._journal.number + 1, self._next_seq - 1)
            await self._in_writer(self._journal.close)
            return await self._write_snapshot(data, abandon_on_cancel=True)

    # -- requests --------------------------------------------------------------

    async def process(self, messages: Sequence[MemoryMessage]) -> list[outcome.Outcome[object]]:
        """Handle a batch: consecutive changes share one write and one fsync.

        A read waits for the changes before it, so it sees them.
        """
        outcomes: list[outcome.Outcome[object]] = [outcome.Value(None)] * len(messages)
        changes: list[tuple[int, Change]] = []
        begun: list[tuple[int, BeginTurn]] = []  # their questions are among the changes
        for index, message in enumerate(messages):
            if isinstance(message, BeginTurn) and _question_in(changes, message):
                await self._commit(changes, outcomes, begun)  # it needs to know how that went
                changes, begun = [], []
            if isinstance(message, BeginTurn) and _records_question(self._state, message):
                changes.append((index, message.question))
                begun.append((index, message))
            elif isinstance(message, _CHANGES):
                changes.append((index, message))
            else:
                await self._commit(changes, outcomes, begun)
                changes, begun = [], []
                outcomes[index] = outcome.capture(answer, self._state, self._counters, message)
        await self._commit(changes, outcomes, begun)
        return outcomes

    def statistics(self, conversation: str | None = None) -> MemoryStatistics:
        return dataclasses.replace(
            statistics(self._state, self._counters, conversation),
            writable=self._health.writable,
            unwritable_seconds=round(self._health.unwritable_for(), 1),
        )

    @property
    def writable(self) -> bool:
        """False while writes fail (disk full, I/O error, read-only file system)."""
        return self._health.writable

    # -- committing changes -------------------------------------------------------

    async def _commit(
        self,
        changes: list[tuple[int, Change]],
        outcomes: list[outcome.Outcome[object]],
        begun: list[tuple[int, BeginTurn]],
    ) -> None:
        """Make the changes durable and apply them; a begun turn then reads its context."""
        if changes:
            async with self._lock:
                await self._commit_locked(changes, outcomes)
            self._check_snapshot_due()
        for index, request in begun:
            if isinstance(outcomes[index], outcome.Value):  # else the write's error
                outcomes[index] = outcome.Value(turn_start(self._state, request, "new"))

    async def _commit_locked(
        self, changes: list[tuple[int, Change]], outcomes: list[outcome.Outcome[object]]
    ) -> None:
        if not self._open:
            for index, _ in changes:
                outcomes[index] = outcome.Error(
                    MemoryStoreError(str(self.path), "memory is closed")
                )
            return
        records = self._records([change for _, change in changes])
        lazy = all(isinstance(change, NoteShown) for _, change in changes)
        error = await self._append(records, sync=not lazy)
        for (index, change), record in zip(changes, records[-len(changes) :], strict=True):
            if error is None:
                outcomes[index] = self._apply(change, record)
            elif isinstance(change, NoteShown):  # lazy: logged and counted, never an error
                outcomes[index] = outcome.Value(None)
            else:  # one exception object per asker: each is raised in its own task
                outcomes[index] = outcome.Error(PersistenceError(error.path, _reason(error)))

    def _records(self, changes: list[Change]) -> list[Record]:
        records: list[Record] = []
        if self._void is not None:
            records.append(VoidRecord(self._take_seq(), *self._void))
        timestamp = self._wall_clock().isoformat()
        for change in changes:
            records.append(self._record(change, self._take_seq(), timestamp))
        return records

    def _take_seq(self) -> int:
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return seq

    def _record(self, change: Change, seq: int, timestamp: str) -> Record:
        if isinstance(change, Append):
            return MessageRecord(seq, change.conversation, self._fragment(change, timestamp))
        if isinstance(change, Clear):
            return ClearRecord(seq, change.conversation)
        if isinstance(change, NoteShown):
            shown = (change.message_ids, change.sending, change.delivered)
            return ShownRecord(seq, change.conversation, change.update_id, *shown)
        return PreferenceRecord(seq, change.conversation, change.key, change.value)

    def _fragment(self, change: Append, timestamp: str) -> bytes:
        """The message's fragment; an answer to deliver takes the messages already shown."""
        ids: list[int] | None = None
        sending: bool | None = None
        if change.delivered is False and change.reply_to is not None:
            shown, in_flight = self._state.shown_before_answer(change.conversation, change.reply_to)
            ids, sending = shown or None, in_flight or None
        return encode_fragment(
            change.role,
            change.content,
            timestamp,
            change.update_id,
            change.reply_to,
            delivered=change.delivered,
            message_ids=ids,
            sending=sending,
        )

    async def _append(self, records: list[Record], *, sync: bool = True) -> PersistenceError | None:
        """Make the records durable; on failure, void them and return the error."""
        data = b"".join(encode_record(record) for record in records)
        try:
            result = await self._in_writer(partial(self._journal.append, sync=sync), data)
        except PersistenceError as exc:
            first = records[0].seq if self._void is None else self._void[0]
            self._void = (first, records[-1].seq)
            self._failed(exc)
            if self._journal.suspect:
                self._snapshot_wanted.set()  # retire the segment we can no longer trust
            return exc
        self._void = None
        self._health.succeeded()
        counters = self._counters
        counters.batches += 1
        counters.journal_appends += len(records)
        counters.fsyncs += result.fsyncs
        counters.bytes_written += result.bytes_written
        self._journal_bytes += result.bytes_written
        return None

    def _apply(self, change: Change, record: Record) -> outcome.Outcome[object]:
        state = self._state
        if isinstance(change, Append) and isinstance(record, MessageRecord):
            turn = StoredMessage(
                change.role, change.content, "", change.update_id, change.reply_to, change.delivered
            )
            state.add(change.conversation, record.fragment, turn)
            state.seq = record.seq
            return outcome.Value(AppendReceipt(record.seq))
        state.apply(record)
        return outcome.Value(None)

    def _failed(self, exc: MemoryStoreError) -> None:
        self._counters.errors += 1
        self._counters.last_error = str(exc)
        self._health.failed(_reason(exc))  # one ERROR per outage, not per write

    async def _in_writer(self, function: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run in the writer thread, shielded: a write in flight is never abandoned."""
        with trio.CancelScope(shield=True):
            result = await trio.to_thread.run_sync(function, *args, limiter=self._journal_thread)
        return result

    # -- snapshots -----------------------------------------------------------------

    def _check_snapshot_due(self) -> None:
        threshold = max(self._min_bytes, self._growth * self._snapshot_bytes)
        if self._journal_bytes >= threshold:
            self._snapshot_wanted.set()

    async def _snapshot_loop(self) -> None:
        while True:
            await self._snapshot_wanted.wait()
            await trio.sleep_until(self._snapshot_retry_at)
            if not await self.snapshot():
                self._snapshot_retry_at = trio.current_time() + SNAPSHOT_RETRY
                self._snapshot_wanted.set()

    async def snapshot(self) -> bool:
        """Start a fresh segment, copy the state, write it in the snapshot thread."""
        async with self._lock:
            if not self._open:
                return False
            try:
                self._counters.fsyncs += await self._in_writer(self._journal.rotate)
            except PersistenceError as exc:
                self._failed(exc)
                return False
            data = self._state.freeze(self._journal.number, self._next_seq - 1)
            self._journal_bytes = 0
            # Requests made before this point are served by this snapshot:
            self._snapshot_wanted = trio.Event()
        return await self._write_snapshot(data)

    async def _write_snapshot(self, data: SnapshotData, *, abandon_on_cancel: bool = False) -> bool:
        """Write in the snapshot thread; ``abandon_on_cancel`` lets a deadline win.

        An abandoned write is harmless: until ``os.replace`` the old file stands,
        and its temp file is swept at the next start.
        """
        try:
            result: SnapshotResult = await trio.to_thread.run_sync(
                self._write_snapshot_sync,
                data,
                limiter=self._snapshot_thread,
                abandon_on_cancel=abandon_on_cancel,
            )
        except PersistenceError as exc:
            self._failed(exc)
            return False
        counters = self._counters
        counters.snapshots += 1
        counters.fsyncs += result.fsyncs
        counters.bytes_written += result.bytes_written
        self._snapshot_bytes = result.snapshot_bytes
        self._snapshot_seq = max(self._snapshot_seq, data.seq)
        logger.info(
            "memory.snapshot.written",
            extra={"fields": {"file": str(self.path), "bytes": result.bytes_written}},
        )
        return True

    def _write_snapshot_sync(self, data: SnapshotData) -> SnapshotResult:
        result = write_snapshot(self.path, data, durable=self._durable)
        try:
            delete_segments_below(self.path, data.journal)
        except OSError as exc:  # harmless: recovery ignores segments the snapshot covers
            logger.warning("memory.journal.cleanup_failed", extra={"fields": {"error": str(exc)}})
        return result

    # -- retention -------------------------------------------------------------------

    async def _retention_loop(self) -> None:
        if self.settings.retention_days <= 0:
            return
        while True:
            await self.sweep()
            await trio.sleep(self.settings.retention_check_interval)

    async def sweep(self) -> int:
        """Drop conversations idle longer than ``retention_days``; returns how many.

        Idleness is judged under the lock, so a message arriving meanwhile
        cannot be cleared along with its conversation.
        """
        async with self._lock:
            cutoff = self._wall_clock() - timedelta(days=self.settings.retention_days)
            idle = self._state.idle_conversations(cutoff)
            outcomes: list[outcome.Outcome[object]] = [outcome.Value(None)] * len(idle)
            if idle:
                changes: list[tuple[int, Change]] = [(i, Clear(n)) for i, n in enumerate(idle)]
                await self._commit_locked(changes, outcomes)
        dropped = sum(isinstance(result, outcome.Value) for result in outcomes) if idle else 0
        if dropped:  # deleting history is never quiet
            fields = {"conversations": dropped, "retention_days": self.settings.retention_days}
            logger.warning("memory.retention.dropped", extra={"fields": fields})
        return dropped


def _question_in(changes: list[tuple[int, Change]], request: BeginTurn) -> bool:
    """Whether the batch so far records the question of ``request`` (a redelivery)."""
    return request.update_id is not None and any(
        isinstance(change, Append)
        and change.conversation == request.conversation
        and change.update_id == request.update_id
        for _, change in changes
    )


def _records_question(state: MemoryState, request: BeginTurn) -> bool:
    """Whether ``request`` records its question: it has no update id, or a new one."""
    if request.update_id is None:
        return True
    return state.update_status(request.conversation, request.update_id) == "new"


def _reason(exc: MemoryStoreError) -> str:
    text = str(exc)
    prefix = f"{exc.path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _log_open(path: Path, recovery: Recovery, seconds: float) -> None:
    fields: dict[str, object] = {
        "file": str(path),
        "seconds": round(seconds, 3),
        "source": recovery.source,
        "conversations": len(recovery.state.conversations),
        "messages": recovery.state.messages,
        "journal_records": recovery.replayed,
    }
    logger.info("memory.opened", extra={"fields": fields})
