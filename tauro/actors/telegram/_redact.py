"""Keep the bot token out of every log line while the bridge is open.

The token is part of every Bot API URL (``.../bot<TOKEN>/sendMessage``), and
the libraries underneath log URLs: httpx logs each request at INFO,
python-telegram-bot logs its base URL at DEBUG, and a traceback may quote a
URL. A filter on those loggers, and on the root handlers present when the
bridge opens, rewrites such records before any handler formats them (with
`tauro.logs.Redactor`, the same redaction every formatted log line goes through).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tauro.logs import Redactor

# Loggers of the libraries under the bridge (a logger's filters do not see
# records of its children, so each one is named).
LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "telegram",
    "telegram.Bot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "asyncio",
    "trio_asyncio",
)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback when they contain a secret."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self._redact(text), None
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True


@contextmanager
def redacting_logs(*secrets: str) -> Iterator[RedactingFilter]:
    """Install the filter for the duration of the block."""
    redactor = RedactingFilter(secrets)
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        target.addFilter(redactor)
    try:
        yield redactor
    finally:
        for target in targets:
            target.removeFilter(redactor)
