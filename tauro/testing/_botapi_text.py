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

from dataclasses import dataclass, field
from typing import Any

from tauro.testing._botapi_types import ApiFailure, bad_request

__all__ = ["MAX_TEXT_LENGTH", "ParsedText", "parse_text"]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


@dataclass(frozen=True)
class ParsedText:
    """Plain text and its entities (Bot API ``MessageEntity`` dicts)."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _cannot_parse(detail: str) -> ApiFailure:
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class _Builder:
    """Plain output plus entities, tracking the UTF-16 length as text is appended."""

    parts: list[str] = field(default_factory=list)
    position: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.position += _utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.position > start:
            doc = {"type": kind, "offset": start, "length": self.position - start}
            self.entities.append(doc | extra)

    def result(self) -> ParsedText:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.parts), tuple(ordered))


# ---------------------------------------------------------------- legacy Markdown
def _markdown(text: str) -> ParsedText:
    out, i = _Builder(), 0
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


def _markdown_span(text: str, i: int, out: _Builder) -> int:
    marker = "```" if text.startswith("```", i) else text[i]
    end = text.find(marker, i + len(marker))
    if end < 0:
        offset = _byte_offset(text, i)
        raise _cannot_parse(f"Can't find end of the entity starting at byte offset {offset}")
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


def _markdown_link(text: str, i: int, out: _Builder) -> int:
    close = text.find("]", i + 1)
    if close < 0:
        offset = _byte_offset(text, i)
        raise _cannot_parse(f"Can't find end of the entity starting at byte offset {offset}")
    if not text.startswith("(", close + 1):
        out.add(text[i : close + 1])
        return close + 1
    url_end = text.find(")", close + 2)
    if url_end < 0:
        offset = _byte_offset(text, close + 1)
        raise _cannot_parse(f"Can't find end of a URL at byte offset {offset}")
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
    out, stack, i = _Builder(), list[_Open](), 0
    while i < len(text):
        i = _v2_step(text, i, out, stack)
    if stack:
        top = stack[-1]
        name, offset = _V2_NAMES[top.kind], _byte_offset(text, top.index)
        raise _cannot_parse(f"Can't find end of {name} entity at byte offset {offset}")
    return out.result()


def _v2_step(text: str, i: int, out: _Builder, stack: list[_Open]) -> int:
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
        raise _cannot_parse(
            f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
        )
    out.add(c)
    return i + 1


def _v2_close_link(text: str, i: int, out: _Builder, link: _Open) -> int:
    """After ``]``: ``(url)``, where ``)`` and ``\\`` inside the URL are escaped."""
    j, url = i + 2, list[str]()
    while text.startswith("(", i + 1) and j < len(text) and text[j] != ")":
        step = 2 if text[j] == "\\" and j + 1 < len(text) else 1
        url.append(text[j + step - 1])
        j += step
    if not text.startswith("(", i + 1) or j >= len(text):
        offset = _byte_offset(text, link.index)
        raise _cannot_parse(f"Can't find end of a URL at byte offset {offset}")
    out.entity("text_link", link.start, url="".join(url))
    return j + 1


def _v2_code(text: str, i: int, out: _Builder) -> int:
    marker = "```" if text.startswith("```", i) else "`"
    j, chars = i + len(marker), list[str]()
    while j < len(text) and not text.startswith(marker, j):
        step = 2 if text[j] == "\\" and j + 1 < len(text) else 1
        chars.append(text[j + step - 1])
        j += step
    if j >= len(text):
        name, offset = ("Pre" if marker == "```" else "Code"), _byte_offset(text, i)
        raise _cannot_parse(f"Can't find end of {name} entity at byte offset {offset}")
    inner, start, extra = "".join(chars), out.position, dict[str, Any]()
    if marker == "```" and "\n" in inner:
        language, inner = inner.split("\n", 1)
        extra = {"language": language} if language else {}
    out.add(inner)
    out.entity("pre" if marker == "```" else "code", start, **extra)
    return j + len(marker)


# ------------------------------------------------------------------------- HTML
_HTML_KINDS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic"}
_HTML_KINDS |= {"u": "underline", "ins": "underline", "s": "strikethrough"}
_HTML_KINDS |= {"strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler"}
_HTML_KINDS |= {"span": "spoiler", "a": "text_link", "code": "code", "pre": "pre"}
_HTML_KINDS |= {"blockquote": "blockquote", "tg-emoji": "custom_emoji"}
_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


@dataclass
class _Tag:
    name: str
    start: int
    attributes: str


def _html(text: str) -> ParsedText:
    out, stack, i = _Builder(), list[_Tag](), 0
    while i < len(text):
        if text[i] == "<":
            i = _html_tag(text, i, out, stack)
        elif text[i] == "&":
            i = _html_entity(text, i, out)
        else:
            j = min((k for k in (text.find("<", i), text.find("&", i)) if k >= 0), default=-1)
            j = len(text) if j < 0 else j
            out.add(text[i:j])
            i = j
    if stack:
        name = stack[-1].name
        raise _cannot_parse(f'Can\'t find end tag corresponding to start tag "{name}"')
    return out.result()


def _html_tag(text: str, i: int, out: _Builder, stack: list[_Tag]) -> int:
    end = text.find(">", i)
    if end < 0:
        raise _cannot_parse(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
    body = text[i + 1 : end].strip()
    if body.startswith("/"):
        _html_close(text, i, body[1:].strip().lower(), out, stack)
        return end + 1
    name, _, attributes = body.partition(" ")
    name = name.lower()
    if name not in _HTML_KINDS or (name == "span" and "tg-spoiler" not in attributes):
        raise _cannot_parse(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
        )
    stack.append(_Tag(name, out.position, attributes))
    return end + 1


def _html_close(text: str, i: int, name: str, out: _Builder, stack: list[_Tag]) -> None:
    if not stack:
        raise _cannot_parse(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
    top = stack.pop()
    if name and name != top.name:
        offset = _byte_offset(text, i)
        detail = f'expected "</{top.name}>", found "</{name}>"'
        raise _cannot_parse(f"Unmatched end tag at byte offset {offset}, {detail}")
    extra: dict[str, Any] = {}
    if top.name == "a":
        extra["url"] = top.attributes.partition("=")[2].strip().strip("\"'")
    out.entity(_HTML_KINDS[top.name], top.start, **extra)


def _html_entity(text: str, i: int, out: _Builder) -> int:
    end = text.find(";", i, i + 12)
    name = text[i + 1 : end] if end > 0 else ""
    if name in _HTML_ENTITIES:
        out.add(_HTML_ENTITIES[name])
        return end + 1
    if name.startswith("#") and name[1:].isdigit():
        out.add(chr(int(name[1:])))
        return end + 1
    if name.lower().startswith("#x") and _is_hex(name[2:]):
        out.add(chr(int(name[2:], 16)))
        return end + 1
    out.add("&")
    return i + 1


def _is_hex(digits: str) -> bool:
    return bool(digits) and all(c in "0123456789abcdefABCDEF" for c in digits)


# ---------------------------------------------------------------------- public
_PARSERS = {"markdown": _markdown, "markdownv2": _markdown_v2, "html": _html}


def _trim(parsed: ParsedText) -> ParsedText:
    """Telegram trims surrounding whitespace; entity offsets shift with the start."""
    stripped = parsed.text.lstrip()
    shift = _utf16_len(parsed.text) - _utf16_len(stripped)
    text = stripped.rstrip()
    limit = _utf16_len(text)
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
    if len(parsed.text) > limit:
        raise bad_request(
            "message is too long" if limit == MAX_TEXT_LENGTH else "message caption is too long"
        )
    return parsed
