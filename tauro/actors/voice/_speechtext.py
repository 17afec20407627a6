"""Turning an answer written for the eye into text for the ear.

Answers come from an LLM as Markdown. Read as is, espeak-ng spells out code
character by character, reads whole URLs, and names every asterisk. So code
blocks become one short spoken sentence, links keep their words, URLs keep
their site name, Markdown marks and emoji go, and lines become sentences.
Very long answers are cut at a sentence boundary and the cut is said aloud,
so a listener knows the rest is in the text message.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from tauro.i18n import N_, SOURCE_LANGUAGE, supported, t

# What is said instead of a code block, and after a cut (from the gettext catalogs).
_CODE_SAID = N_("There is some code here, you can read it in the text message.")
_CUT_SAID = N_("The answer continues in the text message.")

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>()\[\]]+", re.I)
_INLINE_CODE = re.compile(r"`+([^`\n]*)`+")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>\n]*>")
_RULE = re.compile(r"^[ \t]*[-*_=|:+ \t]{3,}$", re.M)
_LINE_MARK = re.compile(r"^[ \t]*(?:#{1,6}|>+|[-*+•]|\d{1,3}[.)])[ \t]+", re.M)
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w_])_{1,3}(?=\S)(.+?)(?<=\S)_{1,3}(?![\w_])")
_MARKS = re.compile(r"[*#`~^|\\{}\[\]<>_]")
_REPEATED = re.compile(r"([^\w\s])\1+")
_SPACES = re.compile(r"[ \t\u00a0]+")
_SPACE_BEFORE_STOP = re.compile(r" ([,.;:!?…])")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_KEPT_SYMBOLS = frozenset("°§©®™")
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cn", "Co", "Cs", "Me"})
_JOINERS = frozenset("\u200d\u200c\ufe0e\ufe0f")


def prepare_speech(text: str, language: str, max_chars: int) -> str:
    """The words to speak for ``text``; empty when nothing is left to say."""
    phrases = supported(language) or SOURCE_LANGUAGE
    text = _FENCE.sub(lambda _: f"\n{t(phrases, _CODE_SAID)}\n", text)
    text = _strip_markdown(text)
    text = _drop_emoji(text)
    text = _as_sentences(text)
    if not any(char.isalnum() for char in text):
        return ""
    if len(text) > max_chars:
        text = f"{_cut(text, max_chars)} {t(phrases, _CUT_SAID)}"
    return text


def _strip_markdown(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(_site_name, text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _RULE.sub("", text)
    text = _LINE_MARK.sub("", text)
    text = _UNDERSCORE_EMPHASIS.sub(r"\1", text)
    text = _MARKS.sub(" ", text)
    return _REPEATED.sub(r"\1", text)


def _site_name(match: re.Match[str]) -> str:
    """A URL said as its site: ``https://www.example.com/a?b`` -> ``example.com``."""
    url = match.group(0)
    if not url.lower().startswith("http"):
        url = f"http://{url}"
    host = urlsplit(url.rstrip(".,;:!?")).hostname or ""
    return host.removeprefix("www.")


def _drop_emoji(text: str) -> str:
    return "".join(char for char in text if _speakable(char))


def _speakable(char: str) -> bool:
    if char in _KEPT_SYMBOLS:
        return True
    if char in _JOINERS or 0x1F000 <= ord(char) <= 0x1FAFF:
        return False
    return unicodedata.category(char) not in _DROPPED_CATEGORIES


def _as_sentences(text: str) -> str:
    """One line, where every non-empty line of the input ends as a sentence."""
    sentences: list[str] = []
    for raw in text.splitlines():
        line = _SPACE_BEFORE_STOP.sub(r"\1", _SPACES.sub(" ", raw)).strip(" ,;")
        if not any(char.isalnum() for char in line):
            continue
        sentences.append(line if line[-1] in ".!?…:;," else f"{line}.")
    return " ".join(sentences)


def _cut(text: str, max_chars: int) -> str:
    """At most ``max_chars``, ending at a sentence end, else a word end, if close."""
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= max_chars // 2:
        return head[: ends[-1]]
    space = head.rfind(" ")
    if space >= max_chars // 2:
        return f"{head[:space].rstrip(' ,;:')}."
    return f"{head}."
