"""The one declaration of every setting: environment name, config.yml path, type.

Defaults live on the dataclasses in ``_settings.py``; this table says how a raw
value from the environment or YAML becomes a typed one, and documents it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tauro.errors import ConfigError
from tauro.i18n import languages

Parser = Callable[[str, object], object]


@dataclass(frozen=True)
class SettingDef:
    env: str
    yaml: str  # "section.key" in config.yml
    section: str  # attribute of Settings
    field: str  # attribute of the section
    parse: Parser
    doc: str
    secret: bool = False


def _text(key: str, raw: object) -> object:
    if isinstance(raw, bool | int | float | str):
        return str(raw).strip()
    raise ConfigError(key, raw, "text")


def _number(kind: type[int] | type[float], low: float, high: float) -> Parser:
    def parse(key: str, raw: object) -> object:
        try:
            value = kind(str(raw).strip())
        except ValueError:
            raise ConfigError(key, raw, f"{kind.__name__} from {low} to {high}") from None
        if not low <= value <= high:
            raise ConfigError(key, raw, f"{kind.__name__} from {low} to {high}")
        return value

    return parse


def _auto_or(parse: Parser) -> Parser:
    def parse_auto(key: str, raw: object) -> object:
        if str(raw).strip().lower() == "auto":
            return "auto"
        try:
            return parse(key, raw)
        except ConfigError:
            raise ConfigError(key, raw, "auto, or an int from 1 to 1024") from None

    return parse_auto


def _bool(key: str, raw: object) -> object:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(key, raw, "true or false")


def _choice(*options: str, upper: bool = False) -> Parser:
    def parse(key: str, raw: object) -> object:
        text = str(raw).strip()
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise ConfigError(key, raw, "one of " + ", ".join(options))
        return text

    return parse


def _ids(key: str, raw: object) -> object:
    items = raw if isinstance(raw, list) else str(raw).replace(";", ",").split(",")
    try:
        return frozenset(int(str(item).strip()) for item in items if str(item).strip())
    except ValueError:
        raise ConfigError(key, raw, "comma-separated Telegram user ids (numbers)") from None


def _url(key: str, raw: object) -> object:
    text = str(raw).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(key, raw, "an http:// or https:// URL")
    return text


def _webhook_url(key: str, raw: object) -> object:
    """Empty (long polling), an https:// URL, or http:// to this machine (local tests)."""
    text = str(raw).strip()
    if not text:
        return ""
    parts = urlsplit(text)
    expected = "an https:// URL (http:// only for localhost, 127.0.0.1 or ::1), or empty"
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host or parts.scheme not in ("http", "https") or parts.query or parts.fragment:
        raise ConfigError(key, raw, expected)
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(key, raw, expected)
    return text


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _path(key: str, raw: object) -> object:
    text = str(raw).strip()
    if not text:
        raise ConfigError(key, raw, "a file path")
    return Path(text).expanduser()


def _optional_path(key: str, raw: object) -> object:
    return _path(key, raw) if str(raw).strip() else None


def _token(key: str, raw: object) -> object:
    text = str(raw).strip()
    if text and (":" not in text or any(c.isspace() for c in text)):
        raise ConfigError(key, "<redacted>", "a bot token from @BotFather, like 123456:ABC-DEF")
    return text


_F = float
_I = int
_INF = float("inf")

