"""Frozen value objects, one per subsystem: every setting declared once, on its field.

A field's ``setting(...)`` holds its default, its original environment name, its
``config.yml`` key, its parser (type, bounds, unit) and its documentation;
``_table`` collects them for loading, ``tauro check`` and docs/configuration.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from tauro.config._fields import (
    INF,
    auto_or,
    boolean,
    bot_token,
    choice,
    number,
    optional_path,
    path,
    setting,
    text,
    url,
    user_ids,
    webhook_url,
)
from tauro.i18n import languages

DEFAULT_SYSTEM_PROMPT = (
    "Sei TauroBot, un assistente amichevole e utile. Rispondi nella lingua "
    "dell'utente, in modo chiaro e conciso."
)


@dataclass(frozen=True, kw_only=True)
class TelegramSettings:
    token: str = setting(
        "",
        env="TELEGRAM_BOT_TOKEN",
        yaml="bot.token",
        parse=bot_token,
        doc="Bot token from @BotFather (required for `tauro run`).",
        secret=True,
    )
    api_base_url: str = setting(
        "https://api.telegram.org/bot",
        env="TELEGRAM_API_BASE_URL",
        yaml="bot.api_base_url",
        parse=url,
        doc="Bot API base URL in python-telegram-bot's base_url form.",
    )
    bot_username: str = setting(
        "",
        env="BOT_USERNAME",
        yaml="bot.username",
        parse=text,
        doc="The bot's @username, used to notice mentions in groups (read from getMe if empty).",
    )
    poll_timeout: float = setting(
        30.0,
        env="TELEGRAM_POLL_TIMEOUT",
        yaml="bot.poll_timeout",
        parse=number(float, 0, 50),
        doc="Seconds getUpdates waits for new updates (long polling).",
    )
    # getUpdates may take poll_timeout seconds more
    request_timeout: float = setting(
        20.0,
        env="TELEGRAM_REQUEST_TIMEOUT",
        yaml="bot.request_timeout",
        parse=number(float, 1, 600),
        doc="Seconds one Bot API request may take.",
    )
    max_chats_in_flight: int = setting(
        64,
        env="TELEGRAM_MAX_CHATS_IN_FLIGHT",
        yaml="bot.max_chats_in_flight",
        parse=number(int, 1, 10000),
        doc="Chats handled at the same time; further updates wait (backpressure).",
    )
    edit_interval: float = setting(
        1.0,
        env="TELEGRAM_EDIT_INTERVAL",
        yaml="bot.edit_interval",
        parse=number(float, 0.1, 60),
        doc="Seconds between edits of an answer as it streams in.",
    )
    max_message_length: int = setting(
        4096,
        env="MAX_MESSAGE_LENGTH",
        yaml="limits.max_message_length",
        parse=number(int, 16, 4096),
        doc="Characters per Telegram message; longer answers continue in new messages.",
    )
    per_chat_rate: float = setting(
        1.0,
        env="TELEGRAM_PER_CHAT_RATE",
        yaml="limits.per_chat_rate",
        parse=number(float, 0.01, 30),
        doc="Messages per second sent to one private chat.",
    )
    global_rate: float = setting(
        30.0,
        env="TELEGRAM_GLOBAL_RATE",
        yaml="limits.global_rate",
        parse=number(float, 0.1, 1000),
        doc="Messages per second sent by the whole bot.",
    )
    group_rate_per_minute: int = setting(
        20,
        env="TELEGRAM_GROUP_RATE_PER_MINUTE",
        yaml="limits.group_rate_per_minute",
        parse=number(int, 1, 1000),
        doc="Messages per minute to one group.",
    )
    max_retries: int = setting(
        5,
        env="TELEGRAM_MAX_RETRIES",
        yaml="bot.max_retries",
        parse=number(int, 0, 100),
        doc="Retries of a Bot API call after 429, 5xx or network errors.",
    )
    webhook_url: str = setting(
        "",
        env="TELEGRAM_WEBHOOK_URL",
        yaml="bot.webhook_url",
        parse=webhook_url,
        doc="Public HTTPS URL Telegram posts updates to instead of long polling; served by "
        "the web server on WEB_HOST:WEB_PORT at the URL's path (a reverse proxy maps "
        "it). Empty = long polling (a webhook left set is deleted at start).",
    )

    @property
    def webhook_path(self) -> str:
        """The path of ``webhook_url`` the web server answers on ("/" when it has none)."""
        return urlsplit(self.webhook_url).path or "/"


@dataclass(frozen=True, kw_only=True)
class AccessSettings:
    allowed_user_ids: frozenset[int] = setting(
        frozenset(),
        env="ALLOWED_USER_IDS",
        yaml="bot.allowed_user_ids",
        parse=user_ids,
        doc="Comma-separated Telegram user ids allowed to chat; empty means everyone.",
    )
    admin_user_ids: frozenset[int] = setting(
        frozenset(),
        env="ADMIN_USER_IDS",
        yaml="bot.admin_user_ids",
        parse=user_ids,
        doc="Comma-separated Telegram user ids of admins (global /stats, /model switch).",
    )
    rate_limit_messages: int = setting(
        30,
        env="RATE_LIMIT_MESSAGES",
        yaml="limits.rate_limit_messages",
        parse=number(int, 1, 100000),
        doc="Messages one user may send per window (admins are exempt).",
    )
    rate_limit_window: float = setting(
        60.0,
        env="RATE_LIMIT_WINDOW",
        yaml="limits.rate_limit_window",
        parse=number(float, 1, 86400),
        doc="Seconds of the per-user rate-limit window.",
    )


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    provider: Literal["ollama", "openai"] = setting(
        "ollama",
        env="LLM_PROVIDER",
        yaml="ollama.provider",
        parse=choice("ollama", "openai"),
        doc="`ollama` (/api/chat) or `openai` (/v1/chat/completions: llama.cpp, vLLM, LM Studio).",
    )
    host: str = setting(
        "http://localhost:11434",
        env="OLLAMA_HOST",
        yaml="ollama.host",
        parse=url,
        doc="Base URL of the LLM server.",
    )
    model: str = setting(
        "llama2",
        env="OLLAMA_MODEL",
        yaml="ollama.model",
        parse=text,
        doc="Model name.",
    )
    api_key: str = setting(
        "",
        env="LLM_API_KEY",
        yaml="ollama.api_key",
        parse=text,
        doc="Bearer token for an OpenAI-compatible server, if it needs one.",
        secret=True,
    )
    temperature: float = setting(
        0.7,
        env="LLM_TEMPERATURE",
        yaml="ollama.temperature",
        parse=number(float, 0, 2),
        doc="Sampling temperature.",
    )
    max_tokens: int = setting(
        2000,
        env="LLM_MAX_TOKENS",
        yaml="ollama.max_tokens",
        parse=number(int, 1, 1_000_000),
        doc="Most tokens in one answer.",
    )
    context_window: int = setting(
        4096,
        env="LLM_CONTEXT_WINDOW",
        yaml="ollama.context_window",
        parse=number(int, 256, 10_000_000),
        doc="Model context window in tokens (Ollama num_ctx).",
    )
    context_messages: int = setting(
        10,
        env="LLM_CONTEXT_MESSAGES",
        yaml="ollama.context_messages",
        parse=number(int, 0, 10000),
        doc="Stored messages sent with each question.",
    )
    system_prompt: str = setting(
        DEFAULT_SYSTEM_PROMPT,
        env="LLM_SYSTEM_PROMPT",
        yaml="ollama.system_prompt",
        parse=text,
        doc="System prompt; the default is the built-in persona, in each user's language.",
    )
    max_parallel: int | Literal["auto"] = setting(
        "auto",
        env="LLM_MAX_PARALLEL",
        yaml="ollama.max_parallel",
        parse=auto_or(number(int, 1, 1024)),
        doc="Generations at once: `auto` asks the server (llama.cpp /props) or adapts to it; "
        "a number fixes it.",
    )
    connect_timeout: float = setting(
        5.0,
        env="LLM_CONNECT_TIMEOUT",
        yaml="ollama.connect_timeout",
        parse=number(float, 0.1, 600),
        doc="Seconds to connect to the LLM server.",
    )
    first_token_timeout: float = setting(
        60.0,
        env="LLM_FIRST_TOKEN_TIMEOUT",
        yaml="ollama.first_token_timeout",
        parse=number(float, 0.1, 3600),
        doc="Seconds to wait for the first token (model loading included).",
    )
    total_timeout: float = setting(
        300.0,
        env="LLM_TOTAL_TIMEOUT",
        yaml="ollama.total_timeout",
        parse=number(float, 0.1, 86400),
        doc="Seconds one whole answer may take.",
    )
    max_retries: int = setting(
        2,
        env="LLM_MAX_RETRIES",
        yaml="ollama.max_retries",
        parse=number(int, 0, 100),
        doc="Retries after connection errors (never after a partial answer).",
    )


@dataclass(frozen=True, kw_only=True)
class MemorySettings:
    file: Path = setting(  # noqa: RUF009 (a field declaration, see _fields.setting)
        Path("memory/conversations.json"),
        env="MEMORY_FILE",
        yaml="memory.file",
        parse=path,
        doc="Conversation store (the original JSON layout); its journal sits beside it.",
    )
    max_size: int = setting(
        1000,
        env="MAX_MEMORY_SIZE",
        yaml="memory.max_size",
        parse=number(int, 1, 10_000_000),
        doc="Newest messages kept per conversation.",
    )
    save_interval: int = setting(
        5,
        env="SAVE_INTERVAL",
        yaml="memory.save_interval",
        parse=number(int, 1, 10000),
        doc="Most messages committed with one write and one fsync.",
    )
    retention_days: float = setting(
        0.0,
        env="MEMORY_RETENTION_DAYS",
        yaml="memory.retention_days",
        parse=number(float, 0, INF),
        doc="Days after which an idle conversation is deleted; 0 (the default) keeps every "
        "conversation forever, as the original bot did. Each sweep that deletes logs a WARNING.",
    )
    retention_check_interval: float = setting(
        3600.0,
        env="MEMORY_RETENTION_CHECK_INTERVAL",
        yaml="memory.retention_check_interval",
        parse=number(float, 1, INF),
        doc="Seconds between retention sweeps.",
    )
    durability: Literal["fsync", "none"] = setting(
        "fsync",
        env="MEMORY_DURABILITY",
        yaml="memory.durability",
        parse=choice("fsync", "none"),
        doc="`fsync` (survives power loss) or `none` (survives crashes only; for tmpfs).",
    )
    flush_timeout: float = setting(
        30.0,
        env="MEMORY_FLUSH_TIMEOUT",
        yaml="memory.flush_timeout",
        parse=number(float, 0.1, 3600),
        doc="Seconds the final snapshot at shutdown may take.",
    )


@dataclass(frozen=True, kw_only=True)
class LanguageSettings:
    # For users whose language is unknown or has no catalog, and for groups.
    # Italian, as TauroBot 3.0 spoke to everyone.
    default: str = setting(
        "it",
        env="BOT_LANGUAGE",
        yaml="language.default",
        parse=choice(*languages()),
        doc="Language for users whose own is unknown or unsupported, and for groups.",
    )


@dataclass(frozen=True, kw_only=True)
class VoiceSettings:
    enabled: bool = setting(
        True,
        env="ENABLE_TTS",
        yaml="voice.tts_enabled",
        parse=boolean,
        doc="Offer voice answers (/voice).",
    )
    language: str = setting(
        "",
        env="TTS_LANGUAGE",
        yaml="voice.language",
        parse=text,
        doc="espeak-ng voice for every answer, e.g. it, en-us; empty: each user's language.",
    )
    rate: int = setting(
        150,
        env="TTS_RATE",
        yaml="voice.rate",
        parse=number(int, 40, 600),
        doc="Speech rate in words per minute.",
    )
    volume: float = setting(
        1.0,
        env="TTS_VOLUME",
        yaml="voice.volume",
        parse=number(float, 0, 1),
        doc="Speech volume from 0.0 to 1.0.",
    )
    max_chars: int = setting(
        1000,
        env="TTS_MAX_CHARS",
        yaml="voice.max_chars",
        parse=number(int, 10, 100000),
        doc="Characters of an answer read out at most.",
    )
    workers: int = setting(
        1,
        env="TTS_WORKERS",
        yaml="voice.workers",
        parse=number(int, 1, 64),
        doc="Synthesis worker processes.",
    )
    cache_entries: int = setting(
        32,
        env="TTS_CACHE_ENTRIES",
        yaml="voice.cache_entries",
        parse=number(int, 0, 10000),
        doc="Voice notes kept for identical texts (0 = no cache).",
    )
    directory: Path | None = setting(  # noqa: RUF009 (a field declaration, see _fields.setting)
        None,
        env="VOICE_DIR",
        yaml="voice.directory",
        parse=optional_path,
        doc="Private folder (0700) for voice notes and web clips; empty = `voice/` beside "
        "MEMORY_FILE. An existing folder must be the bot user's own, 0700, not a link.",
    )


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    enabled: bool = setting(
        True,
        env="WEB_ENABLED",
        yaml="web.enabled",
        parse=boolean,
        doc="Serve the web app.",
    )
    host: str = setting(
        "127.0.0.1",
        env="WEB_HOST",
        yaml="web.host",
        parse=text,
        doc="Address the web app listens on (localhost only by default).",
    )
    port: int = setting(
        8080,
        env="WEB_PORT",
        yaml="web.port",
        parse=number(int, 0, 65535),
        doc="Port of the web app (0 = any free port).",
    )
    token: str = setting(
        "",
        env="WEB_TOKEN",
        yaml="web.token",
        parse=text,
        doc="Secret for the web app; generated and stored privately if empty.",
        secret=True,
    )
    max_body_bytes: int = setting(
        65536,
        env="WEB_MAX_BODY_BYTES",
        yaml="web.max_body_bytes",
        parse=number(int, 1024, 100_000_000),
        doc="Largest request body accepted.",
    )


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    mailbox_size: int = setting(
        100,
        env="MAILBOX_SIZE",
        yaml="runtime.mailbox_size",
        parse=number(int, 1, 1_000_000),
        doc="Messages an actor's mailbox holds before senders wait.",
    )
    ask_timeout: float = setting(
        30.0,
        env="ASK_TIMEOUT",
        yaml="runtime.ask_timeout",
        parse=number(float, 0.01, 86400),
        doc="Default seconds an ask waits for its reply.",
    )
    stop_timeout: float = setting(
        5.0,
        env="SHUTDOWN_TIMEOUT",
        yaml="runtime.stop_timeout",
        parse=number(float, 0.01, 3600),
        doc="Seconds each actor gets to stop gracefully.",
    )
    grace_period: float = setting(
        30.0,
        env="STOP_GRACE_PERIOD",
        yaml="runtime.grace_period",
        parse=number(float, 0, 3600),
        doc="Seconds answers in progress get to finish on a graceful stop (Ctrl-C, SIGTERM); "
        "then they are cancelled (Telegram's are answered at the next start).",
    )
    max_restarts: int = setting(
        5,
        env="MAX_RESTARTS",
        yaml="runtime.max_restarts",
        parse=number(int, 0, 10000),
        doc="Restarts a supervisor allows within RESTART_WINDOW.",
    )
    restart_window: float = setting(
        60.0,
        env="RESTART_WINDOW",
        yaml="runtime.restart_window",
        parse=number(float, 0.01, 86400),
        doc="Seconds of the restart-intensity window.",
    )
    backoff_initial: float = setting(
        0.1,
        env="RESTART_BACKOFF_INITIAL",
        yaml="runtime.backoff_initial",
        parse=number(float, 0, 3600),
        doc="Seconds before the first restart.",
    )
    backoff_max: float = setting(
        5.0,
        env="RESTART_BACKOFF_MAX",
        yaml="runtime.backoff_max",
        parse=number(float, 0, 3600),
        doc="Longest wait before a restart (backoff doubles up to it).",
    )
    io_threads: int = setting(
        4,
        env="IO_THREADS",
        yaml="runtime.io_threads",
        parse=number(int, 1, 256),
        doc="Worker threads for blocking work other than the memory writer.",
    )


@dataclass(frozen=True, kw_only=True)
class LoggingSettings:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting(
        "INFO",
        env="LOG_LEVEL",
        yaml="logging.level",
        parse=choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
        doc="Least severe level logged.",
    )
    format: Literal["text", "json"] = setting(
        "text",
        env="LOG_FORMAT",
        yaml="logging.format",
        parse=choice("text", "json"),
        doc="`text` (key=value for people) or `json` (one object per line).",
    )
    file: Path | None = setting(  # noqa: RUF009 (a field declaration, see _fields.setting)
        None,
        env="LOG_FILE",
        yaml="logging.file",
        parse=optional_path,
        doc="Also write the log to this file.",
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    language: LanguageSettings = field(default_factory=LanguageSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    web: WebSettings = field(default_factory=WebSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def audio_directory(self) -> Path:
        """The private folder of voice notes (``notes/``) and web clips (``web/``)."""
        return self.voice.directory or self.memory.file.parent / "voice"

    def voice_actor_settings(self) -> VoiceSettings:
        """The voice actor's settings: its own default language is TTS_LANGUAGE, else
        BOT_LANGUAGE (channels pass each user's language when TTS_LANGUAGE is empty)."""
        return replace(self.voice, language=self.voice.language or self.language.default)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line or an error."""
        return tuple(s for s in (self.telegram.token, self.llm.api_key, self.web.token) if s)
