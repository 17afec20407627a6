"""A Babel extractor for the web app's HTML: ``data-i18n`` marks what to translate.

``<p data-i18n>No messages yet.</p>`` gives the message id "No messages yet."
(whitespace collapsed), and ``data-i18n-attrs="placeholder title"`` the values
of those attributes. ``scripts/i18n`` registers it in ``babel.cfg``; the web
app's ``i18n.js`` applies the same rules when it translates a page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import IO, Any

Extracted = tuple[int, str, str, list[str]]


def collapse(text: str) -> str:
    return " ".join(text.split())


class _Marked(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Extracted] = []
        self._open: list[tuple[str, int, list[str]]] = []  # tag, line, text parts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        line = self.getpos()[0]
        for name in (values.get("data-i18n-attrs") or "").split():
            if values.get(name):
                self.found.append((line, "", collapse(values[name] or ""), []))
        if "data-i18n" in values:
            self._open.append((tag, line, []))
        elif self._open:
            self._open.append((tag, -1, []))

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            return
        _, line, parts = self._open.pop()
        if line >= 0 and collapse("".join(parts)):
            self.found.append((line, "", collapse("".join(parts)), []))

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][1] >= 0:
            self._open[-1][2].append(data)


def extract_html(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Any, options: Any
) -> Iterator[Extracted]:
    """Babel's extractor protocol: (line, funcname, message, comments)."""
    parser = _Marked()
    parser.feed(fileobj.read().decode(options.get("encoding", "utf-8")))
    parser.close()
    yield from parser.found
