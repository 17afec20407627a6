"""The folder that owns every voice file, and the sweeping that keeps it empty.

Three kinds of file live here: a job's scratch WAV and its OGG while a worker
makes them, notes handed to a caller (who discards them after sending), and
cached notes under ``cache/``. Whatever a crash leaves behind is swept when the
actor starts; notes a caller never discarded are removed after
``NOTE_LIFETIME``. File work runs in threads, never on the event loop.

Privacy (docs/voice.md): the folder and ``cache/`` are made 0700, or refused
(``UnsafePathError``) when they exist as a symbolic link, another user's folder
or one others can open; files are 0600. A cache entry is put in place
atomically (a link under a fresh name, then ``os.replace``) and checked before
it is handed out: a regular file of the recorded size that starts with ``OggS``.
"""

from __future__ import annotations

import itertools
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import trio

from tauro.files import default_audio_directory, make_private_directory, open_private_file

T = TypeVar("T")

NOTE_LIFETIME = 600.0  # seconds a handed-out note may wait for its caller to discard it
OGG_MAGIC = b"OggS"  # every Ogg page starts with it
_NOTE_SUFFIXES = frozenset({".ogg", ".wav", ".tmp"})
_COPY_CHUNK = 1 << 20


def default_directory() -> Path:
    """The voice folder of code given none (the bot passes VOICE_DIR/notes)."""
    return default_audio_directory() / "voice"


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
        """Create (or check) the private folders and remove leftovers; return how many.

        ``UnsafePathError`` if a folder exists but is not private.
        """
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

    async def put_in_cache(self, source: Path, target: Path) -> bool:
        """Atomically make ``target`` the bot's own copy of ``source``; False if gone.

        Whatever was at ``target`` is replaced, never trusted.
        """
        return await self._in_thread(_replace_with_link, source, target)

    async def verify(self, path: Path, size: int) -> bool:
        """Whether ``path`` is a regular file of ``size`` bytes that starts as an Ogg."""
        return await self._in_thread(is_ogg_of_size, path, size)

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
    make_private_directory(directory, "VOICE_DIR")
    make_private_directory(cache_directory, "VOICE_DIR")
    return _sweep(directory, cache_directory)


def _sweep(*directories: Path) -> int:
    removed = 0
    for directory in directories:
        for path in directory.glob("*"):
            if path.suffix in _NOTE_SUFFIXES and (path.is_file() or path.is_symlink()):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def is_ogg_of_size(path: Path, size: int) -> bool:
    """A regular file (not through a link) of exactly ``size`` bytes starting ``OggS``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return False
        return info.st_size == size and file.read(len(OGG_MAGIC)) == OGG_MAGIC


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:  # the same audio, linked by an earlier request
        return True
    except FileNotFoundError:
        return False
    except OSError:  # a file system without hard links
        try:
            _copy_private(source, target)
        except FileNotFoundError:
            return False
    return True


def _replace_with_link(source: Path, target: Path) -> bool:
    temp = target.with_name(f".{target.stem}-{secrets.token_hex(4)}.tmp")
    if not _link(source, temp):
        return False
    os.replace(temp, target)
    return True


def _copy_private(source: Path, target: Path) -> None:
    """Copy in chunks into a new 0600 file (never whole in memory, never through a link)."""
    with source.open("rb") as reader:
        fd = open_private_file(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(_COPY_CHUNK):
                writer.write(chunk)


def _remove(paths: list[Path]) -> int:
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)
