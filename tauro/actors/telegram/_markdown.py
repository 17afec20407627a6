"""The model's Markdown as Telegram's HTML parse mode, cut into messages.

Telegram's HTML mode knows only a few tags (b, i, s, code, pre, a, blockquote
...) and refuses a message whose tags are unknown, unbalanced or whose ``<`` is
not escaped. So the Markdown tree (``tauro.markdown``) becomes *runs*: pieces
of plain text, each with the stack of Telegram tags around it. Everything else
is text: headings become bold lines, lists get "•" and "1." in front, a table
becomes a monospaced block. The HTML is written from the runs, so every tag is
closed where it opened and all text is escaped.

Runs also make the 4096 limit exact: their text is what Telegram shows after
parsing, so pieces are cut on that text (at the boundaries ``_splitting``
prefers, counted in UTF-16 units as Telegram counts) and each piece closes the
tags still open at its end and opens them again at the start of the next one:
a code block that continues in the next message is a code block there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape

from markdown_it.tree import SyntaxTreeNode

from tauro.actors.telegram._splitting import cut_point, split_message, telegram_length
from tauro.markdown import close_dangling, parse_tree, safe_link

__all__ = ["TelegramPiece", "plain_piece", "telegram_pieces"]

_BULLETS = ("•", "◦", "▪")
_RULE = "———"


@dataclass(frozen=True)
class TelegramPiece:
    """One message: ``html`` for parse_mode HTML (None: send ``text`` as it is).

    ``text`` is what Telegram shows once it parsed ``html``: the plain text
    sent instead if Telegram refuses the HTML all the same.
    """

    text: str
    html: str | None = None


def plain_piece(text: str) -> TelegramPiece:
    """A message sent without any parse mode (notices, the placeholder)."""
    return TelegramPiece(text)


def telegram_pieces(
    markdown: str, limit: int = 4096, *, streaming: bool = False
) -> list[TelegramPiece]:
    """The messages that show ``markdown``, each at most ``limit`` UTF-16 units of text.

    ``streaming`` is for a text still arriving: emphasis it left open is closed
    first, and a text that renders to nothing yet gives no message. A final text
    that renders to nothing (an empty code block) is sent as it was written.
    """
    source = close_dangling(markdown) if streaming else markdown
    runs = _Renderer().document(parse_tree(source))
    pieces = [_piece(part) for part in _split_runs(runs, limit)]
    if pieces or streaming or not markdown.strip():
        return pieces
    return [TelegramPiece(text) for text in split_message(markdown, limit)]


# Runs ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # compared by identity: two bold spans are two tags
class _Tag:
    opening: str
    closing: str


@dataclass(frozen=True)
class _Run:
    text: str
    tags: tuple[_Tag, ...]


class _Renderer:
    """Walks the Markdown tree once, appending runs."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._tags: list[_Tag] = []
        self._indent = ""
        self._in_quote = False
        self._depth = 0  # lists around the current block

    def document(self, root: SyntaxTreeNode) -> list[_Run]:
        self._blocks(root.children, tight=False)
        return self._runs

    def _text(self, text: str) -> None:
        if text:
            self._runs.append(_Run(text, tuple(self._tags)))

    def _newline(self) -> None:
        self._text("\n" + self._indent)

    @contextmanager
    def _tag(self, opening: str, closing: str) -> Iterator[None]:
        self._tags.append(_Tag(opening, closing))
        try:
            yield
        finally:
            self._tags.pop()

    @contextmanager
    def _indented(self, extra: str) -> Iterator[None]:
        outer, self._indent = self._indent, self._indent + extra
        try:
            yield
        finally:
            self._indent = outer

    # Blocks -------------------------------------------------------------------

    def _blocks(self, nodes: list[SyntaxTreeNode], *, tight: bool) -> None:
        for index, node in enumerate(nodes):
            if index:
                self._newline()
                if not tight:
                    self._newline()
            self._block(node)

    def _block(self, node: SyntaxTreeNode) -> None:
        kind = node.type
        if kind in ("paragraph", "inline"):
            self._inlines(node.children if kind == "paragraph" else [node])
        elif kind == "heading":
            with self._tag("<b>", "</b>"):
                self._inlines(node.children)
        elif kind == "blockquote":
            self._quote(node)
        elif kind in ("bullet_list", "ordered_list"):
            self._list(node)
        elif kind in ("fence", "code_block"):
            self._code_block(node.content.rstrip("\n"), node.info.strip().split(" ")[0])
        elif kind == "table":
            self._code_block(_table_text(node), "")
        elif kind == "hr":
            self._text(_RULE)
        else:  # html_block (raw HTML is off) or anything newer: its source, as text
            self._text(node.content.rstrip("\n"))

    def _quote(self, node: SyntaxTreeNode) -> None:
        if self._in_quote:  # Telegram has no quote in a quote
            self._blocks(node.children, tight=False)
            return
        self._in_quote = True
        try:
            with self._tag("<blockquote>", "</blockquote>"):
                self._blocks(node.children, tight=False)
        finally:
            self._in_quote = False

    def _list(self, node: SyntaxTreeNode) -> None:
        tight = _is_tight(node)
        bullet = _BULLETS[min(self._depth, len(_BULLETS) - 1)]
        number = int(str(node.attrs.get("start", 1)))
        for index, item in enumerate(node.children):
            if index:
                self._newline()
                if not tight:
                    self._newline()
            marker = f"{number + index}. " if node.type == "ordered_list" else f"{bullet} "
            self._text(marker)
            self._depth += 1
            with self._indented(" " * len(marker)):
                self._blocks(item.children, tight=tight)
            self._depth -= 1

    def _code_block(self, code: str, language: str) -> None:
        if not language:
            with self._tag("<pre>", "</pre>"):
                self._text(code)
            return
        attribute = escape(f"language-{language}")
        with self._tag("<pre>", "</pre>"), self._tag(f'<code class="{attribute}">', "</code>"):
            self._text(code)

    # Inlines ------------------------------------------------------------------

    def _inlines(self, nodes: list[SyntaxTreeNode]) -> None:
        for node in nodes:
            if node.type == "inline":
                self._inlines(node.children)
            else:
                self._inline(node)

    def _inline(self, node: SyntaxTreeNode) -> None:
        kind = node.type
        spans = {"strong": ("<b>", "</b>"), "em": ("<i>", "</i>"), "s": ("<s>", "</s>")}
        if kind in spans:
            with self._tag(*spans[kind]):
                self._inlines(node.children)
        elif kind == "code_inline":
            with self._tag("<code>", "</code>"):
                self._text(node.content)
        elif kind in ("softbreak", "hardbreak"):
            self._newline()
        elif kind in ("link", "image"):
            self._link(node)
        else:  # text, html_inline (raw HTML is off) and anything newer
            self._text(node.content)

    def _link(self, node: SyntaxTreeNode) -> None:
        url = str(node.attrs.get("href" if node.type == "link" else "src", ""))
        if not safe_link(url) or "a" in (t.opening[1:2] for t in self._tags):
            self._inlines(node.children)
            return
        with self._tag(f'<a href="{escape(url)}">', "</a>"):
            self._inlines(node.children) if node.children else self._text(url)


