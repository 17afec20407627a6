"""The HTML extractor: what data-i18n marks in the web app's pages."""

from __future__ import annotations

import io

from tauro.i18n._extract import extract_html

PAGE = b"""<html><head><title data-i18n>Offline \xc2\xb7 TauroBot</title></head>
<body><p data-i18n>No messages
   yet.</p><textarea placeholder="Message TauroBot\xe2\x80\xa6"
 data-i18n-attrs="placeholder"></textarea>
<div><span data-i18n>A new version.</span> <button>Reload</button></div></body></html>"""


def test_marked_texts_and_attributes() -> None:
    found = list(extract_html(io.BytesIO(PAGE), {}, [], {}))
    assert [message for _, _, message, _ in found] == [
        "Offline · TauroBot",
        "No messages yet.",
        "Message TauroBot…",
        "A new version.",
    ]
    assert found[1][0] == 2  # line numbers for translators
