"""The Bot API emulator, driven by the real python-telegram-bot client.

PTB runs on asyncio; trio-asyncio runs that loop inside the test's trio run, so the
emulator, PTB's httpx client and the test share trio's (mock) clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import pytest
import telegram
import trio
import trio_asyncio
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from trio.testing import MockClock

from tauro.testing import BotApiEmulator, FloodLimits, open_botapi_emulator
from tauro.testing._botapi_app import build_app
from tauro.testing._botapi_text import parse_text
from tauro.testing._botapi_types import ApiFailure

TOKEN = "123:ABC"
# PTB 22 warns about its own int-vs-timedelta transition when it builds RetryAfter.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

# PTB's own HTTPXRequest reaches its sockets through anyio's asyncio backend, which
# must be imported after trio_asyncio patched asyncio.get_running_loop: the tests
# run without anyio's pytest plugin ("-p no:anyio" in pyproject.toml), which would
# import it first.


class Client:
    """Calls PTB's asyncio methods from trio."""

    def __init__(self, bot: telegram.Bot) -> None:
        self.bot = bot

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.bot, name)
        return lambda *args, **kwargs: trio_asyncio.aio_as_trio(method)(*args, **kwargs)


def _seconds(duration: timedelta | float) -> float:
    """PTB 22 gives durations as int or timedelta depending on PTB_TIMEDELTA."""
    return duration.total_seconds() if isinstance(duration, timedelta) else float(duration)


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with open_botapi_emulator(TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Client]:
    async with trio_asyncio.open_loop():
        ptb = telegram.Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)
        client = Client(ptb)
        await client.initialize()
        yield client
        await client.shutdown()


# ------------------------------------------------------------------------ getMe
async def test_get_me_returns_the_bot_named_by_the_token(bot: Client) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123, True, "tauro_test_bot")


async def test_wrong_token_is_unauthorized(emu: BotApiEmulator) -> None:
    async with trio_asyncio.open_loop():
        wrong = Client(telegram.Bot("123:WRONG", base_url=emu.base_url))
        with pytest.raises(InvalidToken):
            await wrong.get_me()


async def test_unknown_method_is_not_found_and_names_are_case_insensitive(
    emu: BotApiEmulator,
) -> None:
    async with httpx.AsyncClient(base_url=f"{emu.base_url}{TOKEN}") as http:
        missing = await http.post("/sendTelepathy")
        lower = await http.get("/getme")
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert lower.json()["result"]["id"] == 123


# ------------------------------------------------------------------- getUpdates
async def test_offset_confirms_updates_and_forgets_older_ones(
    emu: BotApiEmulator, bot: Client
) -> None:
    ids = [emu.push_message(42, f"m{i}") for i in range(3)]
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    # Update ids[0] was confirmed by that offset: gone even without an offset now.
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]
    assert emu.statistics().updates_pending == 2


async def test_negative_offset_keeps_only_the_last_updates(
    emu: BotApiEmulator, bot: Client
) -> None:
    ids = [emu.push_message(42, f"m{i}") for i in range(4)]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[-1:]
    assert [u.update_id for u in await bot.get_updates()] == ids[-1:]


async def test_limit_caps_the_batch(emu: BotApiEmulator, bot: Client) -> None:
    for i in range(5):
        emu.push_message(42, f"m{i}")
    assert len(await bot.get_updates(limit=2)) == 2


