"""The PWA in real headless Chromium (Debian's), against the real bot and the LLM emulator.

Playwright's sync API runs its own event loop, so the bot (memory, LLM actor,
web actor on hypercorn, and the LLM emulator) runs in a thread with its own
``trio.run`` (``BotThread``); these tests are plain functions.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import trio_asyncio  # noqa: F401 (loaded in a full run by the Telegram tests: must not matter)
from playwright.sync_api import BrowserContext, Page, expect

from tauro.actors.memory import GetStats
from tauro.actors.web.testing import (
    TEST_SECRET,
    BotThread,
    an_hour_of_samples,
    open_chromium,
    wait_until,
)
from tauro.testing._disk import fill_to_the_last_byte

PHONE = {"width": 390, "height": 844}
CACHED_ENTRIES = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) out.push([name, new URL(request.url).pathname]);
  }
  return out;
}"""


@pytest.fixture
def bot(tmp_path: Path, pwa_copy: Path) -> Iterator[BotThread]:
    thread = BotThread(tmp_path / "bot", pwa_root=pwa_copy)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    violations: list[str] = []
    with open_chromium(tmp_path / "profile", viewport=PHONE) as context:
        context.set_default_timeout(15_000)
        context.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        yield context
    assert violations == []  # the app lives within its own Content-Security-Policy


def _page(browser: BrowserContext) -> Page:
    return browser.pages[0] if browser.pages else browser.new_page()


def _log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login#token={TEST_SECRET}")
    page.wait_for_url(f"{url}/")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")


def _send(page: Page, text: str) -> None:
    page.locator("#text").fill(text)
    page.keyboard.press("Enter")


def _answers(page: Page) -> list[str]:
    return page.locator(".message.assistant:not(.pending) .content").all_inner_texts()


def _saved(page: Page) -> list[dict[str, Any]] | None:
    """The copy of the chat kept in this browser's local storage, or None if there is none."""
    saved = page.evaluate("localStorage.getItem('tauro.history')")
    return None if saved is None else cast(list[dict[str, Any]], json.loads(saved))


def _controlled(page: Page) -> None:
    wait_until(page, "navigator.serviceWorker.controller !== null")


