"""Take docs/screenshots/telegram-code.png: a coding answer as a Telegram user sees it.

No Telegram app runs here, so the picture is drawn from what the Bot API
emulator *received*: the answer goes through the bot's Markdown conversion
(``telegram_pieces``), the emulator parses each message's HTML as Telegram
does (refusing what Telegram would refuse), and its plain text and entities
(bold, italic, code, pre with language, links, quotes) are drawn as chat
bubbles by Debian's Chromium:

    .venv/bin/python tools/telegram_screenshot.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from tauro.actors.telegram._markdown import telegram_pieces
from tauro.actors.web.testing import open_chromium
from tauro.testing._botapi_text import ParsedText, parse_text

PHONE = {"width": 390, "height": 844}
QUESTION = "Come leggo un file di testo in Python?"
ANSWER = """## Leggere un file

Con **pathlib** bastano due righe:

```python
from pathlib import Path

testo = Path("note.txt").read_text(encoding="utf-8")
print(testo.splitlines()[0])
```

1. `read_text` apre e chiude il file da sola
2. indica *sempre* la codifica: i file italiani hanno spesso **accenti** (è, à)

> Documentazione: [pathlib](https://docs.python.org/3/library/pathlib.html)
"""
_TAGS = {"bold": "b", "italic": "i", "strikethrough": "s", "underline": "u", "code": "code"}
_TAGS |= {"pre": "pre", "text_link": "a", "blockquote": "blockquote"}
STYLE = """
body { margin: 0; background: #b5c9a6; font: 15px/1.4 system-ui, sans-serif; }
header { background: #517da2; color: white; padding: 12px 16px; font-weight: 600; }
.chat { display: flex; flex-direction: column; gap: 8px; padding: 12px; }
.bubble { max-width: 85%; padding: 7px 10px; border-radius: 12px; white-space: pre-wrap;
          overflow-wrap: anywhere; box-shadow: 0 1px 1px rgba(0,0,0,.15); }
.me { align-self: flex-end; background: #effdde; }
.bot { align-self: flex-start; background: white; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; color: #b8341b; }
pre { display: block; margin: 0; padding: 6px 8px; background: #f1f3f5; border-radius: 6px;
      white-space: pre-wrap; color: #1f2933; }
pre::before { content: attr(data-language); display: block; color: #517da2; font-size: 11px; }
blockquote { margin: 4px 0; padding-left: 8px; border-left: 3px solid #517da2; }
a { color: #2481cc; }
"""


def bubble(parsed: ParsedText) -> str:
    """The message's text with its entities as HTML: what Telegram draws."""
    units = parsed.text.encode("utf-16-le")
    events: list[tuple[int, int, str]] = []
    for order, entity in enumerate(parsed.entities):
        opening, closing = _tag(entity)
        events.append((entity["offset"], 1, f"{order:04d}" + opening))
        events.append((entity["offset"] + entity["length"], 0, f"{9999 - order:04d}" + closing))
    out, position = [], 0
    for offset, _, tag in sorted(events):
        out.append(escape(units[2 * position : 2 * offset].decode("utf-16-le")))
        out.append(tag[4:])
        position = offset
    out.append(escape(units[2 * position :].decode("utf-16-le")))
    return "".join(out)


def _tag(entity: dict[str, Any]) -> tuple[str, str]:
    name = _TAGS.get(entity["type"], "span")
    if name == "a":
        return f'<a href="{escape(entity["url"])}">', "</a>"
    if name == "pre":
        return f'<pre data-language="{escape(entity.get("language", ""))}">', "</pre>"
    return f"<{name}>", f"</{name}>"


def page_html() -> str:
    bubbles = [f'<div class="bubble me">{escape(QUESTION)}</div>']
    for piece in telegram_pieces(ANSWER):
        assert piece.html is not None
        parsed = parse_text(piece.html, "HTML")  # the emulator: refuses what Telegram would
        bubbles.append(f'<div class="bubble bot">{bubble(parsed)}</div>')
    return (
        f"<!doctype html><meta charset='utf-8'><style>{STYLE}</style>"
        f"<header>TauroBot</header><div class='chat'>{''.join(bubbles)}</div>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as folder,
        open_chromium(Path(folder) / "profile", viewport=PHONE) as context,
    ):
        page = context.pages[0] if context.pages else context.new_page()
        page.set_content(page_html())
        page.screenshot(path=out / "telegram-code.png")
    print(out / "telegram-code.png")


if __name__ == "__main__":
    main()