def _is_tight(node: SyntaxTreeNode) -> bool:
    """A tight list (no blank lines between items): markdown-it hides its paragraphs."""
    paragraphs = (block for item in node.children for block in item.children)
    return all(block.hidden for block in paragraphs if block.type == "paragraph")


def _table_text(table: SyntaxTreeNode) -> str:
    """A table as aligned columns of plain text (for a monospaced block)."""
    rows = [
        [_plain(cell) for cell in row.children]
        for section in table.children
        for row in section.children
    ]
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
             for row in rows]  # fmt: skip
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _plain(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain(child) for child in node.children)


# Pieces -------------------------------------------------------------------------


def _split_runs(runs: list[_Run], limit: int) -> Iterator[list[_Run]]:
    """Runs per message: cut where ``_splitting`` would cut their plain text."""
    plain = "".join(run.text for run in runs)
    start, end = _next_start(plain, 0, len(plain.rstrip())), len(plain.rstrip())
    while start < end:
        rest = plain[start:end]
        if telegram_length(rest) <= limit:
            yield _slice(runs, start, end)
            return
        cut, _ = cut_point(rest, limit)
        yield _slice(runs, start, start + len(rest[:cut].rstrip()))
        start = _next_start(plain, start + cut, end)


def _next_start(plain: str, position: int, end: int) -> int:
    """Where the next message starts: past the blank at the cut, but at the start
    of its line, so the first line of a code block that goes on keeps its indent."""
    rest = plain[position:end]
    visible = position + len(rest) - len(rest.lstrip())
    line_start = plain.rfind("\n", position, visible) + 1
    return line_start if line_start > position else visible


def _slice(runs: list[_Run], start: int, end: int) -> list[_Run]:
    """The runs covering ``plain[start:end]``, the ones at the edges shortened."""
    sliced, position = [], 0
    for run in runs:
        run_end = position + len(run.text)
        if run_end > start and position < end:
            text = run.text[max(start - position, 0) : end - position]
            sliced.append(_Run(text, run.tags))
        position = run_end
        if position >= end:
            break
    return sliced


def _piece(runs: list[_Run]) -> TelegramPiece:
    """The HTML of some runs: tags opened and closed only where the stack changes."""
    html: list[str] = []
    open_tags: tuple[_Tag, ...] = ()
    for run in runs:
        shared = _shared_prefix(open_tags, run.tags)
        html.extend(tag.closing for tag in reversed(open_tags[shared:]))
        html.extend(tag.opening for tag in run.tags[shared:])
        html.append(escape(run.text, quote=False))
        open_tags = run.tags
    html.extend(tag.closing for tag in reversed(open_tags))
    return TelegramPiece("".join(run.text for run in runs), "".join(html))


def _shared_prefix(a: tuple[_Tag, ...], b: tuple[_Tag, ...]) -> int:
    shared = 0
    for left, right in zip(a, b, strict=False):
        if left is not right:
            break
        shared += 1
    return shared
