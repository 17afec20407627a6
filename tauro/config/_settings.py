"""Frozen value objects, one per subsystem, with typed defaults and explicit units."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_SYSTEM_PROMPT = (
    "Sei TauroBot, un assistente amichevole e utile. Rispondi nella lingua "
    "dell'utente, in modo chiaro e conciso."
)


@dataclass(frozen=True, kw_only=True)
class TelegramSettings:
    token: str = ""
    api_base_url: str = "https://api.telegram.org/bot"
    bot_username: str = ""
    poll_timeout: float = 30.0  # seconds of getUpdates long polling
    request_timeout: float = 20.0  # seconds for one Bot API call (plus poll_timeout)
    max_chats_in_flight: int = 64
    edit_interval: float = 1.0  # seconds between edits of a streaming answer
    max_message_length: int = 4096
    per_chat_rate: float = 1.0  # messages per second per private chat
    global_rate: float = 30.0  # messages per second for the whole bot
    group_rate_per_minute: int = 20
    max_retries: int = 5
    webhook_url: str = ""  # empty: long polling

    @property
    def webhook_path(self) -> str:
        """The path of ``webhook_url`` the web server answers on ("/" when it has none)."""
        return urlsplit(self.webhook_url).path or "/"


@dataclass(frozen=True, kw_only=True)
class AccessSettings:
    allowed_user_ids: frozenset[int] = frozenset()
    admin_user_ids: frozenset[int] = frozenset()
    rate_limit_messages: int = 30
    rate_limit_window: float = 60.0  # seconds


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    provider: Literal["ollama", "openai"] = "ollama"
    host: str = "http://localhost:11434"
    model: str = "llama2"
    api_key: str = ""
    temperature: float = 0.7
    max_tokens: int = 2000
    context_window: int = 4096
    context_messages: int = 10
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_parallel: int | Literal["auto"] = "auto"  # "auto": the server's slots, else adaptive
    connect_timeout: float = 5.0  # seconds
    first_token_timeout: float = 60.0  # seconds
    total_timeout: float = 300.0  # seconds
    max_retries: int = 2


@dataclass(frozen=True, kw_only=True)
class MemorySettings:
    file: Path = Path("memory/conversations.json")
    max_size: int = 1000  # messages kept per conversation
    save_interval: int = 5  # messages committed per batch at most
    retention_days: float = 0.0  # 0: keep every conversation forever, as the original did
    retention_check_interval: float = 3600.0  # seconds
    durability: Literal["fsync", "none"] = "fsync"
    flush_timeout: float = 30.0  # seconds for the final snapshot at shutdown


@dataclass(frozen=True, kw_only=True)
class LanguageSettings:
    # For users whose language is unknown or has no catalog, and for groups.
    # Italian, as TauroBot 3.0 spoke to everyone.
    default: str = "it"


@dataclass(frozen=True, kw_only=True)
class VoiceSettings:
    enabled: bool = True
    language: str = ""  # empty: each user's language (/lang, Telegram's language)
    rate: int = 150  # words per minute
    volume: float = 1.0  # 0.0 to 1.0
    max_chars: int = 1000  # longer answers are cut for speech
    workers: int = 1  # synthesis processes
    cache_entries: int = 32
    directory: Path | None = None  # private audio folder; None: beside the memory file


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = ""
    max_body_bytes: int = 65536


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    mailbox_size: int = 100
    ask_timeout: float = 30.0  # seconds
    stop_timeout: float = 5.0  # seconds per actor for a graceful stop
    grace_period: float = 30.0  # seconds answers in progress get to finish on a graceful stop
    max_restarts: int = 5
    restart_window: float = 60.0  # seconds
    backoff_initial: float = 0.1  # seconds
    backoff_max: float = 5.0  # seconds
    io_threads: int = 4


@dataclass(frozen=True, kw_only=True)
class LoggingSettings:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    file: Path | None = None


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
