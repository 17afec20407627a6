"""One markdown-it-py parser for every channel, and help for half-received text."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

__all__ = ["close_dangling", "parse_tree", "safe_link"]

# CommonMark with raw HTML off (the model's <b> or <script> stays text), plus the
# two GitHub extensions models use most. Links are validated by markdown-it
# (no javascript:, vbscript:, file:, data:), and again by ``safe_link``.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

_SPANS = frozenset({"strong_open", "em_open", "s_open", "code_inline"})
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
    instead of showing ``**`` until the closing marker arrives. A closer is
    kept only if markdown-it then finds more spans or fewer markers left as
    text, so a ``*`` in arithmetic or inside an open code block is left alone.
    An open code fence needs nothing: CommonMark closes it at the end.
    """
    text = text.rstrip()
    last_paragraph = text[text.rfind("\n\n") + 1 :]
    if not _MARKER_CHARS.intersection(last_paragraph):
        return text
    block = _last_block(text)
    if block is None:
        return text
    # Only the last block can hold what is open, and it parses the same on its
    # own: trying closers on it alone keeps a long answer's cost at one parse.
    closers, score = "", _score(block)
    for _ in range(_MOST_CLOSERS):
        best, closer = max((_score(block + closers + closer), closer) for closer in _CLOSERS)
        if best <= score:
            break
        closers, score = closers + closer, best
    return text + closers


def _last_block(text: str) -> str | None:
    """The source of the last top-level block; None if it is code (nothing to close)."""
    last = next(
        (t for t in reversed(_MARKDOWN.parse(text)) if t.level == 0 and t.map is not None), None
    )
    if last is None or last.map is None or last.type in ("fence", "code_block"):
        return None
    return "\n".join(text.split("\n")[last.map[0] :])


def _score(text: str) -> tuple[int, int]:
    """(spans found, minus the markers left as literal text): more is better."""
    spans = literal = 0
    for token in _MARKDOWN.parse(text):
        for child in token.children or ():
            spans += child.type in _SPANS
            if child.type == "text":
                literal += sum(child.content.count(marker) for marker in _MARKER_CHARS)
    return spans, -literal
