"""The emulator's ``parse_mode=HTML``: what Telegram (TDLib's parse_html) accepts and refuses."""

from __future__ import annotations

from typing import Any

import pytest

from tauro.testing._botapi_html import parse_html
from tauro.testing._botapi_text import parse_text
from tauro.testing._botapi_types import ApiFailure


def entities(text: str) -> list[tuple[Any, ...]]:
    parsed = parse_html(text)
    return [
        (e["type"], e["offset"], e["length"], *(v for k, v in e.items() if k not in _BASIC))
        for e in parsed.entities
    ]


_BASIC = {"type", "offset", "length"}


@pytest.mark.parametrize(
    ("html", "plain", "expected"),
    [
        ("<b>b</b><strong>s</strong>", "bs", [("bold", 0, 1), ("bold", 1, 1)]),
        ("<i>i</i><em>e</em>", "ie", [("italic", 0, 1), ("italic", 1, 1)]),
        ("<u>u</u><ins>n</ins>", "un", [("underline", 0, 1), ("underline", 1, 1)]),
        ("<s>s</s><strike>k</strike><del>d</del>", "skd",
         [("strikethrough", 0, 1), ("strikethrough", 1, 1), ("strikethrough", 2, 1)]),
        ('<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>', "xy",
         [("spoiler", 0, 1), ("spoiler", 1, 1)]),
        ('<a href="https://x.org/?a=1&amp;b=2">l</a>', "l",
         [("text_link", 0, 1, "https://x.org/?a=1&b=2")]),
        ("<a href=X.Org>l</a>", "l", [("text_link", 0, 1, "x.org")]),
        ("<code>c</code>", "c", [("code", 0, 1)]),
        ("<pre>p</pre>", "p", [("pre", 0, 1)]),
        ('<pre><code class="language-python">x</code></pre>', "x", [("pre", 0, 1, "python")]),
        ('<code class="language-python">x</code>', "x", [("code", 0, 1)]),
        ("<blockquote>q</blockquote>", "q", [("blockquote", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
        ("<B>x</B >", "x", [("bold", 0, 1)]),
        ("<b>x</>", "x", [("bold", 0, 1)]),
        ("<b><i>bi</i></b>", "bi", [("italic", 0, 2), ("bold", 0, 2)]),
        ("😀<b>é</b>", "😀é", [("bold", 2, 1)]),
        ("<b></b>x", "x", []),
        ("&lt;&gt;&amp;&quot;&#33;&#x41;&#X42;", '<>&"!AB', []),
        ("&nbsp; &copy; & &; &#xZZ;", "&nbsp; &copy; & &; &#xZZ;", []),
        ("a > b", "a > b", []),
    ],
)  # fmt: skip
def test_accepted_like_telegram(html: str, plain: str, expected: list[tuple[Any, ...]]) -> None:
    assert parse_html(html).text == plain
    assert entities(html) == expected


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("a <", "Unclosed start tag at byte offset 2"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("é<h1>x</h1>", 'Unsupported start tag "h1" at byte offset 2'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        (
            "<a href>x</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<a =x>x</a>", 'Empty attribute name in the tag "a" at byte offset 0'),
        ("<a href=x/y>x</a>", "Unexpected end of name token at byte offset 8"),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
    ],
)
def test_refused_like_telegram(html: str, detail: str) -> None:
    with pytest.raises(ApiFailure) as caught:
        parse_text(html, "HTML")
    assert caught.value.error_code == 400
    assert caught.value.description == f"Bad Request: can't parse entities: {detail}"


def test_length_is_checked_after_parsing_in_utf16_units() -> None:
    assert parse_text("<b>" + "x" * 4096 + "</b>", "HTML").text == "x" * 4096
    parse_text("😀" * 2048, "HTML")
    with pytest.raises(ApiFailure, match="message is too long"):
        parse_text("😀" * 2049, "HTML")  # 2049 characters, 4098 UTF-16 units
