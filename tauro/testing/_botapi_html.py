"""``parse_mode=HTML`` as Telegram parses it (a port of TDLib's ``parse_html``).

Only Telegram's tags: b, strong, i, em, u, ins, s, strike, del, a href,
code, pre (with ``<code class="language-x">`` inside for a language),
blockquote (``expandable`` too), tg-spoiler and ``span class="tg-spoiler"``,
tg-emoji. Tags must nest properly; a bare ``<`` starts a tag (so an
unescaped ``a < b`` is refused); ``&lt; &gt; &amp; &quot;`` and numeric
references are decoded, any other ``&`` is a plain ampersand. A refusal is
``400 Bad Request: can't parse entities: <TDLib's wording>``, with offsets in
UTF-8 bytes of the text sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tauro.testing._botapi_entities import Builder, ParsedText, byte_offset, cannot_parse

__all__ = ["parse_html"]

_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji"}
    | {"span", "pre", "code", "blockquote"}
)
_KINDS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline"}
_KINDS |= {"ins": "underline", "s": "strikethrough", "strike": "strikethrough"}
_KINDS |= {"del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler"}
_KINDS |= {"a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote"}
_KINDS |= {"tg-emoji": "custom_emoji"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = frozenset(" \t\r\n\f\v")


@dataclass
class _Open:
    name: str
    start: int  # UTF-16 offset in the parsed text
    argument: str = ""
    expandable: bool = False


@dataclass
class _Parser:
    text: str
    out: Builder = field(default_factory=Builder)
    stack: list[_Open] = field(default_factory=list)
    i: int = 0

    def char(self, offset: int = 0) -> str:
        """The character at ``i + offset``, or "" past the end (TDLib's NUL)."""
        index = self.i + offset
        return self.text[index] if index < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.char() in _SPACES and self.char():
            self.i += 1

    def fail(self, message: str, index: int) -> Exception:
        return cannot_parse(f"{message} at byte offset {byte_offset(self.text, index)}")


def parse_html(text: str) -> ParsedText:
    """Plain text and entities of ``text``, or the ``ApiFailure`` Telegram answers."""
    p = _Parser(text)
    while p.i < len(text):
        if text[p.i] == "&" and _entity(p):
            continue
        if text[p.i] != "<":
            end = _next_markup(text, p.i + 1)
            p.out.add(text[p.i : end])
            p.i = end
        elif p.char(1) == "/":
            _end_tag(p)
        else:
            _start_tag(p)
    if p.stack:
        name = p.stack[-1].name
        raise cannot_parse(f'Can\'t find end tag corresponding to start tag "{name}"')
    return _with_pre_languages(p.out.result())


def _next_markup(text: str, start: int) -> int:
    ends = [k for k in (text.find("<", start), text.find("&", start)) if k >= 0]
    return min(ends, default=len(text))


def _entity(p: _Parser) -> bool:
    """Decode ``&...;`` at ``p.i`` if it is one Telegram knows; False leaves the ``&``."""
    decoded, end = _decode_entity(p.text, p.i)
    if decoded is None:
        return False
    p.out.add(decoded)
    p.i = end
    return True


def _decode_entity(text: str, i: int) -> tuple[str | None, int]:
    end = text.find(";", i + 1, i + 12)
    name = text[i + 1 : end] if end > 0 else ""
    code: int | None = None
    if name in _NAMED:
        return _NAMED[name], end + 1
    if name[:2].lower() == "#x" and name[2:] and _all_in(name[2:], "0123456789abcdefABCDEF"):
        code = int(name[2:], 16)
    elif name[:1] == "#" and name[1:].isascii() and name[1:].isdigit():
        code = int(name[1:])
    if code is None or not (0 < code <= 0x10FFFF) or 0xD800 <= code <= 0xDFFF:
        return None, i
    return chr(code), end + 1


def _all_in(digits: str, allowed: str) -> bool:
    return all(c in allowed for c in digits)


def _start_tag(p: _Parser) -> None:
    begin = p.i
    p.i += 1
    while p.char() and p.char() not in _SPACES and p.char() != ">":
        p.i += 1
    if not p.char():
        raise p.fail("Unclosed start tag", begin)
    name = p.text[begin + 1 : p.i].lower()
    if name not in _TAGS:
        raise p.fail(f'Unsupported start tag "{name}"', begin)
    tag = _Open(name, p.out.position)
    while p.char() != ">":
        _attribute(p, tag, begin)
    p.i += 1
    if name == "span" and tag.argument != "spoiler":
        raise p.fail('Tag "span" must have class "tg-spoiler"', begin)
    p.stack.append(tag)


def _attribute(p: _Parser, tag: _Open, begin: int) -> None:
    p.skip_spaces()
    if p.char() == ">":
        return
    if not p.char():
        raise p.fail("Unclosed start tag", begin)
    name_begin = p.i
    while p.char() and p.char() not in _SPACES and p.char() not in "=>":
        p.i += 1
    attribute = p.text[name_begin : p.i].lower()
    if not attribute:
        raise p.fail(f'Empty attribute name in the tag "{tag.name}"', begin)
    p.skip_spaces()
    if p.char() != "=":
        if tag.name == "blockquote" and attribute == "expandable":
            tag.expandable = True
            return
        raise p.fail(
            f'Expected equal sign in declaration of an attribute of the tag "{tag.name}"', begin
        )
    p.i += 1
    p.skip_spaces()
    if not p.char():
        raise p.fail("Unclosed start tag", begin)
    value = _attribute_value(p)
    if not p.char():
        raise p.fail("Unclosed start tag", begin)
    _keep_argument(tag, attribute, value)


def _attribute_value(p: _Parser) -> str:
    quote = p.char()
    if quote not in ("'", '"'):  # a name token: letters, digits, periods, hyphens
        token_begin = p.i
        while p.char() and (p.char().isalnum() or p.char() in ".-"):
            p.i += 1
        if p.char() not in _SPACES and p.char() != ">":
            raise p.fail("Unexpected end of name token", token_begin)
        return p.text[token_begin : p.i].lower()
    p.i += 1
    value: list[str] = []
    while p.char() and p.char() != quote:
        decoded, end = _decode_entity(p.text, p.i) if p.char() == "&" else (None, p.i)
        if decoded is not None:
            value.append(decoded)
            p.i = end
        else:
            value.append(p.char())
            p.i += 1
    if p.char() == quote:
        p.i += 1
    return "".join(value)


def _keep_argument(tag: _Open, attribute: str, value: str) -> None:
    if tag.name == "a" and attribute == "href":
        tag.argument = value
    elif tag.name == "code" and attribute == "class" and value.startswith("language-"):
        tag.argument = value.removeprefix("language-")
    elif tag.name == "span" and attribute == "class" and value.startswith("tg-"):
        tag.argument = value.removeprefix("tg-")
    elif tag.name == "tg-emoji" and attribute == "emoji-id":
        tag.argument = value
    elif tag.name == "blockquote" and attribute == "expandable":
        tag.expandable = True


def _end_tag(p: _Parser) -> None:
    begin = p.i
    if not p.stack:
        raise p.fail("Unexpected end tag", begin)
    p.i += 2
    name_begin = p.i
    while p.char() and p.char() not in _SPACES and p.char() != ">":
        p.i += 1
    name = p.text[name_begin : p.i].lower()
    p.skip_spaces()
    if p.char() != ">":
        raise p.fail("Unclosed end tag", begin)
    p.i += 1
    top = p.stack.pop()
    if name and name != top.name:
        offset = byte_offset(p.text, begin)
        raise cannot_parse(
            f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
            f'found "</{name}>"'
        )
    _add_entity(p, top)


def _add_entity(p: _Parser, tag: _Open) -> None:
    extra: dict[str, Any] = {}
    kind = _KINDS[tag.name]
    if tag.name == "a":
        extra["url"] = tag.argument or p.out.text_since(tag.start)  # <a>url</a>
    elif tag.name == "code" and tag.argument:
        extra["language"] = tag.argument
    elif tag.name == "blockquote" and tag.expandable:
        kind = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        extra["custom_emoji_id"] = tag.argument
    p.out.entity(kind, tag.start, **extra)


def _with_pre_languages(parsed: ParsedText) -> ParsedText:
    """``<pre><code class="language-x">`` is one ``pre`` entity with a language.

    TDLib merges a code entity with a language into the pre that spans exactly
    the same text; a code with a language anywhere else is a plain code.
    """
    entities = list(parsed.entities)
    merged: list[dict[str, Any]] = []
    for entity in entities:
        if entity["type"] == "code" and "language" in entity:
            same = [
                e for e in entities
                if e["type"] == "pre" and (e["offset"], e["length"])
                == (entity["offset"], entity["length"])
            ]  # fmt: skip
            if same:
                same[0]["language"] = entity["language"]
                continue
            entity = {k: v for k, v in entity.items() if k != "language"}
        merged.append(entity)
    return ParsedText(parsed.text, tuple(merged))
