"""The web app: shell loads from the service worker vs the network; time to first token.

Part 1 (app shell). Debian's Chromium (headless, Playwright) reloads the chat page
N times in each of two fresh profiles against the same running bot: one with
service workers blocked (every shell file comes from the server; Cache-Control
no-cache means each is revalidated, usually a 304), one controlled by the
service worker (stale-while-revalidate: the shell comes from its cache, the
refresh happens in the background). Measured in the page with the Navigation
Timing API: until the HTML arrived (responseEnd) and until the load event ended.
Each profile runs on loopback, then with Chromium's network emulation of a
mobile link (150 ms latency, 1.6 Mbit/s down, 750 kbit/s up).

Part 2 (time to first token). One actor system (memory, LLM, Telegram, web, as in
production) against two emulator processes (``tauro.testing.llm_server`` and
``tauro.testing.botapi``). For each LLM first-token latency, samples alternate:
web: from sending ``POST /api/chat`` to the first ``delta`` event read by the
client; Telegram: from pushing the update to the emulator to the emulator
receiving the first message with answer text (sendMessage/editMessageText), and
the same for the complete answer.

    python bench/bench_web.py [--loads 30] [--samples 20] [--latencies 0,0.5] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio
from _figures import percentile
from playwright.sync_api import BrowserContext, Page

from tauro.actors.telegram import GetTelegramStats
from tauro.actors.web import WEB_ACTOR, GetWebAddress
from tauro.actors.web.testing import TEST_SECRET, BotThread, open_chromium, wait_until
from tauro.app import build_system_spec
from tauro.config import (
    LLMSettings,
    MemorySettings,
    Settings,
    TelegramSettings,
    VoiceSettings,
    WebSettings,
)
from tauro.runtime import open_actor_system
from tauro.testing import start_emulator_process

TOKEN = "123456:BENCHbenchBENCHbench"
MODEL = "llama3.2"
MOBILE = {"offline": False, "latency": 150, "downloadThroughput": 200_000,
          "uploadThroughput": 93_750}  # fmt: skip
NAVIGATION = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return n.loadEventEnd > 0 ? [n.responseEnd - n.startTime, n.loadEventEnd - n.startTime]
                            : null;
}"""


# Part 1: the app shell ------------------------------------------------------------------


@dataclass(frozen=True)
class ShellResult:
    network: str
    mode: str
    loads: int
    html_p50: float
    html_p95: float
    load_p50: float
    load_p95: float
    server_requests: float  # per load, counted by the web actor


def shell_loads(loads: int) -> list[ShellResult]:
    results: list[ShellResult] = []
    with tempfile.TemporaryDirectory() as folder:
        bot = BotThread(Path(folder) / "bot")
        bot.start()
        try:
            for network in ("loopback", "mobile"):
                for mode in ("network", "service worker"):
                    profile = Path(folder) / f"profile-{network}-{mode.replace(' ', '-')}"
                    workers = "allow" if mode == "service worker" else "block"
                    with open_chromium(profile, service_workers=workers) as context:
                        result = _measure_shell(bot, context, network, mode, loads)
                    print(shell_row(result), flush=True)
                    results.append(result)
        finally:
            bot.stop()
    return results


def _measure_shell(
    bot: BotThread, context: BrowserContext, network: str, mode: str, loads: int
) -> ShellResult:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(f"{bot.url}/login#token={TEST_SECRET}")
    page.wait_for_url(f"{bot.url}/")
    if mode == "service worker":
        wait_until(page, "navigator.serviceWorker.controller !== null")
    if network == "mobile":
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", MOBILE)
    for _ in range(3):  # warm up: caches filled, connections open
        _reload(page)
    before = _server_requests(bot)
    html, load = [], []
    for _ in range(loads):
        html_ms, load_ms = _reload(page)
        html.append(html_ms)
        load.append(load_ms)
    page.wait_for_timeout(1000)  # let background refreshes land before counting
    per_load = (_server_requests(bot) - before) / loads
    return ShellResult(network, mode, loads, percentile(html, 50), percentile(html, 95),
                       percentile(load, 50), percentile(load, 95), per_load)  # fmt: skip


def _reload(page: Page) -> tuple[float, float]:
    page.reload(wait_until="load")
    timing = wait_until(page, NAVIGATION, every=0.005)
    return float(timing[0]), float(timing[1])


def _server_requests(bot: BotThread) -> int:
    assert bot.bot is not None

    async def read() -> int:
        assert bot.bot is not None
        async with bot.bot.client() as client:
            status = await client.get(
                "/api/status", headers={"Authorization": f"Bearer {TEST_SECRET}"}
            )
            return int(status.json()["web"]["requests"]) - 1  # not this request itself

    return bot.call(read)


SHELL_HEADER = (
    "| network | shell from | loads | HTML p50 / p95 ms | load event p50 / p95 ms "
    "| server requests per load |\n|---|---|---:|---:|---:|---:|"
)


def shell_row(r: ShellResult) -> str:
    return (
        f"| {r.network} | {r.mode} | {r.loads} | {r.html_p50:.1f} / {r.html_p95:.1f} "
        f"| {r.load_p50:.1f} / {r.load_p95:.1f} | {r.server_requests:.1f} |"
    )


# Part 2: time to first token, web vs Telegram ---------------------------------------------


@dataclass(frozen=True)
class TtftResult:
    channel: str
    latency: float
    samples: int
    first_p50: float
    first_p95: float
    done_p50: float
    done_p95: float


