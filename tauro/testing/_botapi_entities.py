"""Plain text plus entities, as Telegram's parsers build it (shared by all three modes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tauro.testing._botapi_types import ApiFailure, bad_request

__all__ = ["Builder", "ParsedText", "byte_offset", "cannot_parse", "utf16_len"]


@dataclass(frozen=True)
class ParsedText:
    """Plain text and its entities (Bot API ``MessageEntity`` dicts)."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def cannot_parse(detail: str) -> ApiFailure:
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class Builder:
    """Plain output plus entities, tracking the UTF-16 length as text is appended."""

    parts: list[str] = field(default_factory=list)
    position: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def text_since(self, start: int) -> str:
        """The text added since UTF-16 offset ``start``."""
        encoded = "".join(self.parts).encode("utf-16-le")
        return encoded[2 * start :].decode("utf-16-le")

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.position > start:
            doc = {"type": kind, "offset": start, "length": self.position - start}
            self.entities.append(doc | extra)

    def result(self) -> ParsedText:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.parts), tuple(ordered))
