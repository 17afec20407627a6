"""The folder that owns every voice file, and the sweeping that keeps it empty.

Three kinds of file live here: a job's scratch WAV and its OGG while a worker
makes them, notes handed to a caller (who discards them after sending), and
cached notes under ``cache/``. Whatever a crash leaves behind is swept when the
actor starts; notes a caller never discarded are removed after
``NOTE_LIFETIME``. File work runs in threads, never on the event loop.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import trio

T = TypeVar("T")

NOTE_LIFETIME = 600.0  # seconds a handed-out note may wait for its caller to discard it
_NOTE_SUFFIXES = frozenset({".ogg", ".wav", ".tmp"})


def default_directory() -> Path:
    """A private folder under the system's temporary directory, one per user."""
    return Path(tempfile.gettempdir()) / f"taurobot-voice-{os.getuid()}"


class NoteStore:
    """Names, links, removes and sweeps the voice files of one actor instance."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cache_directory = directory / "cache"
        self._limiter = trio.CapacityLimiter(2)
        self._token = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._issued: dict[Path, float] = {}  # note -> trio time it was handed out

    @property
    def outstanding(self) -> int:
        return len(self._issued)

    async def open(self) -> int:
        """Create the folders and remove leftovers; return how many were removed."""
        return await self._in_thread(_prepare, self.directory, self.cache_directory)

    def new_job(self) -> tuple[Path, Path]:
        """Fresh scratch WAV and result OGG paths for one synthesis."""
        stem = self.directory / f"note-{self._token}-{next(self._counter)}"
        return stem.with_suffix(".wav"), stem.with_suffix(".ogg")

    def cache_path(self, key: str) -> Path:
        return self.cache_directory / f"{key}.ogg"

    def issue(self, path: Path) -> None:
        """``path`` now belongs to a caller; remove it later if they never do."""
        self._issued[path] = trio.current_time()

    async def link(self, source: Path, target: Path) -> bool:
        """Hard-link ``target`` to ``source`` (a copy when links fail); False if gone."""
        return await self._in_thread(_link, source, target)

    async def remove(self, paths: Iterable[Path]) -> None:
        paths = list(paths)
        for path in paths:
            self._issued.pop(path, None)
        await self._in_thread(_remove, paths)

    async def expire(self) -> int:
        """Remove notes handed out more than NOTE_LIFETIME ago; return how many."""
        deadline = trio.current_time() - NOTE_LIFETIME
        old = [path for path, issued in self._issued.items() if issued <= deadline]
        await self.remove(old)
        return len(old)

    async def sweep(self) -> int:
        """Remove every file, handed out or cached; return how many existed."""
        self._issued.clear()
        return await self._in_thread(_sweep, self.directory, self.cache_directory)

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        with trio.CancelScope(shield=True):  # a half-done removal must finish
            result = await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        return result


def _prepare(directory: Path, cache_directory: Path) -> int:
    cache_directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _sweep(directory, cache_directory)


def _sweep(*directories: Path) -> int:
    removed = 0
    for directory in directories:
        for path in directory.glob("*"):
            if path.suffix in _NOTE_SUFFIXES and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except FileExistsError:  # the same audio, linked by an earlier request
        return True
    except FileNotFoundError:
        return False
    except OSError:  # a file system without hard links
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            return False
    return True


def _remove(paths: list[Path]) -> int:
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)
