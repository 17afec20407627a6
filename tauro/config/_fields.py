"""How a setting is declared on its field, and how a raw value becomes a typed one.

Each field of the settings dataclasses is declared with ``setting(default, ...)``:
its environment name (the original bot's), its ``config.yml`` key, its parser
(type and bounds) and its documentation, in one place. ``_table`` collects them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from tauro.errors import ConfigError

Parser = Callable[[str, object], object]
T = TypeVar("T")

METADATA_KEY = "tauro.setting"  # where a field's Declared lives in its metadata
INF = float("inf")


@dataclass(frozen=True)
class Declared:
    """What a settings field says of itself (see ``setting``)."""

    env: str
    yaml: str  # "section.key" in config.yml
    parse: Parser
    doc: str
    secret: bool = False


def setting(default: T, *, env: str, yaml: str, parse: Parser, doc: str, secret: bool = False) -> T:
    """A settings dataclass field with its default and everything else about it."""
    declared = Declared(env, yaml, parse, doc, secret)
    # A Field at run time, which the dataclass takes as the field's declaration.
    return field(default=default, metadata={METADATA_KEY: declared})


def text(key: str, raw: object) -> object:
    if isinstance(raw, bool | int | float | str):
        return str(raw).strip()
    raise ConfigError(key, raw, "text")


def number(kind: type[int] | type[float], low: float, high: float) -> Parser:
    def parse(key: str, raw: object) -> object:
        try:
            value = kind(str(raw).strip())
        except ValueError:
            raise ConfigError(key, raw, f"{kind.__name__} from {low} to {high}") from None
        if not low <= value <= high:
            raise ConfigError(key, raw, f"{kind.__name__} from {low} to {high}")
        return value

    return parse


def auto_or(parse: Parser) -> Parser:
    def parse_auto(key: str, raw: object) -> object:
        if str(raw).strip().lower() == "auto":
            return "auto"
        try:
            return parse(key, raw)
        except ConfigError:
            raise ConfigError(key, raw, "auto, or an int from 1 to 1024") from None

    return parse_auto


def boolean(key: str, raw: object) -> object:
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(key, raw, "true or false")


def choice(*options: str, upper: bool = False) -> Parser:
    def parse(key: str, raw: object) -> object:
        value = str(raw).strip()
        value = value.upper() if upper else value.lower()
        if value not in options:
            raise ConfigError(key, raw, "one of " + ", ".join(options))
        return value

    return parse


def user_ids(key: str, raw: object) -> object:
    items = raw if isinstance(raw, list) else str(raw).replace(";", ",").split(",")
    try:
        return frozenset(int(str(item).strip()) for item in items if str(item).strip())
    except ValueError:
        raise ConfigError(key, raw, "comma-separated Telegram user ids (numbers)") from None


def url(key: str, raw: object) -> object:
    value = str(raw).strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(key, raw, "an http:// or https:// URL")
    return value


def webhook_url(key: str, raw: object) -> object:
    """Empty (long polling), an https:// URL, or http:// to this machine (local tests)."""
    value = str(raw).strip()
    if not value:
        return ""
    parts = urlsplit(value)
    expected = "an https:// URL (http:// only for localhost, 127.0.0.1 or ::1), or empty"
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host or parts.scheme not in ("http", "https") or parts.query or parts.fragment:
        raise ConfigError(key, raw, expected)
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(key, raw, expected)
    return value


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.")


def path(key: str, raw: object) -> object:
    value = str(raw).strip()
    if not value:
        raise ConfigError(key, raw, "a file path")
    return Path(value).expanduser()


def optional_path(key: str, raw: object) -> object:
    return path(key, raw) if str(raw).strip() else None


def bot_token(key: str, raw: object) -> object:
    value = str(raw).strip()
    if value and (":" not in value or any(c.isspace() for c in value)):
        raise ConfigError(key, "<redacted>", "a bot token from @BotFather, like 123456:ABC-DEF")
    return value