SETTINGS: tuple[SettingDef, ...] = (
    # Telegram
    SettingDef(
        "TELEGRAM_BOT_TOKEN",
        "bot.token",
        "telegram",
        "token",
        _token,
        "Bot token from @BotFather (required for `tauro run`).",
        secret=True,
    ),
    SettingDef(
        "TELEGRAM_API_BASE_URL",
        "bot.api_base_url",
        "telegram",
        "api_base_url",
        _url,
        "Bot API base URL in python-telegram-bot's base_url form.",
    ),
    SettingDef(
        "BOT_USERNAME",
        "bot.username",
        "telegram",
        "bot_username",
        _text,
        "The bot's @username, used to notice mentions in groups (read from getMe if empty).",
    ),
    SettingDef(
        "TELEGRAM_POLL_TIMEOUT",
        "bot.poll_timeout",
        "telegram",
        "poll_timeout",
        _number(_F, 0, 50),
        "Seconds getUpdates waits for new updates (long polling).",
    ),
    SettingDef(
        "TELEGRAM_REQUEST_TIMEOUT",
        "bot.request_timeout",
        "telegram",
        "request_timeout",
        _number(_F, 1, 600),
        "Seconds one Bot API request may take.",
    ),
    SettingDef(
        "TELEGRAM_MAX_CHATS_IN_FLIGHT",
        "bot.max_chats_in_flight",
        "telegram",
        "max_chats_in_flight",
        _number(_I, 1, 10000),
        "Chats handled at the same time; further updates wait (backpressure).",
    ),
    SettingDef(
        "TELEGRAM_EDIT_INTERVAL",
        "bot.edit_interval",
        "telegram",
        "edit_interval",
        _number(_F, 0.1, 60),
        "Seconds between edits of an answer as it streams in.",
    ),
    SettingDef(
        "MAX_MESSAGE_LENGTH",
        "limits.max_message_length",
        "telegram",
        "max_message_length",
        _number(_I, 16, 4096),
        "Characters per Telegram message; longer answers continue in new messages.",
    ),
    SettingDef(
        "TELEGRAM_PER_CHAT_RATE",
        "limits.per_chat_rate",
        "telegram",
        "per_chat_rate",
        _number(_F, 0.01, 30),
        "Messages per second sent to one private chat.",
    ),
    SettingDef(
        "TELEGRAM_GLOBAL_RATE",
        "limits.global_rate",
        "telegram",
        "global_rate",
        _number(_F, 0.1, 1000),
        "Messages per second sent by the whole bot.",
    ),
    SettingDef(
        "TELEGRAM_GROUP_RATE_PER_MINUTE",
        "limits.group_rate_per_minute",
        "telegram",
        "group_rate_per_minute",
        _number(_I, 1, 1000),
        "Messages per minute to one group.",
    ),
    SettingDef(
        "TELEGRAM_MAX_RETRIES",
        "bot.max_retries",
        "telegram",
        "max_retries",
        _number(_I, 0, 100),
        "Retries of a Bot API call after 429, 5xx or network errors.",
    ),
    SettingDef(
        "TELEGRAM_WEBHOOK_URL",
        "bot.webhook_url",
        "telegram",
        "webhook_url",
        _webhook_url,
        "Public HTTPS URL Telegram posts updates to instead of long polling; served by "
        "the web server on WEB_HOST:WEB_PORT at the URL's path (a reverse proxy maps "
        "it). Empty = long polling (a webhook left set is deleted at start).",
    ),
    # Access
    SettingDef(
        "ALLOWED_USER_IDS",
        "bot.allowed_user_ids",
        "access",
        "allowed_user_ids",
        _ids,
        "Comma-separated Telegram user ids allowed to chat; empty means everyone.",
    ),
    SettingDef(
        "ADMIN_USER_IDS",
        "bot.admin_user_ids",
        "access",
        "admin_user_ids",
        _ids,
        "Comma-separated Telegram user ids of admins (global /stats, /model switch).",
    ),
    SettingDef(
        "RATE_LIMIT_MESSAGES",
        "limits.rate_limit_messages",
        "access",
        "rate_limit_messages",
        _number(_I, 1, 100000),
        "Messages one user may send per window (admins are exempt).",
    ),
    SettingDef(
        "RATE_LIMIT_WINDOW",
        "limits.rate_limit_window",
        "access",
        "rate_limit_window",
        _number(_F, 1, 86400),
        "Seconds of the per-user rate-limit window.",
    ),
    # Language
    SettingDef(
        "BOT_LANGUAGE",
        "language.default",
        "language",
        "default",
        _choice(*languages()),
        "Language for users whose own is unknown or unsupported, and for groups.",
    ),
    # LLM
    SettingDef(
        "LLM_PROVIDER",
        "ollama.provider",
        "llm",
        "provider",
        _choice("ollama", "openai"),
        "`ollama` (/api/chat) or `openai` (/v1/chat/completions: llama.cpp, vLLM, LM Studio).",
    ),
    SettingDef("OLLAMA_HOST", "ollama.host", "llm", "host", _url, "Base URL of the LLM server."),
    SettingDef("OLLAMA_MODEL", "ollama.model", "llm", "model", _text, "Model name."),
    SettingDef(
        "LLM_API_KEY",
        "ollama.api_key",
        "llm",
        "api_key",
        _text,
        "Bearer token for an OpenAI-compatible server, if it needs one.",
        secret=True,
    ),
    SettingDef(
        "LLM_TEMPERATURE",
        "ollama.temperature",
        "llm",
        "temperature",
        _number(_F, 0, 2),
        "Sampling temperature.",
    ),
    SettingDef(
        "LLM_MAX_TOKENS",
        "ollama.max_tokens",
        "llm",
        "max_tokens",
        _number(_I, 1, 1_000_000),
        "Most tokens in one answer.",
    ),
    SettingDef(
        "LLM_CONTEXT_WINDOW",
        "ollama.context_window",
        "llm",
        "context_window",
        _number(_I, 256, 10_000_000),
        "Model context window in tokens (Ollama num_ctx).",
    ),
    SettingDef(
        "LLM_CONTEXT_MESSAGES",
        "ollama.context_messages",
        "llm",
        "context_messages",
        _number(_I, 0, 10000),
        "Stored messages sent with each question.",
    ),
    SettingDef(
        "LLM_SYSTEM_PROMPT",
        "ollama.system_prompt",
        "llm",
        "system_prompt",
        _text,
        "System prompt; the default is the built-in persona, in each user's language.",
    ),
    SettingDef(
        "LLM_MAX_PARALLEL",
        "ollama.max_parallel",
        "llm",
        "max_parallel",
        _auto_or(_number(_I, 1, 1024)),
        "Generations at once: `auto` asks the server (llama.cpp /props) or adapts to it; "
        "a number fixes it.",
    ),
    SettingDef(
        "LLM_CONNECT_TIMEOUT",
        "ollama.connect_timeout",
        "llm",
        "connect_timeout",
        _number(_F, 0.1, 600),
        "Seconds to connect to the LLM server.",
    ),
    SettingDef(
        "LLM_FIRST_TOKEN_TIMEOUT",
        "ollama.first_token_timeout",
        "llm",
        "first_token_timeout",
        _number(_F, 0.1, 3600),
        "Seconds to wait for the first token (model loading included).",
    ),
    SettingDef(
        "LLM_TOTAL_TIMEOUT",
        "ollama.total_timeout",
        "llm",
        "total_timeout",
        _number(_F, 0.1, 86400),
        "Seconds one whole answer may take.",
    ),
    SettingDef(
        "LLM_MAX_RETRIES",
        "ollama.max_retries",
        "llm",
        "max_retries",
        _number(_I, 0, 100),
        "Retries after connection errors (never after a partial answer).",
    ),
    # Memory
    SettingDef(
        "MEMORY_FILE",
        "memory.file",
        "memory",
        "file",
        _path,
        "Conversation store (the original JSON layout); its journal sits beside it.",
    ),
    SettingDef(
        "MAX_MEMORY_SIZE",
        "memory.max_size",
        "memory",
        "max_size",
        _number(_I, 1, 10_000_000),
        "Newest messages kept per conversation.",
    ),
    SettingDef(
        "SAVE_INTERVAL",
        "memory.save_interval",
        "memory",
        "save_interval",
        _number(_I, 1, 10000),
        "Most messages committed with one write and one fsync.",
    ),
    SettingDef(
        "MEMORY_RETENTION_DAYS",
        "memory.retention_days",
        "memory",
        "retention_days",
        _number(_F, 0, _INF),
        "Days after which an idle conversation is deleted; 0 (the default) keeps every "
        "conversation forever, as the original bot did. Each sweep that deletes logs a WARNING.",
    ),
    SettingDef(
        "MEMORY_RETENTION_CHECK_INTERVAL",
        "memory.retention_check_interval",
        "memory",
        "retention_check_interval",
        _number(_F, 1, _INF),
        "Seconds between retention sweeps.",
    ),
    SettingDef(
        "MEMORY_DURABILITY",
        "memory.durability",
        "memory",
        "durability",
        _choice("fsync", "none"),
        "`fsync` (survives power loss) or `none` (survives crashes only; for tmpfs).",
    ),
    SettingDef(
        "MEMORY_FLUSH_TIMEOUT",
        "memory.flush_timeout",
        "memory",
        "flush_timeout",
        _number(_F, 0.1, 3600),
        "Seconds the final snapshot at shutdown may take.",
    ),
    # Voice
    SettingDef(
        "ENABLE_TTS",
        "voice.tts_enabled",
        "voice",
        "enabled",
        _bool,
        "Offer voice answers (/voice).",
    ),
    SettingDef(
        "TTS_LANGUAGE",
        "voice.language",
        "voice",
        "language",
        _text,
        "espeak-ng voice for every answer, e.g. it, en-us; empty: each user's language.",
    ),
    SettingDef(
        "TTS_RATE",
        "voice.rate",
        "voice",
        "rate",
        _number(_I, 40, 600),
        "Speech rate in words per minute.",
    ),
    SettingDef(
        "TTS_VOLUME",
        "voice.volume",
        "voice",
        "volume",
        _number(_F, 0, 1),
        "Speech volume from 0.0 to 1.0.",
    ),
    SettingDef(
        "TTS_MAX_CHARS",
        "voice.max_chars",
        "voice",
        "max_chars",
        _number(_I, 10, 100000),
        "Characters of an answer read out at most.",
    ),
    SettingDef(
        "TTS_WORKERS",
        "voice.workers",
        "voice",
        "workers",
        _number(_I, 1, 64),
        "Synthesis worker processes.",
    ),
    SettingDef(
        "TTS_CACHE_ENTRIES",
        "voice.cache_entries",
        "voice",
        "cache_entries",
        _number(_I, 0, 10000),
        "Voice notes kept for identical texts (0 = no cache).",
    ),
    SettingDef(
        "VOICE_DIR",
        "voice.directory",
        "voice",
        "directory",
        _optional_path,
        "Private folder (0700) for voice notes and web clips; empty = `voice/` beside "
        "MEMORY_FILE. An existing folder must be the bot user's own, 0700, not a link.",
    ),
    # Web
    SettingDef("WEB_ENABLED", "web.enabled", "web", "enabled", _bool, "Serve the web app."),
    SettingDef(
        "WEB_HOST",
        "web.host",
        "web",
        "host",
        _text,
        "Address the web app listens on (localhost only by default).",
    ),
    SettingDef(
        "WEB_PORT",
        "web.port",
        "web",
        "port",
        _number(_I, 0, 65535),
        "Port of the web app (0 = any free port).",
    ),
    SettingDef(
        "WEB_TOKEN",
        "web.token",
        "web",
        "token",
        _text,
        "Secret for the web app; generated and stored privately if empty.",
        secret=True,
    ),
    SettingDef(
        "WEB_MAX_BODY_BYTES",
        "web.max_body_bytes",
        "web",
        "max_body_bytes",
        _number(_I, 1024, 100_000_000),
        "Largest request body accepted.",
    ),
    # Runtime
    SettingDef(
        "MAILBOX_SIZE",
        "runtime.mailbox_size",
        "runtime",
        "mailbox_size",
        _number(_I, 1, 1_000_000),
        "Messages an actor's mailbox holds before senders wait.",
    ),
    SettingDef(
        "ASK_TIMEOUT",
        "runtime.ask_timeout",
        "runtime",
        "ask_timeout",
        _number(_F, 0.01, 86400),
        "Default seconds an ask waits for its reply.",
    ),
    SettingDef(
        "SHUTDOWN_TIMEOUT",
        "runtime.stop_timeout",
        "runtime",
        "stop_timeout",
        _number(_F, 0.01, 3600),
        "Seconds each actor gets to stop gracefully.",
    ),
    SettingDef(
        "STOP_GRACE_PERIOD",
        "runtime.grace_period",
        "runtime",
        "grace_period",
        _number(_F, 0, 3600),
        "Seconds answers in progress get to finish on a graceful stop (Ctrl-C, SIGTERM); "
        "then they are cancelled (Telegram's are answered at the next start).",
    ),
    SettingDef(
        "MAX_RESTARTS",
        "runtime.max_restarts",
        "runtime",
        "max_restarts",
        _number(_I, 0, 10000),
        "Restarts a supervisor allows within RESTART_WINDOW.",
    ),
    SettingDef(
        "RESTART_WINDOW",
        "runtime.restart_window",
        "runtime",
        "restart_window",
        _number(_F, 0.01, 86400),
        "Seconds of the restart-intensity window.",
    ),
    SettingDef(
        "RESTART_BACKOFF_INITIAL",
        "runtime.backoff_initial",
        "runtime",
        "backoff_initial",
        _number(_F, 0, 3600),
        "Seconds before the first restart.",
    ),
    SettingDef(
        "RESTART_BACKOFF_MAX",
        "runtime.backoff_max",
        "runtime",
        "backoff_max",
        _number(_F, 0, 3600),
        "Longest wait before a restart (backoff doubles up to it).",
    ),
    SettingDef(
        "IO_THREADS",
        "runtime.io_threads",
        "runtime",
        "io_threads",
        _number(_I, 1, 256),
        "Worker threads for blocking work other than the memory writer.",
    ),
    # Logging
    SettingDef(
        "LOG_LEVEL",
        "logging.level",
        "logging",
        "level",
        _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
        "Least severe level logged.",
    ),
    SettingDef(
        "LOG_FORMAT",
        "logging.format",
        "logging",
        "format",
        _choice("text", "json"),
        "`text` (key=value for people) or `json` (one object per line).",
    ),
    SettingDef(
        "LOG_FILE",
        "logging.file",
        "logging",
        "file",
        _optional_path,
        "Also write the log to this file.",
    ),
)
