"""One markdown-it-py parser for every channel, and help for half-received text."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

__all__ = ["close_dangling", "parse_tree", "safe_link"]

# CommonMark with raw HTML off (the model's <b> or <script> stays text), plus the
# two GitHub extensions models use most. Links are validated by markdown-it
# (no javascript:, vbscript:, file:, data:), and again by ``safe_link``.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

_SPANS = frozenset({"strong_open", "em_open", "s_open", "code_inline"})
# Tried in this order: an inline code span first (inside it nothing else counts),
# then the longer emphasis markers before the shorter ones.
_CLOSERS = ("`", "**", "__", "~~", "*", "_")
_MARKER_CHARS = frozenset("*_`~")
_MOST_CLOSERS = 4
_SAFE_SCHEMES = ("http://", "https://", "mailto:", "tg://")


def parse_tree(text: str) -> SyntaxTreeNode:
    """The document tree of ``text`` (never fails: any text is some CommonMark)."""
    return SyntaxTreeNode(_MARKDOWN.parse(text))


def safe_link(url: str) -> bool:
    """Only links a chat should open: web, mail and Telegram ones, never scripts."""
    return url.lower().startswith(_SAFE_SCHEMES)


def close_dangling(text: str) -> str:
    """``text`` with the emphasis or inline code its last paragraph left open closed.

    For a stream's text so far: ``"use **bold wo"`` renders as bold at once
    instead of showing ``**`` until the closing marker arrives. A marker is
    added only if it really closes a span (markdown-it finds one more), so a
    ``*`` in arithmetic or inside an open code block is left alone. An open
    code fence needs nothing: CommonMark closes it at the end of the document.
    """
    text = text.rstrip()
    last_paragraph = text[text.rfind("\n\n") + 1 :]
    if not _MARKER_CHARS.intersection(last_paragraph):
        return text
    spans = _count_spans(text)
    for _ in range(_MOST_CLOSERS):
        for closer in _CLOSERS:
            closed = _count_spans(text + closer)
            if closed > spans:
                text, spans = text + closer, closed
                break
        else:
            break
    return text


def _count_spans(text: str) -> int:
    return sum(_spans_in(token) for token in _MARKDOWN.parse(text))


def _spans_in(token: Token) -> int:
    return sum(child.type in _SPANS for child in token.children or ())
