import trio

from tauro.actors.telegram._commands import Command
from tauro.actors.telegram._dispatch import (
    ChatDispatcher,
    Ignore,
    Reply,
    RunCommand,
    Turn,
    route,
)
from tauro.actors.telegram._incoming import Incoming


async def test_each_chat_in_order_chats_in_parallel(autojump_clock: trio.abc.Clock) -> None:
    done: dict[int, list[int]] = {}
    active = 0
    most = 0

    async def handler(job: tuple[int, int]) -> None:
        nonlocal active, most
        chat, n = job
        active += 1
        most = max(most, active)
        await trio.sleep(1.0 if n == 0 else 0.1)
        done.setdefault(chat, []).append(n)
        active -= 1

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        dispatcher = ChatDispatcher(nursery, handler, max_chats=100)
        for n in range(5):
            for chat in range(50):
                await dispatcher.submit(chat, (chat, n))
    assert all(done[chat] == [0, 1, 2, 3, 4] for chat in range(50))
    assert most == 50
    assert trio.current_time() - start < 1.5  # not 50 x 1.4 s


async def test_chats_in_flight_are_bounded_and_submit_waits(
    autojump_clock: trio.abc.Clock,
) -> None:
    active = 0
    most = 0

    async def handler(job: int) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await trio.sleep(1)
        active -= 1

    async with trio.open_nursery() as nursery:
        dispatcher = ChatDispatcher(nursery, handler, max_chats=4)
        start = trio.current_time()
        for chat in range(8):
            await dispatcher.submit(chat, chat)
        # The 5th chat had to wait for a slot: backpressure on the submitter.
        assert trio.current_time() - start >= 1.0
        assert dispatcher.chats_in_flight <= 4
    assert most == 4
    assert dispatcher.handled == 8


async def test_a_failing_job_does_not_stop_the_chat(autojump_clock: trio.abc.Clock) -> None:
    seen: list[int] = []

    async def handler(job: int) -> None:
        if job == 1:
            raise RuntimeError("bug")
        seen.append(job)

    async with trio.open_nursery() as nursery:
        dispatcher = ChatDispatcher(nursery, handler, max_chats=1)
        for job in range(3):
            await dispatcher.submit(7, job)
    assert seen == [0, 2]


def incoming(text: str | None = "hi", **over: object) -> Incoming:
    return Incoming(1, **{"chat_id": 42, "user_id": 42, "text": text} | over)  # type: ignore[arg-type]


def test_route_text_is_a_turn() -> None:
    assert route(incoming("ciao"), "bot", 4096) == Turn("ciao")


def test_route_group_says_who_speaks() -> None:
    msg = incoming("ciao", chat_id=-5, chat_type="group", user_name="Ada")
    assert route(msg, "bot", 4096) == Turn("Ada: ciao")


def test_route_commands() -> None:
    assert route(incoming("/start"), "bot", 4096) == RunCommand(Command("start"))
    assert route(incoming("/voice@Bot on"), "bot", 4096) == RunCommand(Command("voice", ("on",)))
    assert isinstance(route(incoming("/start@other_bot"), "bot", 4096), Ignore)


def test_route_non_text_empty_and_too_long() -> None:
    sticker = route(incoming(None, content="sticker"), "bot", 4096)
    assert isinstance(sticker, Reply)
    assert "sticker" in sticker.text
    note = route(incoming(None, content="video_note"), "bot", 4096)
    assert isinstance(note, Reply)
    assert "video note" in note.text
    assert isinstance(route(incoming("  "), "bot", 4096), Reply)
    long = route(incoming("x" * 5000), "bot", 4096)
    assert isinstance(long, Reply)
    assert "5000" in long.text


def test_route_ignores_what_is_not_for_the_bot() -> None:
    assert isinstance(route(Incoming(9), "bot", 4096), Ignore)
    assert isinstance(route(incoming("hi", addressed=False), "bot", 4096), Ignore)
