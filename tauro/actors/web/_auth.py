"""The web app's one secret and the browser sessions derived from it.

Why sessions are signed rather than stored: each browser login gets its own
conversation ``web:<id>``, and that conversation must survive a restart of the
bot (it lives in the MemoryActor like any other). A cookie carrying the id plus
an HMAC of it under the secret needs no server-side session table, and changing
the secret logs every browser out at once.

Logging out must end the session on the server too, or a copied cookie would
keep working: the ids of ended sessions are kept in :class:`RevokedSessions`,
a private file beside the memory (``web_sessions_revoked``, 0600, one id a
line), read at start, so a revoked cookie stays refused across restarts.

Every comparison of secret material goes through :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from tauro.errors import WebError
from tauro.files import make_directories, open_private_file

__all__ = [
    "REVOKED_FILE_NAME",
    "SESSION_COOKIE",
    "TOKEN_FILE_NAME",
    "RevokedSessions",
    "WebAuth",
    "load_or_create_token",
]

log = logging.getLogger("tauro.web")

SESSION_COOKIE = "tauro_session"
TOKEN_FILE_NAME = "web_token"  # noqa: S105 (a file name, not a secret)
REVOKED_FILE_NAME = "web_sessions_revoked"
_SESSION_BYTES = 12  # 96 random bits per browser login
_SIGN_CONTEXT = b"tauro-web-session:"


@dataclass(frozen=True)
class LoadedToken:
    """The secret in force and whether it was generated just now (show it once)."""

    value: str
    generated: bool
    path: Path | None


def load_or_create_token(configured: str, memory_file: Path) -> LoadedToken:
    """WEB_TOKEN if set; else the stored one beside the memory file; else a new one.

    Blocking disk I/O: call it through ``trio.to_thread.run_sync``. The file is
    created with ``O_EXCL`` and mode 0600 so no other local user can read it,
    even for an instant.
    """
    if configured:
        return LoadedToken(configured, generated=False, path=None)
    path = memory_file.parent / TOKEN_FILE_NAME
    stored = _read_token(path)
    if stored:
        return LoadedToken(stored, generated=False, path=path)
    token = secrets.token_urlsafe(24)
    _write_private(path, token)
    return LoadedToken(token, generated=True, path=path)


def _read_token(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise WebError(
            f"{path}: cannot read the web token ({exc.strerror}); fix its permissions "
            "or set WEB_TOKEN"
        ) from None
    if path.stat().st_mode & 0o077:
        log.warning("web.token.file_not_private", extra={"fields": {"path": str(path)}})
    return text


def _write_private(path: Path, token: str) -> None:
    try:
        make_directories(path.parent)
        fd = open_private_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(token + "\n")
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        raise WebError(
            f"{path}: cannot store the generated web token ({exc.strerror}); make "
            "the memory folder writable or set WEB_TOKEN"
        ) from None


class RevokedSessions:
    """Ids of sessions ended by a logout; with a ``path``, kept on disk across restarts.

    ``load`` and ``add`` block on the disk: call them in a worker thread.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._ids: set[str] = set()

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def load(self) -> int:
        """Read the stored ids; return how many."""
        if self.path is None:
            return 0
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise WebError(
                f"{self.path}: cannot read the ended web sessions ({exc.strerror}); fix its "
                "permissions (it must be readable by the bot's user only)"
            ) from None
        self._ids.update(line.strip() for line in text.splitlines() if line.strip())
        return len(self._ids)

    def revoke(self, session_id: str) -> None:
        """Refuse ``session_id`` from now on (at once, before it is on disk)."""
        self._ids.add(session_id)

    def store(self, session_id: str) -> None:
        """Append ``session_id`` to the file (0600, never through a link) and fsync it."""
        if self.path is None:
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            fd = open_private_file(self.path, flags)
            try:
                os.write(fd, session_id.encode("ascii") + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WebError(
                f"{self.path}: cannot record the logout ({exc.strerror}); the session is "
                "ended until the bot restarts; make the memory folder writable"
            ) from None


class WebAuth:
    """Checks the secret and signs/verifies session cookies with it."""

    def __init__(self, secret: str, revoked: RevokedSessions | None = None) -> None:
        if not secret:
            raise WebError("the web secret is empty; set WEB_TOKEN or let one be generated")
        self._secret = secret.encode("utf-8")
        self.revoked = revoked if revoked is not None else RevokedSessions()

    def check_token(self, candidate: str) -> bool:
        """Constant-time comparison, so timing reveals nothing about the secret."""
        return hmac.compare_digest(candidate.encode("utf-8"), self._secret)

    def new_session(self) -> tuple[str, str]:
        """A fresh (cookie value, conversation id) pair for one browser login."""
        session_id = secrets.token_hex(_SESSION_BYTES)
        return f"{session_id}.{self._sign(session_id)}", f"web:{session_id}"

    def conversation_for(self, cookie: str | None) -> str | None:
        """The conversation of a valid session cookie that was not logged out, or None."""
        session_id = self.session_id(cookie)
        return f"web:{session_id}" if session_id is not None else None

    def session_id(self, cookie: str | None) -> str | None:
        """The id of a validly signed, not revoked session cookie, or None."""
        if not cookie or cookie.count(".") != 1:
            return None
        session_id, signature = cookie.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(session_id).encode()):
            return None
        return None if session_id in self.revoked else session_id

    def check_bearer(self, header: str | None) -> bool:
        """``Authorization: Bearer <secret>``, for scrapers of /metrics and /api/status."""
        if not header or not header.startswith("Bearer "):
            return False
        return self.check_token(header.removeprefix("Bearer ").strip())

    def _sign(self, session_id: str) -> str:
        message = _SIGN_CONTEXT + session_id.encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
