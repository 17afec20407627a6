"""Every error TauroBot raises on purpose, in one tree.

Errors of the libraries underneath (httpx, python-telegram-bot, OSError from the
disk) are translated at the edge that meets them, so callers see one vocabulary
and every message names the setting or file involved and says what to do::

    TauroError
    ├── ConfigError                 a setting is missing or has a bad value
    ├── ActorError                  the actor runtime
    │   ├── ActorNotRunningError    tell/ask to an actor that is stopping or stopped
    │   ├── AskTimeoutError         an ask got no reply in time
    │   ├── MailboxFullError        try_tell found the mailbox full
    │   └── EscalationError         a supervisor gave up restarting a child
    ├── MemoryStoreError            conversation persistence
    │   ├── CorruptMemoryFileError  the memory file or journal cannot be read
    │   └── PersistenceError        a write or fsync failed (disk full, I/O error)
    ├── TelegramError               the Telegram Bot API
    │   ├── InvalidTokenError       getMe refused the token
    │   ├── PollingConflictError    409: another instance polls, or a webhook is set
    │   └── WebhookRefusedError     setWebhook refused TELEGRAM_WEBHOOK_URL
    ├── LLMError                    the language model server
    │   ├── LLMUnreachableError     cannot connect to the server
    │   ├── ModelNotFoundError      the model is not installed
    │   ├── LLMTimeoutError         no first token / no answer in time
    │   ├── LLMContextError         the conversation does not fit the model's context
    │   └── LLMResponseError        the server answered with an error or garbage
    │       └── LLMCutError         the answer ended before the server said it was done
    ├── VoiceError                  speech synthesis or encoding failed
    ├── WebError                    the web channel
    └── UnsafePathError             a folder others could reach or swap (refused)

``trio.Cancelled`` is a ``BaseException`` and never caught by ``except TauroError``.
"""

from __future__ import annotations

__all__ = [
    "ActorError",
    "ActorNotRunningError",
    "AskTimeoutError",
    "ConfigError",
    "CorruptMemoryFileError",
    "EscalationError",
    "InvalidTokenError",
    "LLMContextError",
    "LLMCutError",
    "LLMError",
    "LLMResponseError",
    "LLMTimeoutError",
    "LLMUnreachableError",
    "MailboxFullError",
    "MemoryStoreError",
    "ModelNotFoundError",
    "PersistenceError",
    "PollingConflictError",
    "TauroError",
    "TelegramError",
    "UnsafePathError",
    "VoiceError",
    "WebError",
    "WebhookRefusedError",
]


class TauroError(Exception):
    """Base of every error TauroBot raises on purpose."""


class ConfigError(TauroError):
    """A setting is missing or invalid; raised before anything starts."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        shown = "<missing>" if value is None else repr(value)
        super().__init__(f"setting {key}={shown} is invalid: expected {expected}")


class ActorError(TauroError):
    """Base of the actor runtime's errors; ``actor`` names the actor involved."""

    def __init__(self, actor: str, message: str) -> None:
        self.actor = actor
        super().__init__(f"actor {actor!r}: {message}")


class ActorNotRunningError(ActorError):
    """The actor is stopping or stopped, so it will never handle this message."""


class AskTimeoutError(ActorError):
    """An ask got no reply within its timeout."""


class MailboxFullError(ActorError):
    """``try_tell`` found the mailbox full; the message was not delivered."""


class EscalationError(ActorError):
    """A supervisor gave up: a child failed too often, or with a fatal error.

    ``actor`` is the child that failed, ``supervisor`` the one that gave up,
    ``cause`` (and ``__cause__``) the child's last error. ``fatal`` is True when
    the error was one its spec marks as not worth a restart (a refused token).
    """

    def __init__(
        self, supervisor: str, actor: str, cause: BaseException, *, fatal: bool = False
    ) -> None:
        self.supervisor = supervisor
        self.cause = cause
        self.fatal = fatal
        reason = (
            "a fatal error that restarting cannot fix"
            if fatal
            else f"restart intensity of supervisor {supervisor!r} exceeded"
        )
        super().__init__(actor, f"{reason}; last error: {type(cause).__name__}: {cause}")


class MemoryStoreError(TauroError):
    """Conversation persistence failed; ``path`` names the file."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class CorruptMemoryFileError(MemoryStoreError):
    """The memory file or its journal cannot be read as what it should be."""


class PersistenceError(MemoryStoreError):
    """A write or fsync failed; the data involved was not acknowledged."""


class TelegramError(TauroError):
    """The Telegram Bot API failed; messages never contain the bot token."""


class InvalidTokenError(TelegramError):
    """Telegram refused the token (TELEGRAM_BOT_TOKEN)."""


class PollingConflictError(TelegramError):
    """Telegram answered 409 Conflict to getUpdates."""


class WebhookRefusedError(TelegramError):
    """Telegram refused the webhook (TELEGRAM_WEBHOOK_URL): no restart can help."""


class LLMError(TauroError):
    """The LLM server failed; ``user_message`` is safe to show to a chat user."""

    def __init__(self, message: str, *, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(message)


class LLMUnreachableError(LLMError):
    """The LLM server could not be reached."""


class ModelNotFoundError(LLMError):
    """The configured model is not installed on the server."""


class LLMTimeoutError(LLMError):
    """The LLM server did not answer in time."""


class LLMResponseError(LLMError):
    """The LLM server answered with an error status or a malformed body."""


class LLMCutError(LLMResponseError):
    """The answer stopped before the server said why it ended (no finish reason).

    ``interrupted`` is True when the server ended it itself without a reason
    (``[DONE]`` alone), as a server does that stops one answer for another;
    ``empty`` when the server answered 200 and sent nothing at all.
    """

    def __init__(
        self, message: str, *, user_message: str, interrupted: bool = False, empty: bool = False
    ) -> None:
        self.interrupted = interrupted
        self.empty = empty
        super().__init__(message, user_message=user_message)


class LLMContextError(LLMError):
    """The conversation (or one message) does not fit the model's context window."""


class VoiceError(TauroError):
    """Speech synthesis or encoding failed."""


class WebError(TauroError):
    """The web channel failed to start or serve."""


class UnsafePathError(TauroError):
    """A folder the bot would keep private data in is not private; ``path`` names it.

    Raised instead of using it: a symbolic link, something that is not a folder,
    a folder of another user, or one other users can read or write.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")