async def first_tokens(latencies: Sequence[float], samples: int) -> list[TtftResult]:
    bot_process, bot_base = start_emulator_process("tauro.testing.botapi", "--token", TOKEN)
    llm_process, llm_root = start_emulator_process(
        "tauro.testing.llm_server", "--model", MODEL, "--token-latency", "0.01",
        "--answer-tokens", "30",
    )  # fmt: skip
    results: list[TtftResult] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                telegram=TelegramSettings(token=TOKEN, api_base_url=bot_base, poll_timeout=1.0),
                llm=LLMSettings(host=llm_root, model=MODEL, max_parallel=4),
                memory=MemorySettings(file=Path(folder) / "conversations.json"),
                voice=VoiceSettings(enabled=False),
                web=WebSettings(port=0, token=TEST_SECRET),
            )
            async with open_actor_system(build_system_spec(settings)) as system, \
                    httpx.AsyncClient(timeout=60) as client:  # fmt: skip
                web_url = await system.ref(WEB_ACTOR).ask(GetWebAddress())
                emulator = bot_base.removesuffix("/bot")
                for latency in latencies:
                    await client.post(
                        f"{llm_root}/_emulator/latency", json={"first_token": latency}
                    )
                    results += await _compare(client, system, web_url, emulator, latency,
                                              samples)  # fmt: skip
    finally:
        for process in (bot_process, llm_process):
            process.terminate()
            process.wait()
    return results


async def _compare(client: httpx.AsyncClient, system: Any, web_url: str, emulator: str,
                   latency: float, samples: int) -> list[TtftResult]:  # fmt: skip
    web: list[tuple[float, float]] = []
    telegram: list[tuple[float, float]] = []
    for index in range(samples + 2):  # the first two of each warm up
        web.append(await _web_once(client, web_url, f"question {index}"))
        chat = int(latency * 1000) * 1000 + index + 1
        telegram.append(await _telegram_once(client, system, emulator, chat))
    out = []
    for channel, times in (("web", web[2:]), ("telegram", telegram[2:])):
        firsts, dones = [t[0] for t in times], [t[1] for t in times]
        out.append(TtftResult(channel, latency, len(times),
                              percentile(firsts, 50), percentile(firsts, 95),
                              percentile(dones, 50), percentile(dones, 95)))  # fmt: skip
        print(ttft_row(out[-1]), flush=True)
    return out


async def _web_once(client: httpx.AsyncClient, url: str, text: str) -> tuple[float, float]:
    login = await client.post(f"{url}/api/login", json={"token": TEST_SECRET})
    login.raise_for_status()  # a fresh conversation each time, like a new Telegram chat
    first = None
    sent = time.time()
    async with client.stream("POST", f"{url}/api/chat", json={"text": text}) as response:
        async for line in response.aiter_lines():
            if first is None and line == "event: delta":
                first = time.time() - sent
            if line == "event: done":
                break
    done = time.time() - sent
    client.cookies.clear()
    return (first if first is not None else done), done


async def _telegram_once(client: httpx.AsyncClient, system: Any, emulator: str,
                         chat: int) -> tuple[float, float]:  # fmt: skip
    telegram = system.ref("telegram")
    before = await _answered(telegram)
    sent = time.time()
    await client.post(f"{emulator}/_emulator/push_message", json={"chat_id": chat, "text": "hi"})
    while await _answered(telegram) <= before:  # noqa: ASYNC110 (polls another actor)
        await trio.sleep(0.01)
    reply = await client.get(f"{emulator}/_emulator/sent", params={"chat_id": chat})
    message = reply.json()["messages"][-1]
    shown = [t for t, text in zip(message["unix_times"], message["history"], strict=True)
             if text != "…"]  # fmt: skip
    return shown[0] - sent, message["unix_times"][-1] - sent


async def _answered(telegram: Any) -> int:
    stats = await telegram.ask(GetTelegramStats())
    return sum(stats.outcomes.get(k, 0) for k in ("answered", "failed", "error"))


TTFT_HEADER = (
    "| channel | LLM first-token latency s | samples | first token p50 / p95 ms "
    "| complete answer p50 / p95 ms |\n|---|---:|---:|---:|---:|"
)


def ttft_row(r: TtftResult) -> str:
    return (
        f"| {r.channel} | {r.latency:g} | {r.samples} "
        f"| {1000 * r.first_p50:.0f} / {1000 * r.first_p95:.0f} "
        f"| {1000 * r.done_p50:.0f} / {1000 * r.done_p95:.0f} |"
    )


# Main -----------------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    floats = lambda text: [float(x) for x in text.split(",")]  # noqa: E731
    parser.add_argument("--loads", type=int, default=30, help="page reloads per profile")
    parser.add_argument("--samples", type=int, default=20, help="answers per channel")
    parser.add_argument("--latencies", type=floats, default=[0.0, 0.5])
    parser.add_argument("--quick", action="store_true", help="10 loads, 5 samples, latency 0")
    args = parser.parse_args()
    if args.quick:
        args.loads, args.samples, args.latencies = 10, 5, [0.0]
    return args


if __name__ == "__main__":
    arguments = parse()
    print(f"python {platform.python_version()}, {platform.machine()}, headless Chromium")
    started = time.monotonic()
    print("\n" + SHELL_HEADER, flush=True)
    shell_loads(arguments.loads)
    print("\n" + TTFT_HEADER, flush=True)
    trio.run(first_tokens, arguments.latencies, arguments.samples)
    print(f"\ntotal {time.monotonic() - started:.0f} s")
