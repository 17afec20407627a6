"""Structured logging: one line per event, key=value for people or JSON on request.

Events are logged as short names (``memory.snapshot.written``) with fields passed
as ``extra={"fields": {...}}``. Every line — message, fields and tracebacks — goes
through redaction before it is written: the configured secrets, and anything
shaped like a Telegram bot token (it is part of every Bot API URL), never reach
a log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tauro.files import make_directories, open_private_file

__all__ = ["Redactor", "StructuredFormatter", "configure_logging", "redact"]

_BOT_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}")
_URL_TOKEN = re.compile(r"/bot[^/\s]+/")
_REDACTED = "<redacted>"
# Libraries that log every request with its URL at INFO; ours says what matters.
_QUIET_LOGGERS = ("httpx", "httpcore", "telegram", "hypercorn.access", "asyncio", "trio_asyncio")


class Redactor:
    """Replaces secrets and token-shaped strings in text: the one redaction of the project.

    A secret shaped like a bot token (``id:secret``) is also replaced where its secret
    half stands alone. Secrets shorter than four characters are not replaced: they
    would blank out ordinary words and digits.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        parts = {part for secret in secrets for part in _secret_parts(secret)}
        self._secrets = sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        text = _BOT_TOKEN.sub(_REDACTED, text)
        return _URL_TOKEN.sub(f"/bot{_REDACTED}/", text)


def _secret_parts(secret: str) -> tuple[str, ...]:
    tail = secret.partition(":")[2]
    return (secret, tail) if len(tail) >= 8 else (secret,)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` as a log line would show it: see `Redactor`."""
    return Redactor(secrets)(text)


class StructuredFormatter(logging.Formatter):
    """Formats a record as ``time level event key=value ...`` or as one JSON object."""

    def __init__(self, *, json_lines: bool, redactor: Redactor) -> None:
        super().__init__()
        self._json = json_lines
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", {}) or {})
        if record.exc_info and record.exc_info[1] is not None:
            fields["traceback"] = self.formatException(record.exc_info)
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        event = record.getMessage()
        if self._json:
            line = json.dumps(
                {
                    "time": stamp,
                    "level": record.levelname.lower(),
                    "logger": record.name,
                    "event": event,
                    **fields,
                },
                default=str,
                ensure_ascii=False,
            )
        else:
            pairs = " ".join(f"{key}={_quote(value)}" for key, value in fields.items())
            line = f"{stamp} {record.levelname:<7} {event}" + (f" {pairs}" if pairs else "")
        return self._redact(line)


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure_logging(
    *,
    level: str = "INFO",
    json_lines: bool = False,
    secrets: Iterable[str] = (),
    file: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Install one redacting formatter on the root logger (replacing earlier handlers)."""
    formatter = StructuredFormatter(json_lines=json_lines, redactor=Redactor(secrets))
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if file is not None:
        handlers.append(logging.FileHandler(_private_log_file(file), encoding="utf-8"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.WARNING if level != "DEBUG" else logging.INFO
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


def _private_log_file(file: Path) -> Path:
    """Create LOG_FILE (and missing folders) private: 0600, in 0700 folders.

    An existing file keeps the mode its owner gave it.
    """
    make_directories(file.parent)
    os.close(open_private_file(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    return file
