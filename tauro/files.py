"""Private files: folders only the bot's user can reach, files only it can read.

Every file TauroBot creates follows the same rules (the list, with modes, is in
README "Files" and docs/memory.md, docs/voice.md, docs/web.md):

- folders it creates are made 0700, one level at a time (``Path.mkdir(parents=True)``
  would give the missing parents the default mode);
- the memory's folder must belong to the bot's user and be writable by nobody
  else (it may be a link: it is often the project folder);
- a folder that must hold private data (the audio folders) and already exists
  is used only if it is a real folder (never a symbolic link: ``lstat``), owned
  by the bot's user, with no access for anybody else; otherwise
  :class:`~tauro.errors.UnsafePathError` names it and says what to do;
- files are created 0600 with ``O_NOFOLLOW``, so a planted symbolic link is
  never written through.

Blocking calls: use them from a worker thread on the event loop.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from tauro.errors import UnsafePathError

__all__ = [
    "PRIVATE_DIRECTORY_MODE",
    "PRIVATE_FILE_MODE",
    "default_audio_directory",
    "make_directories",
    "make_private_directory",
    "make_state_directory",
    "open_private_file",
    "private_directory_problem",
    "state_directory_problem",
    "tighten_file",
]

PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def default_audio_directory() -> Path:
    """Audio folder for code that was given none: ``$XDG_RUNTIME_DIR/taurobot``, else
    ``<temp dir>/taurobot-<uid>``; checked like any other (a planted one is refused).

    The bot itself always passes its own folder (VOICE_DIR, beside the memory).
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute():
        return Path(runtime) / "taurobot"
    return Path(tempfile.gettempdir()) / f"taurobot-{os.geteuid()}"


def make_directories(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700; existing ones are kept."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile: the caller checks it
            os.mkdir(folder, PRIVATE_DIRECTORY_MODE)


def private_directory_problem(path: Path) -> str | None:
    """Why ``path`` is not a private folder; None if it is (or is absent, in a safe place).

    Its parent counts too: whoever may rename entries there could swap the
    folder for their own. The parent must belong to the bot's user or root and
    be writable by nobody else, or be sticky (like /tmp).
    """
    parent_problem = _parent_problem(path.parent)
    if parent_problem is not None:
        return parent_problem
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link, which TauroBot never follows for private files"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.geteuid():
        return f"belongs to user id {info.st_uid}, not to the bot's user (id {os.geteuid()})"
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        return f"gives other users access (mode {mode:04o}; it must be 0700)"
    return None


def _parent_problem(parent: Path) -> str | None:
    try:
        info = os.stat(parent)
    except FileNotFoundError:
        return None
    if info.st_uid not in (os.geteuid(), 0):
        return f"is in {parent}, which belongs to user id {info.st_uid}"
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        mode = stat.S_IMODE(info.st_mode)
        return f"is in {parent}, where other users may rename it (mode {mode:04o})"
    return None


def state_directory_problem(path: Path) -> str | None:
    """Why the existing folder ``path`` may not hold the memory; None if it may.

    Looser than a private folder, as it may be the user's project folder and
    may be reached through a link: it must belong to the bot's user and nobody
    else may write there (or they could replace the files). Its files are 0600.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.geteuid():
        return f"belongs to user id {info.st_uid}, not to the bot's user (id {os.geteuid()})"
    if info.st_mode & 0o022:
        mode = stat.S_IMODE(info.st_mode)
        return f"other users may write there (mode {mode:04o})"
    return None


def make_state_directory(path: Path, setting: str) -> Path:
    """Create ``path`` (0700 for each missing level) or check it; ``UnsafePathError``."""
    make_directories(path)
    problem = state_directory_problem(path)
    if problem is not None:
        raise UnsafePathError(
            str(path),
            f"{problem}; TauroBot refuses to keep conversations there. Run `chmod go-w` on "
            f"it as its owner, or set {setting} to a path in a folder of the bot's user",
        )
    return path


def make_private_directory(path: Path, setting: str) -> Path:
    """Create ``path`` (0700) or accept it only if it is private; return it.

    ``setting`` names what chooses the folder, for the error's "what to do".
    Raises ``UnsafePathError`` otherwise; nothing is written there.
    """
    problem = private_directory_problem(path)  # before making anything in a bad place
    if problem is None:
        make_directories(path)
        problem = private_directory_problem(path)
    if problem is not None:
        raise UnsafePathError(
            str(path),
            f"{problem}; TauroBot refuses to keep private audio there. Remove it (it is "
            f"recreated private), or set {setting} to a folder only the bot's user can open",
        )
    return path


def tighten_file(path: Path) -> bool:
    """Make an existing file of ours 0600 if others had access; True if it changed.

    Not through a link, and never another user's file.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or not info.st_mode & 0o077:
        return False
    os.chmod(path, PRIVATE_FILE_MODE, follow_symlinks=False)
    return True


def open_private_file(path: Path, flags: int) -> int:
    """``os.open`` with mode 0600, never through a symbolic link; returns the descriptor."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE_MODE)