def test_login_form_refuses_a_wrong_secret_then_logs_in(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    page.goto(f"{bot.url}/")
    page.wait_for_url(f"{bot.url}/login")  # no session: the chat sends us to log in
    page.locator("#token").fill("not the secret")
    page.keyboard.press("Enter")
    expect(page.locator("#problem")).to_have_text("That secret is not right.")
    page.locator("#token").fill(TEST_SECRET)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{bot.url}/")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    cookie = next(c for c in browser.cookies() if c["name"] == "tauro_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts


def test_login_link_logs_in_and_drops_the_secret_from_the_address(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    assert TEST_SECRET not in page.url
    assert page.evaluate("history.length") >= 1
    assert TEST_SECRET not in page.evaluate("location.href")


def test_the_login_link_works_in_a_tab_already_on_the_login_page(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    page.goto(f"{bot.url}/login")
    expect(page.locator("#token")).to_be_visible()
    page.goto(f"{bot.url}/login#token={TEST_SECRET}")  # only the #fragment changes
    page.wait_for_url(f"{bot.url}/")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    assert TEST_SECRET not in page.url


def test_the_secret_never_travels_in_a_url(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    page.goto(f"{bot.url}/login?token={TEST_SECRET}")  # the server reads no query string
    expect(page.locator("#token")).to_be_visible()
    assert not [c for c in browser.cookies() if c["name"] == "tauro_session"]
    requests: list[tuple[str, str]] = []
    browser.on("request", lambda request: requests.append((request.method, request.url)))
    plain = browser.new_page()
    cdp = browser.new_cdp_session(plain)
    cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})  # scripts off
    plain.goto(f"{bot.url}/login")
    plain.locator("#token").fill(TEST_SECRET)
    plain.locator("button[type=submit]").click()  # no script: the browser sends the form
    plain.wait_for_url(f"{bot.url}/api/login")
    assert ("POST", f"{bot.url}/api/login") in requests
    assert not [url for _, url in requests if TEST_SECRET in url]
    assert not [c for c in browser.cookies() if c["name"] == "tauro_session"]


def test_logging_out_ends_the_session_for_a_copied_cookie_too(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _send(page, "ciao")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    assert [item["content"] for item in _saved(page) or []] == ["ciao", "Echo: ciao"]
    copied = [c for c in browser.cookies() if c["name"] == "tauro_session"]
    assert page.request.get(f"{bot.url}/api/session").status == 200
    page.locator("#logout").click()
    page.wait_for_url(re.compile(r".*/login$"))
    assert _saved(page) is None  # the copy on this device went with the login
    browser.add_cookies(cast(Any, copied))  # someone kept a copy of the cookie
    assert page.request.get(f"{bot.url}/api/session").status == 401
    page.goto(f"{bot.url}/")
    page.wait_for_url(f"{bot.url}/login")


def test_repeated_wrong_secrets_make_this_browser_wait(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    page.goto(f"{bot.url}/login")
    problem = page.locator("#problem")
    for _ in range(10):  # 3 free tries, then waits of 1, 2, 4 ... s: typing is faster
        page.locator("#token").fill("not the secret")
        page.keyboard.press("Enter")
        expect(problem).to_be_visible()
        if "Too many" in problem.inner_text():
            break
        page.evaluate("document.getElementById('problem').hidden = true")
    expect(problem).to_contain_text("Too many wrong secrets: wait")
    page.locator("#token").fill(TEST_SECRET)  # even the right one waits its turn
    page.keyboard.press("Enter")
    expect(problem).to_contain_text("Too many wrong secrets: wait")
    assert page.url == f"{bot.url}/login"


def test_the_answer_streams_in_and_history_survives_a_reload(
    bot: BotThread, browser: BrowserContext
) -> None:
    assert bot.llm is not None
    bot.llm.set_latency(first_token=0.3, per_token=0.15)
    bot.llm.script("uno due tre quattro cinque sei sette otto")
    page = _page(browser)
    _log_in(page, bot.url)
    _send(page, "conta fino a otto")
    expect(page.locator("#state")).to_have_attribute("data-state", re.compile("thinking|writing"))
    # part of the answer is on screen while it is still being written
    wait_until(
        page,
        """() => {
        const item = document.querySelector('.message.assistant.pending .content');
        return item && item.textContent.length > 0 && item.textContent.length < 30;
    }""",
    )
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    assert _answers(page) == ["uno due tre quattro cinque sei sette otto"]
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    page.reload()
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    contents = page.locator(".message .content").all_inner_texts()
    assert contents == ["conta fino a otto", "uno due tre quattro cinque sei sette otto"]


def test_clear_forgets_the_conversation(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _send(page, "ciao")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    assert [item["content"] for item in _saved(page) or []] == ["ciao", "Echo: ciao"]
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#clear").click()
    expect(page.locator(".message")).to_have_count(0)
    assert _saved(page) is None  # the copy on this device is gone too
    page.reload()
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()


def test_the_service_worker_installs_controls_and_caches_only_the_shell(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _controlled(page)
    _send(page, "ciao")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    page.goto(f"{bot.url}/status")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    entries = page.evaluate(CACHED_ENTRIES)
    names = {name for name, _ in entries}
    paths = {path for _, path in entries}
    assert names == {"tauro-shell-v1"}
    assert {
        "/",
        "/app.js",
        "/style.css",
        "/offline.html",
        "/manifest.webmanifest",
        "/icons/icon-192.png",
        "/icons/icon-512.png",
    } <= paths
    assert not [p for p in paths if p.startswith("/api/") or p == "/metrics"]
    assert "/service-worker.js" not in paths


def test_offline_reload_shows_the_shell_the_saved_chat_and_the_offline_state(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _controlled(page)
    _send(page, "ricordami")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    browser.set_offline(True)
    page.reload()
    expect(page.locator("#state")).to_have_attribute("data-state", "offline")
    expect(page.locator("#notice")).to_contain_text("offline")
    expect(page.locator("h1")).to_have_text("TauroBot")  # the shell, from the cache
    assert page.locator(".message .content").all_inner_texts() == ["ricordami", "Echo: ricordami"]
    expect(page.locator("#send")).to_be_disabled()
    # API answers were never cached: offline, they fail rather than come back stale
    failed = page.evaluate("fetch('/api/history').then(() => false, () => true)")
    assert failed
    browser.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")


def test_at_most_the_last_50_messages_are_kept_on_the_device(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    questions = [f"domanda {number}" for number in range(1, 27)]  # 52 messages with answers
    for question in questions:
        answer = browser.request.post(f"{bot.url}/api/chat", data={"text": question})
        assert answer.status == 200
    page.reload()
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(26)
    saved = [item["content"] for item in _saved(page) or []]
    expected = [text for question in questions for text in (question, f"Echo: {question}")]
    assert saved == expected[-50:]


def test_with_the_server_gone_the_shell_still_opens(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _controlled(page)
    bot.stop()
    page.reload()
    expect(page.locator("#state")).to_have_attribute("data-state", "offline")
    page.goto(f"{bot.url}/somewhere-never-cached")
    expect(page.locator("#offline-page")).to_be_visible()  # the offline fallback page


def test_a_changed_shell_file_reaches_the_page_after_revalidation(
    bot: BotThread, browser: BrowserContext, pwa_copy: Path
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _controlled(page)
    index = pwa_copy / "index.html"
    index.write_text(index.read_text().replace("<h1>TauroBot</h1>", "<h1>TauroBot 4</h1>"))
    page.reload()
    expect(page.locator("h1")).to_have_text("TauroBot")  # answered from the cache at once
    expect(page.locator("#update")).to_be_visible()  # the background refresh saw the change
    page.locator("#reload").click()
    expect(page.locator("h1")).to_have_text("TauroBot 4")


def test_a_new_service_worker_version_takes_over_and_drops_old_caches(
    bot: BotThread, browser: BrowserContext, pwa_copy: Path
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _controlled(page)
    first = page.evaluate("navigator.serviceWorker.controller.scriptURL")
    worker = pwa_copy / "service-worker.js"
    worker.write_text(worker.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    expect(page.locator("#update")).to_be_visible()  # controllerchange: a new version rules
    wait_until(
        page,
        """async () => {
        const names = await caches.keys();
        return names.length === 1 && names[0] === 'tauro-shell-v2';
    }""",
    )
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == first


def test_the_app_is_installable(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _controlled(page)
    cdp = browser.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert manifest["url"] == f"{bot.url}/manifest.webmanifest"
    sizes = page.evaluate("""async () => {
        const out = [];
        for (const size of [192, 512]) {
            const response = await fetch(`/icons/icon-${size}.png`);
            const bitmap = await createImageBitmap(await response.blob());
            out.push([response.status, response.headers.get('content-type'),
                      bitmap.width, bitmap.height]);
        }
        return out;
    }""")
    assert sizes == [[200, "image/png", 192, 192], [200, "image/png", 512, 512]]


def test_the_status_page_shows_live_counters(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    page.goto(f"{bot.url}/status")
    expect(page.locator("#actors tbody tr")).to_have_count(3)
    for name in ("memory", "llm", "web"):
        expect(page.locator(f'#actors tr[data-actor="{name}"] td').first).to_have_text("running")
    turns = page.locator('#web dd[data-key="turns"]')
    expect(turns).to_have_text("0")
    response = browser.request.post(f"{bot.url}/api/chat", data={"text": "ciao"})
    assert response.ok
    expect(turns).to_have_text("1")  # the page polls and shows it
    expect(page.locator('#llm-counters dd[data-key="completed"]')).to_have_text("1")
    expect(page.locator('#memory dd[data-key="journal_appends"]')).not_to_have_text("0")
    expect(page.locator("#llm tbody tr").first).not_to_contain_text("\u2013")


def test_the_status_page_draws_the_last_hour(
    tmp_path: Path, pwa_copy: Path, browser: BrowserContext
) -> None:
    history = an_hour_of_samples(time.time())
    bot = BotThread(tmp_path / "bot", pwa_root=pwa_copy, history=history)
    bot.start()
    try:
        page = _page(browser)
        _log_in(page, bot.url)
        page.goto(f"{bot.url}/status")
        charts = page.locator("#charts figure")
        expect(charts).to_have_count(4)
        for key in ("answers", "first_token_ms", "errors", "restarts"):
            expect(page.locator(f'#charts figure[data-key="{key}"]')).to_have_attribute(
                "data-samples", "60"
            )
        answers = [s.answers for s in history.samples()]
        bars = page.locator('#charts figure[data-key="answers"] rect.bar')
        expect(bars).to_have_count(sum(1 for a in answers if a))
        expect(page.locator('#charts figure[data-key="answers"] .figure')).to_have_text(
            f"{sum(answers)} in 60 min"
        )
        expect(page.locator('#charts figure[data-key="restarts"] rect.bar')).to_have_count(1)
        expect(page.locator('#charts figure[data-key="errors"] rect.bar')).to_have_count(3)
        expect(
            page.locator('#charts figure[data-key="first_token_ms"] polyline')
        ).not_to_have_count(0)
        expect(page.locator("#charts-empty")).to_be_hidden()
        # readable on a phone: two charts a row, none wider than the screen
        boxes = [charts.nth(i).bounding_box() for i in range(4)]
        assert all(box is not None and box["width"] < PHONE["width"] / 2 for box in boxes)
        assert boxes[0] is not None
        assert boxes[1] is not None
        assert boxes[0]["y"] == boxes[1]["y"]
    finally:
        bot.stop()


def test_status_page_needs_the_secret(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    page.goto(f"{bot.url}/status")
    page.wait_for_url(f"{bot.url}/login?next=status")
    page.locator("#token").fill(TEST_SECRET)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{bot.url}/status")
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")


def test_keyboard_alone_is_enough(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    assert page.evaluate("document.activeElement.id") == "text"  # focus starts in the input
    page.keyboard.type("prima riga")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("seconda riga")
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    assert page.locator(".message.user .content").inner_text() == "prima riga\nseconda riga"
    seen = []
    for _ in range(3):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id"))
    assert seen == ["send", "clear", "logout"]  # no voice toggle: this bot has no TTS
    expect(page.locator("#voice")).to_be_hidden()
    page.keyboard.press("Shift+Tab")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")  # "Clear conversation", with its confirmation
    expect(page.locator(".message")).to_have_count(0)


@pytest.fixture
def bot_with_voice(tmp_path: Path, pwa_copy: Path) -> Iterator[BotThread]:
    thread = BotThread(tmp_path / "bot", pwa_root=pwa_copy, voice=True)
    thread.start()
    yield thread
    thread.stop()


def test_voice_answers_play_in_the_page(bot_with_voice: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    _log_in(page, bot_with_voice.url)
    voice = page.locator("#voice")
    expect(voice).to_have_attribute("aria-pressed", "false")
    voice.focus()
    page.keyboard.press("Space")  # a toggle button, usable from the keyboard
    expect(voice).to_have_attribute("aria-pressed", "true")
    expect(voice).to_have_text("Voice answers: on")
    page.locator("#text").fill("hello there")
    page.keyboard.press("Enter")
    audio = page.locator(".message.assistant audio")
    expect(audio).to_have_count(1, timeout=60_000)
    duration = page.evaluate("""() => new Promise((resolve, reject) => {
        const audio = document.querySelector('.message.assistant audio');
        const done = () => resolve(audio.duration);
        if (audio.readyState >= 1) done();
        audio.addEventListener('loadedmetadata', done);
        audio.addEventListener('error', () => reject(new Error('audio did not load')));
    })""")
    assert duration > 0.3
    page.reload()  # the choice is stored with the conversation
    expect(voice).to_have_attribute("aria-pressed", "true")


def test_phone_layout_has_no_sideways_scroll(bot: BotThread, browser: BrowserContext) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    _send(page, "x" * 300)
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    for path in ("/", "/status", "/login"):
        page.goto(f"{bot.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    box = page.locator("#token").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]


@pytest.fixture
def bot_without_llm(tmp_path: Path, pwa_copy: Path) -> Iterator[BotThread]:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    thread = BotThread(tmp_path / "bot", pwa_root=pwa_copy, llm_url=f"http://127.0.0.1:{port}")
    thread.start()
    yield thread
    thread.stop()


def test_llm_unreachable_is_shown_as_such(
    bot_without_llm: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot_without_llm.url)
    _send(page, "ciao")
    expect(page.locator("#state")).to_have_attribute("data-state", "llm-unreachable")
    expect(page.locator("#state")).to_have_text("LLM unreachable")
    expect(page.locator(".message.note")).to_contain_text("not reachable")
    expect(page.locator("#notice")).to_contain_text("language model server")
    expect(page.locator("#send")).to_be_enabled()  # the user can try again


def test_bad_requests_from_a_logged_in_browser_change_nothing(
    bot: BotThread, browser: BrowserContext
) -> None:
    page = _page(browser)
    _log_in(page, bot.url)
    assert bot.bot is not None
    memory = bot.bot.system.ref("memory")
    before = bot.call(memory.ask, GetStats())
    request = browser.request
    bad: list[tuple[str, dict[str, Any]]] = [
        ("/api/chat", {"data": "{oops", "headers": {"content-type": "application/json"}}),
        ("/api/chat", {"data": {"text": "x" * 5000}}),
        (
            "/api/chat",
            {"data": "{" + " " * 70_000 + "}", "headers": {"content-type": "application/json"}},
        ),
        ("/api/clear", {"data": "nope", "headers": {"content-type": "text/plain"}}),
        ("/api/nowhere", {"data": {}}),
    ]
    statuses = [request.post(f"{bot.url}{path}", **options).status for path, options in bad]
    assert statuses == [400, 413, 413, 415, 404]
    assert bot.llm is not None
    assert bot.llm.requests == []
    after = bot.call(memory.ask, GetStats())
    assert (after.messages, after.journal_appends) == (before.messages, before.journal_appends)


CODING_ANSWER = """## Leggere un file

Usa **`pathlib`**, è *semplice*:

1. Crea il `Path`
2. Chiama `read_text()`

```python
from pathlib import Path

def leggi(nome: str) -> str:
    return Path(nome).read_text(encoding="utf-8")
```

- funziona con UTF-8 🎉
- e con ~~codifiche strane~~ tutto il resto
"""
CODE = """from pathlib import Path

def leggi(nome: str) -> str:
    return Path(nome).read_text(encoding="utf-8")"""


def test_a_coding_answer_shows_formatted_with_a_copy_button(
    bot: BotThread, browser: BrowserContext
) -> None:
    assert bot.llm is not None
    bot.llm.set_latency(first_token=0.2, per_token=0.03)
    bot.llm.script(CODING_ANSWER)
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=bot.url)
    page = _page(browser)
    _log_in(page, bot.url)
    _send(page, "Come leggo un file in Python?")
    # Streaming: once the code block shows, the paragraphs above it are final,
    # and later renderings must leave them in place (no flicker, no lost selection).
    wait_until(page, "document.querySelector('.message.assistant.pending .content pre') !== null")
    page.evaluate("window.intro = document.querySelector('.message.assistant .content > p')")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    assert page.evaluate("window.intro.isConnected")
    _check_coding_answer(page)
    page.locator(".message.assistant .copy").click()
    expect(page.locator(".message.assistant .copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == CODE
    page.reload()  # the history comes back rendered too
    expect(page.locator("#state")).to_have_attribute("data-state", "ready")
    _check_coding_answer(page)


def _check_coding_answer(page: Page) -> None:
    answer = page.locator(".message.assistant .content")
    expect(answer.locator("h2")).to_have_text("Leggere un file")
    expect(answer.locator("strong")).to_have_text("pathlib")
    expect(answer.locator("em")).to_have_text("semplice")
    expect(answer.locator("ol > li")).to_have_text(["Crea il Path", "Chiama read_text()"])
    expect(answer.locator("ul > li")).to_have_count(2)
    expect(answer.locator("s")).to_have_text("codifiche strane")
    code = answer.locator(".code pre code.language-python")
    expect(code).to_have_text(CODE)
    font = code.evaluate("element => getComputedStyle(element).fontFamily")
    assert "mono" in font.lower()
    expect(answer.locator(".code button.copy")).to_have_count(1)


XSS_ANSWER = (
    '<img src=x onerror="window.pwned = 1"> <script>window.pwned = 2</script> '
    "[click](javascript:window.pwned=3) **still bold**\n\n"
    "```html\n<script>window.pwned = 4</script>\n```"
)


def test_html_and_scripts_in_answers_and_questions_stay_inert(
    bot: BotThread, browser: BrowserContext
) -> None:
    assert bot.llm is not None
    bot.llm.script(XSS_ANSWER)
    page = _page(browser)
    _log_in(page, bot.url)
    question = '<img src=x onerror="window.pwned = 5"> **not bold**'
    _send(page, question)
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    for _ in range(2):
        messages = page.locator("#messages")
        expect(messages.locator("img, script, iframe")).to_have_count(0)
        expect(page.locator(".message.user .content")).to_have_text(question)
        expect(page.locator(".message.user strong")).to_have_count(0)
        answer = page.locator(".message.assistant .content")
        expect(answer.locator("strong")).to_have_text("still bold")
        expect(answer.locator("a")).to_have_count(0)  # no javascript: link
        expect(answer).to_contain_text('<img src=x onerror="window.pwned = 1">')
        expect(answer.locator("pre code")).to_have_text("<script>window.pwned = 4</script>")
        assert page.evaluate("window.pwned") is None
        page.reload()
        expect(page.locator("#state")).to_have_attribute("data-state", "ready")


@pytest.fixture
def italian_browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium whose user speaks Italian: Accept-Language it-IT, navigator.language it-IT."""
    with open_chromium(tmp_path / "profile-it", viewport=PHONE, locale="it-IT") as context:
        context.set_default_timeout(15_000)
        yield context


def test_an_italian_browser_gets_italian_labels_and_offline_page(
    bot: BotThread, italian_browser: BrowserContext
) -> None:
    page = _page(italian_browser)
    page.goto(f"{bot.url}/login")
    expect(page.locator("button[type=submit]")).to_have_text("Accedi")
    page.locator("#token").fill("sbagliato")
    page.keyboard.press("Enter")
    expect(page.locator("#problem")).to_have_text("Questo segreto non è giusto.")
    page.locator("#token").fill(TEST_SECRET)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{bot.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "it")  # set once the catalog loads
    expect(page.locator("#state")).to_have_text("Pronto")
    expect(page.locator("#send")).to_have_text("Invia")
    expect(page.locator("#clear")).to_have_text("Cancella conversazione")
    expect(page.locator("#empty")).to_have_text("Ancora nessun messaggio. Saluta!")
    expect(page.locator("#text")).to_have_attribute("placeholder", "Scrivi a TauroBot…")
    expect(page.locator("#language")).to_have_value("it")
    _send(page, "ciao")
    expect(page.locator(".message.assistant:not(.pending)")).to_have_count(1)
    _controlled(page)
    italian_browser.set_offline(True)
    page.reload()
    expect(page.locator("#state")).to_have_text("Offline")
    expect(page.locator("#notice")).to_contain_text("Sei offline, oppure il bot")
    page.goto(f"{bot.url}/somewhere-never-cached")
    expect(page.locator("h1")).to_have_text("Sei offline")  # the offline page, in Italian
    expect(page.locator("#offline-page")).to_contain_text("TauroBot non è raggiungibile")
    assert page.evaluate("document.title") == "Offline · TauroBot"
    italian_browser.set_offline(False)


def test_the_language_menu_switches_to_english_and_is_remembered(
    bot: BotThread, italian_browser: BrowserContext
) -> None:
    assert bot.llm is not None
    page = _page(italian_browser)
    _log_in(page, bot.url)
    expect(page.locator("#send")).to_have_text("Invia")
    # The server writes its notices in the page's language.
    bot.llm.inject_fault("error", status=500, times=5)
    _send(page, "ciao")
    expect(page.locator(".message.note .content").last).to_have_text(
        "il server LLM ha avuto un errore interno; riprova più tardi"
    )
    page.locator("#language").select_option("en")
    expect(page.locator("#send")).to_have_text("Send")  # the page reloaded in English
    expect(page.locator("#state")).to_have_text("Ready")
    page.reload()
    expect(page.locator("#send")).to_have_text("Send")
    assert page.evaluate("document.documentElement.lang") == "en"
    bot.llm.inject_fault("error", status=500, times=5)
    _send(page, "hello")
    expect(page.locator(".message.note .content").last).to_have_text(
        "the LLM server had an internal error; please try again later"
    )


def test_a_question_that_cannot_be_stored_stays_in_the_box(
    small_disk: Path, pwa_copy: Path, browser: BrowserContext
) -> None:
    """Memory on a 4 MiB tmpfs filled to the last byte: the page says the bot cannot
    save, keeps the question in the box (not in the history), and once space is
    back the same question goes through."""
    bot = BotThread(small_disk, pwa_root=pwa_copy)
    try:
        bot.start()
        page = _page(browser)
        _log_in(page, bot.url)
        filler = fill_to_the_last_byte(small_disk)
        _send(page, "are you there?")
        expect(page.locator("#state")).to_have_attribute("data-state", "unsaved")
        expect(page.locator("#notice")).to_contain_text("cannot save messages")
        expect(page.locator("#text")).to_have_value("are you there?")
        expect(page.locator(".message.user")).to_have_count(0)
        filler.unlink()
        page.keyboard.press("Enter")
        expect(page.locator(".message.user .content")).to_have_text(["are you there?"])
        expect(page.locator(".message.assistant:not(.pending) .content")).to_have_count(1)
        expect(page.locator("#text")).to_have_value("")
    finally:
        bot.stop()
