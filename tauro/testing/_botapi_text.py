"""Message text as Telegram reads it: parse modes, entities, length.

Telegram parses ``parse_mode`` markup into plain text plus entities before checking
the length (1..4096 characters after parsing, surrounding whitespace trimmed), and
rejects unbalanced markup with ``400 Bad Request: can't parse entities: ...``. The
bot's "send Markdown, fall back to plain text" path and the "message is not
modified" check both depend on that, so the emulator parses the same three modes.
Error texts and byte offsets follow Telegram's wording; entity offsets are in UTF-16
code units as the API documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tauro.testing._botapi_entities import (
    Builder,
    ParsedText,
    byte_offset,
    cannot_parse,
    utf16_len,
)
from tauro.testing._botapi_html import parse_html
from tauro.testing._botapi_types import bad_request

__all__ = ["MAX_TEXT_LENGTH", "ParsedText", "parse_text"]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


# ---------------------------------------------------------------- legacy Markdown
def _markdown(text: str) -> ParsedText:
    out, i = Builder(), 0
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.add(text[i + 1])
            i += 2
        elif c in "*_`":
            i = _markdown_span(text, i, out)
        elif c == "[":
            i = _markdown_link(text, i, out)
        else:
            out.add(c)
            i += 1
    return out.result()


def _markdown_span(text: str, i: int, out: Builder) -> int:
    marker = "```" if text.startswith("```", i) else text[i]
    end = text.find(marker, i + len(marker))
    if end < 0:
        offset = byte_offset(text, i)
        raise cannot_parse(f"Can't find end of the entity starting at byte offset {offset}")
    inner, start = text[i + len(marker) : end], out.position
    kinds = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}
    if marker == "```" and "\n" in inner:
        language, inner = inner.split("\n", 1)
        out.add(inner)
        out.entity("pre", start, **({"language": language} if language else {}))
    else:
        out.add(inner)
        out.entity(kinds[marker], start)
    return end + len(marker)


def _markdown_link(text: str, i: int, out: Builder) -> int:
    close = text.find("]", i + 1)
    if close < 0:
        offset = byte_offset(text, i)
        raise cannot_parse(f"Can't find end of the entity starting at byte offset {offset}")
    if not text.startswith("(", close + 1):
        out.add(text[i : close + 1])
        return close + 1
    url_end = text.find(")", close + 2)
    if url_end < 0:
        offset = byte_offset(text, close + 1)
        raise cannot_parse(f"Can't find end of a URL at byte offset {offset}")
    start = out.position
    out.add(text[i + 1 : close])
    out.entity("text_link", start, url=text[close + 2 : url_end])
    return url_end + 1


# ------------------------------------------------------------------- MarkdownV2
_RESERVED_V2 = set("_*[]()~`>#+-=|{}.!")
_V2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough"}
_V2_MARKERS |= {"||": "spoiler"}
_V2_NAMES = {"bold": "Bold", "italic": "Italic", "underline": "Underline"}
_V2_NAMES |= {"strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl"}


@dataclass
class _Open:
    marker: str
    kind: str
    start: int
    index: int


def _v2_marker(text: str, i: int) -> str | None:
    for marker in ("__", "||", "*", "_", "~"):
        if text.startswith(marker, i):
            return marker
    return None


def _markdown_v2(text: str) -> ParsedText:
    out, stack, i = Builder(), list[_Open](), 0
    while i < len(text):
        i = _v2_step(text, i, out, stack)
    if stack:
        top = stack[-1]
        name, offset = _V2_NAMES[top.kind], byte_offset(text, top.index)
        raise cannot_parse(f"Can't find end of {name} entity at byte offset {offset}")
    return out.result()


def _v2_step(text: str, i: int, out: Builder, stack: list[_Open]) -> int:
    c = text[i]
    if c == "\\" and i + 1 < len(text):
        out.add(text[i + 1])
        return i + 2
    if c == "`":
        return _v2_code(text, i, out)
    marker = _v2_marker(text, i)
    if marker is not None:
        if stack and stack[-1].marker == marker:
            top = stack.pop()
            out.entity(top.kind, top.start)
        else:
            stack.append(_Open(marker, _V2_MARKERS[marker], out.position, i))
        return i + len(marker)
    if c == "[":
        stack.append(_Open("]", "text_link", out.position, i))
        return i + 1
    if c == "]" and stack and stack[-1].marker == "]":
        return _v2_close_link(text, i, out, stack.pop())
    if c == ">" and (i == 0 or text[i - 1] == "\n"):
        return i + 1
    if c in _RESERVED_V2:
        raise cannot_parse(
            f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
        )
    out.add(c)
    return i + 1


def _v2_close_link(text: str, i: int, out: Builder, link: _Open) -> int:
    """After ``]``: ``(url)``, where ``)`` and ``\\`` inside the URL are escaped."""
    j, url = i + 2, list[str]()
    while text.startswith("(", i + 1) and j < len(text) and text[j] != ")":
        step = 2 if text[j] == "\\" and j + 1 < len(text) else 1
        url.append(text[j + step - 1])
        j += step
    if not text.startswith("(", i + 1) or j >= len(text):
        offset = byte_offset(text, link.index)
        raise cannot_parse(f"Can't find end of a URL at byte offset {offset}")
    out.entity("text_link", link.start, url="".join(url))
    return j + 1


def _v2_code(text: str, i: int, out: Builder) -> int:
    marker = "```" if text.startswith("```", i) else "`"
    j, chars = i + len(marker), list[str]()
    while j < len(text) and not text.startswith(marker, j):
        step = 2 if text[j] == "\\" and j + 1 < len(text) else 1
        chars.append(text[j + step - 1])
        j += step
    if j >= len(text):
        name, offset = ("Pre" if marker == "```" else "Code"), byte_offset(text, i)
        raise cannot_parse(f"Can't find end of {name} entity at byte offset {offset}")
    inner, start, extra = "".join(chars), out.position, dict[str, Any]()
    if marker == "```" and "\n" in inner:
        language, inner = inner.split("\n", 1)
        extra = {"language": language} if language else {}
    out.add(inner)
    out.entity("pre" if marker == "```" else "code", start, **extra)
    return j + len(marker)


# ---------------------------------------------------------------------- public
_PARSERS = {"markdown": _markdown, "markdownv2": _markdown_v2, "html": parse_html}


def _trim(parsed: ParsedText) -> ParsedText:
    """Telegram trims surrounding whitespace; entity offsets shift with the start."""
    stripped = parsed.text.lstrip()
    shift = utf16_len(parsed.text) - utf16_len(stripped)
    text = stripped.rstrip()
    limit = utf16_len(text)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            entities.append(entity | {"offset": start, "length": end - start})
    return ParsedText(text, tuple(entities))


def parse_text(
    text: str | None,
    parse_mode: str | None,
    *,
    limit: int = MAX_TEXT_LENGTH,
    empty_ok: bool = False,
) -> ParsedText:
    """Parse ``text`` as Telegram does, or raise the ``ApiFailure`` Telegram would."""
    raw = text or ""
    if parse_mode:
        parser = _PARSERS.get(parse_mode.lower())
        if parser is None:
            raise bad_request("unsupported parse_mode")
        parsed = _trim(parser(raw))
    else:
        parsed = _trim(ParsedText(raw))
    if not parsed.text and not empty_ok:
        raise bad_request("message text is empty")
    if utf16_len(parsed.text) > limit:
        raise bad_request(
            "message is too long" if limit == MAX_TEXT_LENGTH else "message caption is too long"
        )
    return parsed