async def test_long_poll_returns_when_an_update_arrives(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    async def user_writes_later() -> None:
        await trio.sleep(7)
        emu.push_message(42, "late")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(user_writes_later)
        start = trio.current_time()
        updates = await bot.get_updates(timeout=30)
    assert trio.current_time() - start == pytest.approx(7)
    assert updates[0].message.text == "late"


async def test_long_poll_without_updates_ends_at_the_timeout(
    bot: Client, autojump_clock: MockClock
) -> None:
    start = trio.current_time()
    assert await bot.get_updates(timeout=20) == ()
    assert trio.current_time() - start == pytest.approx(20)


async def test_second_instance_polling_terminates_the_first_with_conflict(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    other = Client(telegram.Bot(emu.token, base_url=emu.base_url))
    results: dict[str, object] = {}

    async def first() -> None:
        with pytest.raises(Conflict) as caught:
            await bot.get_updates(timeout=30)
        results["first"] = caught.value

    async with trio.open_nursery() as nursery:
        nursery.start_soon(first)
        await trio.sleep(1)
        results["second"] = await other.get_updates(timeout=2)
    await other.shutdown()
    assert "terminated by other getUpdates request" in str(results["first"])
    assert results["second"] == ()
    assert emu.statistics().conflicts == 1


async def test_webhook_makes_get_updates_conflict_until_deleted(
    emu: BotApiEmulator, bot: Client
) -> None:
    emu.set_webhook("https://example.org/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_allowed_updates_filters_later_updates(emu: BotApiEmulator, bot: Client) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    emu.push_message(42, "ignored")
    sent = await bot.send_message(42, "pick")
    emu.push_callback_query(42, sent.message_id, "yes")
    updates = await bot.get_updates()
    assert [u.callback_query.data for u in updates] == ["yes"]
    assert await bot.answer_callback_query(updates[0].callback_query.id)


async def test_pushed_messages_carry_command_and_mention_entities(
    emu: BotApiEmulator, bot: Client
) -> None:
    emu.push_message(-100, "/help@tauro_test_bot", chat_type="supergroup", user_id=7)
    emu.push_message(-100, "hey @tauro_test_bot 😀", chat_type="supergroup", user_id=7)
    command, mention = [u.message for u in await bot.get_updates()]
    assert command.entities[0].type == "bot_command"
    assert command.parse_entity(command.entities[0]) == "/help@tauro_test_bot"
    assert mention.parse_entity(mention.entities[0]) == "@tauro_test_bot"
    assert (mention.chat.type, mention.from_user.id) == ("supergroup", 7)


async def test_non_text_updates_are_well_formed(emu: BotApiEmulator, bot: Client) -> None:
    emu.push_sticker(42)
    emu.push_photo(42, caption="look")
    emu.push_document(42, file_name="a.txt", mime_type="text/plain")
    emu.push_voice(42, duration=4)
    sticker, photo, document, voice = [u.message for u in await bot.get_updates()]
    assert sticker.sticker.emoji == "👍"
    assert photo.caption == "look"
    assert len(photo.photo) == 3
    assert document.document.file_name == "a.txt"
    assert _seconds(voice.voice.duration) == 4


# ----------------------------------------------------------------- sending
async def test_send_message_with_markdown_and_reply(emu: BotApiEmulator, bot: Client) -> None:
    emu.push_message(42, "question")
    asked = (await bot.get_updates())[0].message
    sent = await bot.send_message(
        42, "*bold* answer", parse_mode="Markdown", reply_to_message_id=asked.message_id
    )
    assert sent.text == "bold answer"
    assert sent.entities[0].type == "bold"
    assert sent.reply_to_message.text == "question"
    assert sent.message_id == asked.message_id + 1
    assert emu.messages(42)[0].reply_to_message_id == asked.message_id


async def test_unbalanced_markup_cannot_be_parsed(emu: BotApiEmulator, bot: Client) -> None:
    emu.add_chat(42)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(42, "a *b", parse_mode="Markdown")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(42, "<b>x</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)reserved"):
        await bot.send_message(42, "Hi.", parse_mode="MarkdownV2")
    assert emu.sent == []


async def test_text_length_limits(emu: BotApiEmulator, bot: Client) -> None:
    emu.add_chat(42)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(42, "   ")
    assert (await bot.send_message(42, "x" * 4096)).text == "x" * 4096


async def test_unknown_chat_is_not_found(bot: Client) -> None:
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(999, "hello")


async def test_edit_keeps_history_and_refuses_unchanged_text(
    emu: BotApiEmulator, bot: Client
) -> None:
    emu.add_chat(42)
    sent = await bot.send_message(42, "Hel")
    await bot.edit_message_text("Hello", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Hello", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=77)
    assert emu.messages(42)[0].history == ("Hel", "Hello")
    assert emu.texts(42) == ["Hello"]


async def test_user_messages_cannot_be_edited(emu: BotApiEmulator, bot: Client) -> None:
    emu.push_message(42, "mine")
    with pytest.raises(BadRequest, match="(?i)can't be edited"):
        await bot.edit_message_text("yours", chat_id=42, message_id=1)


async def test_send_voice_multipart_keeps_the_bytes(emu: BotApiEmulator, bot: Client) -> None:
    emu.add_chat(42)
    audio = b"OggS" + bytes(range(256)) * 4
    sent = await bot.send_voice(42, voice=audio, duration=3, caption="listen")
    stored = emu.messages(42)[0].file
    assert stored is not None
    assert stored.data == audio
    assert (stored.mime_type, sent.voice.file_size) == ("audio/ogg", len(audio))
    assert _seconds(sent.voice.duration) == 3
    assert sent.caption == "listen"
    again = await bot.send_voice(42, voice=sent.voice.file_id)
    assert again.voice.file_unique_id == sent.voice.file_unique_id
    path = (await bot.get_file(sent.voice.file_id)).file_path
    async with httpx.AsyncClient() as http:
        downloaded = await http.get(path)
    assert downloaded.content == audio


async def test_chat_actions_are_recorded_and_checked(emu: BotApiEmulator, bot: Client) -> None:
    emu.add_chat(42)
    assert await bot.send_chat_action(42, "typing")
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await bot.send_chat_action(42, "dancing")
    assert [(a.chat_id, a.action) for a in emu.chat_actions] == [(42, "typing")]


async def test_set_my_commands(emu: BotApiEmulator, bot: Client) -> None:
    assert await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Bad Command", "x")])


# ------------------------------------------------------------------- faults
async def test_injected_429_surfaces_as_retry_after(emu: BotApiEmulator, bot: Client) -> None:
    emu.add_chat(42)
    emu.inject_error("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter, match="Retry in 7"):
        await bot.send_message(42, "hi")
    assert (await bot.send_message(42, "hi")).text == "hi"
    assert emu.statistics().rate_limited == 1


async def test_injected_errors_count_down(emu: BotApiEmulator, bot: Client) -> None:
    emu.inject_error("getMe", 502, "Bad Gateway", times=2)
    for _ in range(2):
        with pytest.raises(telegram.error.NetworkError):
            await bot.get_me()
    assert (await bot.get_me()).id == 123


async def test_latency_delays_calls_on_trio_clock(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    emu.set_latency("getMe", 2.5)
    start = trio.current_time()
    await bot.get_me()
    assert trio.current_time() - start == pytest.approx(2.5)


async def test_flood_limits_give_429_and_recover_after_retry_after(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    emu.add_chat(42)
    emu.set_flood_limits(FloodLimits(private_rate=1.0, private_burst=3))
    for i in range(3):
        await bot.send_message(42, f"burst {i}")
    with pytest.raises(RetryAfter, match="Retry in 1"):
        await bot.send_message(42, "one too many")
    await trio.sleep(1)
    assert (await bot.send_message(42, "after waiting")).text == "after waiting"


async def test_global_flood_limit_spans_chats(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    emu.set_flood_limits(FloodLimits())
    for chat_id in range(1, 32):
        emu.add_chat(chat_id)
    for chat_id in range(1, 31):
        await bot.send_message(chat_id, "broadcast")
    with pytest.raises(RetryAfter):
        await bot.send_message(31, "one more")
    assert emu.statistics().rate_limited == 1


async def test_group_flood_limit_is_per_minute(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    emu.add_chat(-5, "group")
    emu.set_flood_limits(FloodLimits())
    for i in range(20):
        await bot.send_message(-5, f"m{i}")
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(-5, "m20")


# ------------------------------------------------------------- inspection
async def test_wait_for_wakes_on_calls_and_times_out(
    emu: BotApiEmulator, bot: Client, autojump_clock: MockClock
) -> None:
    emu.add_chat(42)

    async def bot_answers_later() -> None:
        await trio.sleep(3)
        await bot.send_message(42, "done")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(bot_answers_later)
        await emu.wait_for(lambda: emu.texts(42) == ["done"], timeout=5)
    with pytest.raises(trio.TooSlowError):
        await emu.wait_for(lambda: len(emu.sent) > 1, timeout=5)
    assert [c.method for c in emu.calls][-1] == "sendMessage"
    assert emu.statistics().calls["sendMessage"] == 1


async def test_control_endpoints_push_and_list(emu: BotApiEmulator, bot: Client) -> None:
    async with httpx.AsyncClient(base_url=f"{emu.root_url}/_emulator") as http:
        pushed = await http.post("/push_message", json={"chat_id": 5, "text": "hi"})
        update = (await bot.get_updates())[0]
        batch = [{"chat_id": c, "text": "x"} for c in (6, 7)]
        many = (await http.post("/push_messages", json={"messages": batch})).json()
        await bot.send_message(5, "hello")
        listed = (await http.get("/sent", params={"chat_id": 5})).json()
        await http.post(
            "/inject_error",
            json={"method": "getMe", "status": 500, "description": "Internal Server Error"},
        )
        stats = (await http.get("/statistics")).json()
    assert pushed.json()["update_id"] == update.update_id
    assert many["update_ids"] == [update.update_id + 1, update.update_id + 2]
    assert listed["messages"][0]["text"] == "hello"
    assert abs(listed["messages"][0]["unix_times"][0] - time.time()) < 60
    assert stats["messages_sent"] == 1
    with pytest.raises(telegram.error.NetworkError):
        await bot.get_me()


async def test_control_endpoints_refuse_other_hosts() -> None:
    app = build_app(BotApiEmulator())
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://emu") as http:
        refused = await http.post("/_emulator/push_message", json={"chat_id": 1, "text": "x"})
        allowed = await http.get("/_emulator/statistics")
    assert refused.status_code == 403
    assert allowed.status_code == 200


async def test_a_request_cut_off_mid_body_does_nothing() -> None:
    """A bot killed while it uploads: no message, no error, the emulator serves on."""
    emulator = BotApiEmulator(TOKEN)
    emulator.push_message(42, "hi")  # the chat exists
    body = json.dumps({"chat_id": 42, "text": "half"}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": f"/bot{TOKEN}/sendMessage", "raw_path": b"", "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"99")],
    }  # fmt: skip
    incoming: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await build_app(emulator)(scope, receive, send)
    assert sent[0]["status"] == 499
    assert emulator.calls_of("sendMessage") == []
    assert [message.text for message in emulator.messages(42)] == []


# ------------------------------------------------------------ text parsing
@pytest.mark.parametrize(
    ("text", "mode", "plain", "entity"),
    [
        ("*a* b", "Markdown", "a b", ("bold", 0, 1)),
        ("[link](http://x.org)", "Markdown", "link", ("text_link", 0, 4)),
        ("😀 <i>it</i>", "HTML", "😀 it", ("italic", 3, 2)),
        ("a &lt;b&gt; <code>c</code>", "HTML", "a <b> c", ("code", 6, 1)),
        ("__u__ \\. ||s||", "MarkdownV2", "u . s", ("underline", 0, 1)),
        ("```py\nx = 1```", "MarkdownV2", "x = 1", ("pre", 0, 5)),
        ("*a _b_ c*", "MarkdownV2", "a b c", ("bold", 0, 5)),
        ("[go](http://x.org/a\\)b)", "MarkdownV2", "go", ("text_link", 0, 2)),
    ],
)
def test_parse_modes_produce_entities(
    text: str, mode: str, plain: str, entity: tuple[str, int, int]
) -> None:
    parsed = parse_text(text, mode)
    first = parsed.entities[0]
    assert parsed.text == plain
    assert (first["type"], first["offset"], first["length"]) == entity


@pytest.mark.parametrize(
    ("text", "mode", "detail"),
    [
        ("ab *c", "Markdown", "Can't find end of the entity starting at byte offset 3"),
        ("<b>x", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "HTML", "Unexpected end tag at byte offset 1"),
        ("<blink>x</blink>", "HTML", 'Unsupported start tag "blink" at byte offset 0'),
        ("*bold", "MarkdownV2", "Can't find end of Bold entity at byte offset 0"),
        ("1+1", "MarkdownV2", "Character '+' is reserved"),
        ("snake_case name", "Markdown", "Can't find end of the entity starting at byte offset 5"),
    ],
)
def test_bad_markup_errors_use_telegram_wording(text: str, mode: str, detail: str) -> None:
    with pytest.raises(ApiFailure) as caught:
        parse_text(text, mode)
    assert caught.value.error_code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert detail in caught.value.description


def test_surrounding_whitespace_is_trimmed_before_comparing() -> None:
    assert parse_text("  hi \n", None).text == "hi"
    assert parse_text(" <b>hi</b> ", "HTML").entities[0]["offset"] == 0


# ---------------------------------------------------------- separate process
async def test_runs_as_a_separate_process() -> None:
    command = [sys.executable, "-m", "tauro.testing.botapi", "--port", "0", "--token", TOKEN]
    async with trio.open_nursery() as nursery:
        run = partial(trio.run_process, command, stdout=subprocess.PIPE, check=False)
        process = await nursery.start(run)
        line = await _read_line(process.stdout)
        base_url = line.split()[1]
        async with httpx.AsyncClient() as http:
            me = (await http.get(f"{base_url}{TOKEN}/getMe")).json()
        process.terminate()
    assert line.startswith("READY http://127.0.0.1:")
    assert me["result"]["username"] == "tauro_test_bot"


async def _read_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    with trio.fail_after(30):
        while b"\n" not in data:
            data += await stream.receive_some()
    return data.decode().splitlines()[0]


def test_payload_of_failures() -> None:
    failure = ApiFailure(429, "Too Many Requests: retry after 3", 3)
    assert json.loads(json.dumps(failure.payload()))["parameters"] == {"retry_after": 3}


async def test_abandoned_long_poll_is_dropped_without_conflict(
    emu: BotApiEmulator, autojump_clock: MockClock
) -> None:
    url = f"{emu.base_url}{TOKEN}/getUpdates"
    async with httpx.AsyncClient(timeout=60) as crashed:
        with trio.move_on_after(1):
            await crashed.post(url, data={"timeout": "30"})
    await emu.wait_for(lambda: not emu.state.updates.polling, timeout=5)
    emu.push_message(42, "after restart")
    async with httpx.AsyncClient(timeout=60) as restarted:
        reply = (await restarted.post(url, data={"timeout": "30"})).json()
    assert reply["result"][0]["message"]["text"] == "after restart"
    assert emu.statistics().conflicts == 0


def test_markdown_v2_link_urls_unescape() -> None:
    parsed = parse_text("[go](http://x.org/a\\)b) \\!", "MarkdownV2")
    assert parsed.text == "go !"
    assert parsed.entities[0]["url"] == "http://x.org/a)b"
