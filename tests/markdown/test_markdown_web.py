"""The web app's HTML: formatted like the model meant, sanitised whatever it wrote."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tauro.markdown import render_html

ALLOWED = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


class TagsSeen(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    seen = TagsSeen()
    seen.feed(html)
    return seen.tags


def assert_sanitised(html: str) -> None:
    for tag, attrs in tags_of(html):
        assert tag in ALLOWED, tag
        if tag == "a":
            assert set(attrs) == {"href", "rel", "target"}
            assert attrs["rel"] == "noopener noreferrer"
            assert str(attrs["href"]).startswith(("http://", "https://", "mailto:", "tg://"))
        elif tag == "code":
            assert set(attrs) <= {"class"}
        elif tag == "ol":
            assert set(attrs) <= {"start"}
        else:
            assert attrs == {}, (tag, attrs)


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("**bold** *it* ~~s~~ `c < d`",
         "<p><strong>bold</strong> <em>it</em> <s>s</s> <code>c &lt; d</code></p>\n"),
        ("# Title", "<h1>Title</h1>\n"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("3. c", '<ol start="3">\n<li>c</li>\n</ol>\n'),
        ("> q", "<blockquote>\n<p>q</p>\n</blockquote>\n"),
        ("```python\nif a < b: pass\n```",
         '<pre><code class="language-python">if a &lt; b: pass\n</code></pre>\n'),
        ("[x](https://x.org/?a=1&b=2)",
         '<p><a href="https://x.org/?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">'
         "x</a></p>\n"),
        ("| a |\n|:-:|\n| 1 |",
         "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n"
         "</tr>\n</tbody>\n</table>\n"),
        ("![cat](https://x.org/c.png)",
         '<p><a href="https://x.org/c.png" rel="noopener noreferrer" target="_blank">cat</a>'
         "</p>\n"),
    ],
)  # fmt: skip
def test_constructs(markdown: str, html: str) -> None:
    assert render_html(markdown) == html


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    '[x](https://ok.org "title" onmouseover=alert(1))',
    "<iframe src=//evil>",
    "```html\n<script>alert(1)</script>\n```",
    "`<b onclick=alert(1)>`",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg><script>alert(1)</script></svg>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]


@pytest.mark.parametrize("markdown", XSS)
def test_html_and_scripts_from_the_model_stay_text(markdown: str) -> None:
    html = render_html(markdown)
    assert_sanitised(html)
    assert "<script" not in html
    assert "onerror=" not in html.replace("&", "") or "<img" not in html
    assert "javascript:" not in "".join(str(a.get("href")) for _, a in tags_of(html))


def test_the_text_of_the_model_html_is_still_readable() -> None:
    assert render_html("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def test_streaming_closes_what_is_open() -> None:
    assert render_html("**bol", streaming=True) == "<p><strong>bol</strong></p>\n"
    assert render_html("```py\nx = 1", streaming=True) == (
        '<pre><code class="language-py">x = 1</code></pre>\n'
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"ab <>&\"'=/\n*_`~#[]()!|-", "<script>", "javascript:", "onerror=", "```", "http://x"]
        ),
        max_size=60,
    ).map("".join)
)
def test_any_text_comes_out_sanitised(markdown: str) -> None:
    assert_sanitised(render_html(markdown))
    assert_sanitised(render_html(markdown, streaming=True))
