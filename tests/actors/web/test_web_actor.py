"""WebActor in a real actor system: memory, the LLM (against the emulator), the web."""

from __future__ import annotations

import json
import logging
import re
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tauro.actors.memory import GetContext
from tauro.actors.web import WEB_ACTOR, GetWebAddress
from tauro.actors.web.testing import an_hour_of_samples
from tauro.runtime.testing import crash_actor, wait_restarted
from tauro.testing import Emulators, TauroProcess, open_llm_server
from tauro.testing._kill9 import bot_environment, open_trial_emulators

Kit = Any  # conftest.bot_kit


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


async def test_chat_goes_through_memory_and_the_llm(tmp_path: Path, bot_kit: Kit) -> None:
    async with open_llm_server() as llm:
        llm.script("Ciao! Come stai oggi?")
        async with (
            bot_kit.open_bot(bot_kit.settings(tmp_path, llm.url)) as bot,
            bot.logged_in() as client,
        ):
            response = await client.post("/api/chat", json={"text": "ciao"})
            events = _events(response.text)
            deltas = "".join(data["text"] for name, data in events if name == "delta")
            assert deltas == "Ciao! Come stai oggi?"
            assert events[-1] == ("done", {"text": "Ciao! Come stai oggi?"})
            history = (await client.get("/api/history")).json()["messages"]
            assert [(m["role"], m["content"]) for m in history] == [
                ("user", "ciao"),
                ("assistant", "Ciao! Come stai oggi?"),
            ]
            assert llm.requests[0].last_user_text == "ciao"
            # the conversation is the MemoryActor's, under this browser's web:<id> key
            conversation = "web:" + client.cookies["tauro_session"].split(".")[0]
            stored = await bot.system.ref("memory").ask(GetContext(conversation, 10))
            assert [m.content for m in stored] == ["ciao", "Ciao! Come stai oggi?"]


