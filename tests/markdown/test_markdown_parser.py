"""The shared parser: what a half-received text gets closed with, which links are safe."""

from __future__ import annotations

import pytest

from tauro.markdown import close_dangling, parse_tree, safe_link


@pytest.mark.parametrize(
    ("so_far", "closed"),
    [
        ("Ecco **come", "Ecco **come**"),
        ("Ecco *come", "Ecco *come*"),
        ("Ecco _come", "Ecco _come_"),
        ("Ecco ~~come", "Ecco ~~come~~"),
        ("Vedi `print(", "Vedi `print(`"),
        ("**bold *and it", "**bold *and it***"),
        ("Ecco **come  \n", "Ecco **come**"),
        ("finished **bold**", "finished **bold**"),
        ("2 * 3 = 6", "2 * 3 = 6"),
        ("snake_case_name", "snake_case_name"),
        ("```python\nx = a * b", "```python\nx = a * b"),  # open fences need nothing
        ("```python\nx = `a", "```python\nx = `a"),
        ("- item *one", "- item *one*"),
        ("plain text", "plain text"),
    ],
)
def test_close_dangling(so_far: str, closed: str) -> None:
    assert close_dangling(so_far) == closed


def test_raw_html_is_text_and_tables_and_strikethrough_are_on() -> None:
    kinds = [node.type for node in parse_tree("<b>x</b>\n\n| a |\n|---|\n| 1 |\n\n~~s~~").walk()]
    assert "html_block" not in kinds
    assert "html_inline" not in kinds
    assert "table" in kinds
    assert "s" in kinds


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.org", True),
        ("HTTP://EXAMPLE.ORG", True),
        ("mailto:a@b.c", True),
        ("tg://user?id=1", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>", False),
        ("vbscript:x", False),
        ("page.html", False),
        ("//evil.example", False),
    ],
)
def test_safe_link(url: str, safe: bool) -> None:
    assert safe_link(url) is safe
