"""Whether memory can record right now, and what the operator is told about it.

A full disk (ENOSPC), an I/O error (EIO) or a read-only file system makes every
write fail until somebody acts, and the channels retry: one ERROR line per
failed write would bury the log. So an outage is told in three kinds of line:
one ERROR when it starts (``memory.unwritable``), one WARNING a minute while it
lasts with the free space left (``memory.still_unwritable``), one INFO when a
write succeeds again (``memory.writable_again``). Time is trio's clock, so the
cadence is tested with ``MockClock``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

__all__ = ["REMIND_EVERY", "WriteHealth", "free_bytes"]

logger = logging.getLogger("tauro.memory")

REMIND_EVERY = 60.0  # seconds between WARNING lines while memory cannot record


def free_bytes(directory: Path) -> int | None:
    """Free space where the memory file lives (None if it cannot be read)."""
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


async def _free_bytes_in_thread(directory: Path) -> int | None:
    return await trio.to_thread.run_sync(free_bytes, directory)


class WriteHealth:
    """Tracks outages of the memory's writes; ``run`` sends the reminders."""

    def __init__(
        self,
        path: Path,
        *,
        remind_every: float = REMIND_EVERY,
        free_space: Callable[[Path], Awaitable[int | None]] | None = None,
    ) -> None:
        self._path = path
        self._remind_every = remind_every
        self._free_space = free_space or _free_bytes_in_thread
        self._since: float | None = None  # trio time the outage started
        self._last_error = ""
        self._failures = 0
        self._changed = trio.Event()

    @property
    def writable(self) -> bool:
        return self._since is None

    def unwritable_for(self) -> float:
        """Seconds the current outage has lasted (0 while writable)."""
        return 0.0 if self._since is None else trio.current_time() - self._since

    def failed(self, error: str) -> None:
        """A write failed: ERROR if this starts an outage, else only counted."""
        self._last_error = error
        self._failures += 1
        if self._since is not None:
            logger.debug("memory.write.failed", extra={"fields": {"error": error}})
            return
        self._since = trio.current_time()
        self._failures = 1
        fields = {
            "file": str(self._path),
            "error": error,
            "meaning": "messages cannot be recorded; they are held (not confirmed to "
            "Telegram) and answered when writing works again",
        }
        logger.error("memory.unwritable", extra={"fields": fields})
        self._wake()

    def succeeded(self) -> None:
        """A write succeeded: INFO if this ends an outage."""
        if self._since is None:
            return
        fields = {
            "file": str(self._path),
            "lasted_s": round(self.unwritable_for(), 1),
            "failed_writes": self._failures,
        }
        self._since = None
        logger.info("memory.writable_again", extra={"fields": fields})
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def run(self) -> None:
        """Until cancelled: while an outage lasts, a WARNING every ``remind_every`` s."""
        while True:
            while self._since is None:
                await self._changed.wait()
            since = self._since
            with trio.move_on_after(self._remind_every):
                while self._since == since:
                    await self._changed.wait()
            if self._since == since:
                await self._remind()

    async def _remind(self) -> None:
        since = self._since
        free = await self._free_space(self._path.parent)
        if self._since != since:
            return  # it ended while the space was measured
        fields = {
            "file": str(self._path),
            "lasted_s": round(self.unwritable_for()),
            "free_bytes": free,
            "failed_writes": self._failures,
            "error": self._last_error,
        }
        logger.warning("memory.still_unwritable", extra={"fields": fields})