async def test_a_restart_of_the_web_actor_keeps_the_last_hour_of_samples(
    tmp_path: Path, bot_kit: Kit
) -> None:
    """docs/web.md: the bot keeps the status page's 60 samples across web restarts."""
    samples = an_hour_of_samples(time.time())

    async def minutes(url: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            (await client.post("/api/login", json={"token": bot_kit.secret})).raise_for_status()
            body = (await client.get("/api/status/history")).json()
        return list(body["minutes"])

    async with (
        open_llm_server() as llm,
        bot_kit.open_bot(bot_kit.settings(tmp_path, llm.url), history=samples) as bot,
    ):
        before = await minutes(bot.url)
        crash_actor(bot.system, WEB_ACTOR)
        await wait_restarted(bot.system, WEB_ACTOR, restarts=1)
        after = await minutes(await bot.system.ref(WEB_ACTOR).ask(GetWebAddress()))
    assert len(before) == len(after) == 60
    assert after[:-1] == before[1:]  # kept; the oldest made room for...
    assert after[-1]["restarts"] == 1  # ...the minute the restart cut short, which shows it


async def test_history_survives_a_restart_of_the_whole_bot(tmp_path: Path, bot_kit: Kit) -> None:
    async with open_llm_server() as llm:
        settings = bot_kit.settings(tmp_path, llm.url)
        async with bot_kit.open_bot(settings) as bot, bot.client() as client:
            await client.post("/api/login", json={"token": bot_kit.secret})
            await client.post("/api/chat", json={"text": "remember me"})
            cookies = dict(client.cookies)
        async with bot_kit.open_bot(settings) as bot, bot.client() as client:
            client.cookies.update(cookies)
            history = (await client.get("/api/history")).json()["messages"]
            assert [m["content"] for m in history] == ["remember me", "Echo: remember me"]


async def test_llm_unreachable_is_its_own_state(tmp_path: Path, bot_kit: Kit) -> None:
    with trio.socket.socket() as unused:
        await unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = bot_kit.settings(tmp_path, f"http://127.0.0.1:{port}")
    async with bot_kit.open_bot(settings) as bot, bot.logged_in() as client:
        english = {"Accept-Language": "en-GB"}
        answer = await client.post("/api/chat", json={"text": "ciao"}, headers=english)
        events = _events(answer.text)
        assert events[-1][0] == "error"
        assert events[-1][1]["kind"] == "llm_unreachable"
        assert "not reachable" in events[-1][1]["message"]
        # Without Accept-Language: BOT_LANGUAGE (Italian by default).
        events = _events((await client.post("/api/chat", json={"text": "ciao"})).text)
        assert "non è raggiungibile" in events[-1][1]["message"]
        history = (await client.get("/api/history")).json()["messages"]
        assert [m["role"] for m in history] == ["user", "user"]  # stored, unanswered


async def test_generated_secret_is_private_and_its_link_logged_once(
    tmp_path: Path, bot_kit: Kit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tauro.web")
    async with open_llm_server() as llm:
        settings = bot_kit.settings(tmp_path, llm.url, token="")
        async with bot_kit.open_bot(settings) as bot:
            url = bot.url
        token_file = tmp_path / "memory" / "web_token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        links = [r for r in caplog.records if r.getMessage() == "web.login_link"]
        assert len(links) == 1
        assert links[0].fields["url"] == f"{url}/login#token={token}"  # type: ignore[attr-defined]
        caplog.clear()
        async with bot_kit.open_bot(settings) as bot, bot.client() as client:
            assert (await client.post("/api/login", json={"token": token})).status_code == 204
        assert not [r for r in caplog.records if r.getMessage() == "web.login_link"]
        assert all(
            token not in r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records
        )


async def test_status_shows_actors_memory_and_llm(tmp_path: Path, bot_kit: Kit) -> None:
    async with (
        open_llm_server() as llm,
        bot_kit.open_bot(bot_kit.settings(tmp_path, llm.url)) as bot,
        bot.logged_in() as client,
    ):
        await client.post("/api/chat", json={"text": "ciao"})
        status = (await client.get("/api/status")).json()
        actors = {a["name"]: a for a in status["actors"]}
        assert set(actors) == {"memory", "llm", "web"}
        assert all(a["state"] == "running" for a in actors.values())
        assert actors["memory"]["handled"] >= 2
        assert status["memory"]["journal_appends"] >= 2
        assert status["memory"]["fsyncs"] >= 1
        assert status["llm"]["counters"]["completed"] == 1
        assert status["llm"]["first_token"]["p50"] > 0  # the one answer took some time
        assert status["voice"] == {}  # no voice actor in this system
        assert status["web"]["turns"] == 1
        metrics = (await client.get("/metrics")).text
        assert 'tauro_actor_state{actor="web",state="running"} 1.0' in metrics
        assert "tauro_llm_completed_total 1.0" in metrics
        health = await client.get("/healthz", cookies={})
        assert (health.status_code, health.json()) == (200, {"status": "ok"})


COUNT = "one two three four five six seven eight nine ten eleven twelve"


async def _stop_while_streaming(
    bot: Any, client: httpx.AsyncClient, lines: list[str]
) -> tuple[float, int]:
    """Ask, stop at the first delta; the stream to its end, and a new question's status."""
    async with client.stream("POST", "/api/chat", json={"text": "count"}) as response:
        reader = response.aiter_lines()
        async for line in reader:
            lines.append(line)
            if line.startswith("event: delta"):
                break
        stopped_at = trio.current_time()
        bot.system.request_stop()
        await trio.sleep(0.2)
        refused = await client.post("/api/chat", json={"text": "too late"})
        lines.extend([line async for line in reader])
    return stopped_at, refused.status_code


async def test_a_graceful_stop_finishes_the_answer_being_streamed(
    tmp_path: Path, bot_kit: Kit
) -> None:
    async with open_llm_server(first_token_latency=0.0, token_latency=0.2) as llm:
        llm.script(COUNT)
        settings = bot_kit.settings(tmp_path, llm.url, grace_period=30.0)
        lines: list[str] = []
        async with bot_kit.open_bot(settings) as bot, bot.logged_in() as client:
            _, refused = await _stop_while_streaming(bot, client, lines)
    assert refused == 503  # new questions are refused at once
    done = [line for line in lines if line.startswith("data:") and "twelve" in line]
    assert done, lines
    assert not any('"kind":"shutdown"' in line for line in lines)
    stored = (tmp_path / "memory" / "conversations.json").read_text()
    assert "eleven twelve" in stored  # the whole answer was recorded
    assert "too late" not in stored


async def test_an_answer_past_the_grace_period_is_cut_with_a_reason(
    tmp_path: Path, bot_kit: Kit
) -> None:
    async with open_llm_server(first_token_latency=0.0, token_latency=0.5) as llm:
        llm.script(COUNT)
        settings = bot_kit.settings(tmp_path, llm.url, stop_timeout=3.0, grace_period=1.0)
        lines: list[str] = []
        async with bot_kit.open_bot(settings) as bot, bot.logged_in() as client:
            conversation = "web:" + client.cookies["tauro_session"].split(".")[0]
            stopped_at, _ = await _stop_while_streaming(bot, client, lines)
        assert trio.current_time() - stopped_at < 1.0 + 3.0
    assert any('"kind":"shutdown"' in line for line in lines)
    stored = json.loads((tmp_path / "memory" / "conversations.json").read_text())
    messages = stored["conversations"][conversation]
    questions = [m["content"] for m in messages if m["role"] == "user"]
    assert questions == ["count"]  # the question stays stored


async def test_address_is_asked_for(tmp_path: Path, bot_kit: Kit) -> None:
    async with (
        open_llm_server() as llm,
        bot_kit.open_bot(bot_kit.settings(tmp_path, llm.url)) as bot,
    ):
        assert await bot.system.ref(WEB_ACTOR).ask(GetWebAddress()) == bot.url


async def test_a_web_answer_cut_off_by_kill_9_is_completed_at_the_next_start(
    tmp_path: Path,
) -> None:
    """A real `tauro run` killed while the model writes a web answer: the next start
    writes it, and that browser's history shows it."""
    secret = "web-secret-for-the-kill-test-0123456789"
    with open_trial_emulators() as emulators:
        env = bot_environment(tmp_path, emulators, WEB_ENABLED="true", WEB_PORT="0")
        env["WEB_TOKEN"] = secret
        emulators.llm_control("/_emulator/latency", {"first_token": 60.0})
        bot = TauroProcess(tmp_path, env)
        try:
            await trio.to_thread.run_sync(bot.wait_ready)
            async with httpx.AsyncClient(base_url=_web_url(bot)) as client:
                assert (await client.post("/api/login", json={"token": secret})).is_success
                with pytest.raises(httpx.ReadTimeout):
                    await client.post("/api/chat", json={"text": "ciao web"}, timeout=1.0)
                cookies = dict(client.cookies)
            await _wait_for_llm_requests(emulators, 1)
        finally:
            bot.kill()
        emulators.llm_control("/_emulator/latency", {"first_token": 0.0})
        bot = TauroProcess(tmp_path, env)
        try:
            await trio.to_thread.run_sync(bot.wait_ready)
            async with httpx.AsyncClient(base_url=_web_url(bot), cookies=cookies) as client:
                history = await _history_with_answer(client)
        finally:
            assert bot.stop() == 0
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "ciao web"),
        ("assistant", history[1]["content"]),
    ]
    assert history[1]["content"].startswith("Echo: ciao web")


def _web_url(bot: TauroProcess) -> str:
    for line in bot.lines:
        if found := re.search(r"web\.listening url=(\S+)", line):
            return found.group(1)
    raise AssertionError("no web.listening line in:\n" + "".join(bot.lines))


async def _wait_for_llm_requests(emulators: Emulators, count: int) -> None:
    with trio.fail_after(30):
        while True:
            answer = await trio.to_thread.run_sync(emulators.llm_control, "/_emulator/requests")
            if len(answer["requests"]) >= count:  # type: ignore[index]
                return
            await trio.sleep(0.1)


async def _history_with_answer(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    with trio.fail_after(30):
        while True:
            messages: list[dict[str, Any]] = (await client.get("/api/history")).json()["messages"]
            if any(message["role"] == "assistant" for message in messages):
                return messages
            await trio.sleep(0.1)
