"""The PWA's files, served so that no request path can leave the app folder.

Why not Starlette's StaticFiles: the rules here are few and worth seeing in one
place. A path is accepted only if it is made of plain name segments (no ``..``,
no dot-files, no backslashes, no NUL), and the resolved file must still be inside
the resolved root, which also defeats symlinks that point outside.

Shell files are sent with ``Cache-Control: no-cache`` and a strong ETag: the
browser's HTTP cache must revalidate, so the service worker's background refresh
sees a change at once and an unchanged file costs a 304.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import trio

__all__ = ["MEDIA_TYPES", "StaticFile", "StaticFiles"]

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ALIASES = {"": "index.html", "login": "login.html", "status": "status.html"}
_MAX_FILE_BYTES = 4 * 1024 * 1024  # the shell is small; anything bigger is not ours


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


class StaticFiles:
    """Reads files under ``root`` in a worker thread (disk never blocks the loop)."""

    def __init__(self, root: Path, limiter: trio.CapacityLimiter) -> None:
        self._root = root.resolve()
        self._limiter = limiter

    def resolve(self, url_path: str) -> Path | None:
        """The file for a URL path, or None if the path is not a plain one inside root."""
        relative = _ALIASES.get(url_path.strip("/"), url_path.lstrip("/"))
        segments = relative.split("/")
        if not all(_SEGMENT.match(segment) for segment in segments):
            return None
        if Path(segments[-1]).suffix not in MEDIA_TYPES:
            return None
        candidate = self._root.joinpath(*segments)
        return candidate if _inside(candidate, self._root) else None

    async def load(self, url_path: str) -> StaticFile | None:
        path = self.resolve(url_path)
        if path is None:
            return None
        return await trio.to_thread.run_sync(_read, path, limiter=self._limiter)


def _inside(candidate: Path, root: Path) -> bool:
    try:
        return candidate.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # symlink loop, unreadable component
        return False


def _read(path: Path) -> StaticFile | None:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_FILE_BYTES:
            return None
        body = path.read_bytes()
    except OSError:
        return None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return StaticFile(body, MEDIA_TYPES[path.suffix], etag)
