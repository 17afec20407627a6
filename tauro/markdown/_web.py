"""The web app's rendering: the model's Markdown as sanitised HTML.

Two locks on one door. markdown-it renders with raw HTML off, so the model's
own tags come out escaped; then every tag and attribute passes an allow-list
(``_Sanitiser``), so even a markdown-it bug could not hand the page a script,
an event handler, a style or a ``javascript:`` link. Links open in a new tab
with ``rel="noopener noreferrer"``; images become links (the page loads
nothing from elsewhere). The page adds the copy buttons to code blocks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from tauro.markdown._parser import close_dangling, safe_link

__all__ = ["render_html"]

_BLOCK_TAGS = {"p", "blockquote", "pre", "ul", "ol", "li", "hr", "br"}
_BLOCK_TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6"}
_TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td"}
_INLINE_TAGS = {"strong", "em", "s", "del", "code", "a"}
_ALLOWED_TAGS = frozenset(_BLOCK_TAGS | _TABLE_TAGS | _INLINE_TAGS)
_VOID_TAGS = frozenset({"br", "hr"})
_LANGUAGE_CLASS = re.compile(r"language-[\w#+.-]{1,40}")
_LINK_REL = 'rel="noopener noreferrer" target="_blank"'

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _link_open(
    renderer: RendererProtocol,
    tokens: Sequence[Token],
    index: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    href = str(tokens[index].attrGet("href") or "")
    if not safe_link(href):
        return "<a>"  # the sanitiser drops an <a> without a link, keeping its text
    return f'<a href="{escape(href)}" {_LINK_REL}>'


def _image(
    renderer: RendererProtocol,
    tokens: Sequence[Token],
    index: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[index]
    alt = escape(token.content or "image")
    src = str(token.attrGet("src") or "")
    return f'<a href="{escape(src)}" {_LINK_REL}>{alt}</a>' if safe_link(src) else alt


_MARKDOWN.add_render_rule("link_open", _link_open)
_MARKDOWN.add_render_rule("image", _image)


def render_html(text: str, *, streaming: bool = False) -> str:
    """Sanitised HTML for ``text``; ``streaming`` closes what a partial text left open."""
    source = close_dangling(text) if streaming else text
    sanitiser = _Sanitiser()
    sanitiser.feed(_MARKDOWN.render(source))
    sanitiser.close()
    return sanitiser.result()


class _Sanitiser(HTMLParser):
    """Allow-listed tags and attributes only; text always escaped; tags balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._open: list[str] = []

    def result(self) -> str:
        return "".join(self._out) + "".join(f"</{tag}>" for tag in reversed(self._open))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            return
        kept = _allowed_attributes(tag, dict(attrs))
        if tag == "a" and not kept:
            self._open.append("")  # an <a> without a safe link: its text stays, as text
            return
        self._out.append(f"<{tag}{kept}>")
        if tag not in _VOID_TAGS:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            self._out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS or tag not in _ALLOWED_TAGS:
            return
        wanted = "" if tag == "a" and "" in self._open[-1:] else tag
        if wanted not in self._open:
            return
        while self._open:
            top = self._open.pop()
            if top:
                self._out.append(f"</{top}>")
            if top == wanted:
                break

    def handle_data(self, data: str) -> None:
        self._out.append(escape(data, quote=False))


def _allowed_attributes(tag: str, attrs: dict[str, str | None]) -> str:
    if tag == "a":
        href = attrs.get("href") or ""
        return f' href="{escape(href)}" {_LINK_REL}' if safe_link(href) else ""
    if tag == "code":
        language = attrs.get("class") or ""
        return f' class="{language}"' if _LANGUAGE_CLASS.fullmatch(language) else ""
    if tag == "ol":
        start = attrs.get("start") or ""
        return f' start="{int(start)}"' if start.isdigit() and len(start) < 10 else ""
    return ""
