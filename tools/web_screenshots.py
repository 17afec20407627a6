"""Take the screenshots of docs/web.md: the chat, a coding answer, the status page, offline.

The real bot (memory, LLM actor on the LLM emulator, web actor) runs in a thread
and Debian's Chromium shows it at a phone's size, as an Italian user's browser
(Accept-Language it-IT), so the app speaks Italian:

    .venv/bin/python tools/web_screenshots.py [--out docs/screenshots] [--locale it-IT]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tauro.actors.web.testing import (
    TEST_SECRET,
    BotThread,
    an_hour_of_samples,
    open_chromium,
    wait_until,
)

PHONE = {"width": 390, "height": 844}
ANSWERS = (
    "Ciao! Sono TauroBot. Posso aiutarti a organizzare la giornata, rispondere a "
    "domande o semplicemente fare due chiacchiere.",
    "Ecco tre idee per stasera:\n1. Una passeggiata lungo il fiume\n2. Pasta al pomodoro "
    "fatta in casa\n3. Un film di Fellini",
)
CODING_QUESTION = "Come leggo un file di testo in Python?"
CODING_ANSWER = """Con **pathlib** bastano due righe:

```python
from pathlib import Path

testo = Path("note.txt").read_text(encoding="utf-8")
print(testo.splitlines()[0])
```

- `read_text` apre e chiude il file da sola
- indica *sempre* la codifica: i file italiani hanno spesso **accenti** (è, à)
"""


def chat(page: Page, url: str, out: Path) -> None:
    page.goto(f"{url}/login#token={TEST_SECRET}")
    page.wait_for_url(f"{url}/")
    for question in ("Ciao! Chi sei?", "Cosa posso fare stasera?"):
        page.locator("#text").fill(question)
        page.keyboard.press("Enter")
        expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    page.locator("#text").fill("Grazie!")
    page.screenshot(path=out / "chat.png")


def coding(page: Page, url: str, out: Path) -> None:
    """A coding answer in a conversation of its own (a fresh browser profile)."""
    page.goto(f"{url}/login#token={TEST_SECRET}")
    page.wait_for_url(f"{url}/")
    page.locator("#text").fill(CODING_QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    expect(page.locator(".message.assistant .copy")).to_have_count(1)
    page.screenshot(path=out / "chat-code.png")


def status(page: Page, url: str, out: Path) -> None:
    page.goto(f"{url}/status")
    expect(page.locator('#web dd[data-key="turns"]')).to_have_text("2")
    expect(page.locator('#charts figure[data-key="answers"]')).to_have_attribute(
        "data-samples", "60"
    )
    page.screenshot(path=out / "status.png", full_page=True)


def offline(page: Page, url: str, out: Path) -> None:
    page.goto(f"{url}/")
    wait_until(page, "navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#state")).to_have_attribute("data-state", "offline")
    page.screenshot(path=out / "chat-offline.png")
    page.context.set_offline(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--locale", default="it-IT", help="the browser's language")
    arguments = parser.parse_args()
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        bot = BotThread(
            Path(folder) / "bot",
            llm_options={"token_latency": 0.01},
            history=an_hour_of_samples(time.time()),  # the charts' hour, made up
        )
        bot.start()
        assert bot.llm is not None
        bot.llm.script(*ANSWERS)
        try:
            with open_chromium(
                Path(folder) / "profile", viewport=PHONE, locale=arguments.locale
            ) as context:
                page = context.pages[0] if context.pages else context.new_page()
                chat(page, bot.url, out)
                status(page, bot.url, out)
                offline(page, bot.url, out)
            bot.llm.script(CODING_ANSWER)
            with open_chromium(
                Path(folder) / "profile-code", viewport=PHONE, locale=arguments.locale
            ) as context:
                page = context.pages[0] if context.pages else context.new_page()
                coding(page, bot.url, out)
        finally:
            bot.stop()
    for name in ("chat.png", "chat-code.png", "status.png", "chat-offline.png"):
        print(out / name)


if __name__ == "__main__":
    main()
