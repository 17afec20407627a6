"""One generation's life: timeouts, retries, cuts, cancellation, backpressure.

Driven through LLMService (the way the actor runs it) on a scripted server,
with trio's mock clock so that minutes of model time pass instantly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from tauro.actors.llm import AnswerStream, ChatEnd, ChatMessage, ChatRequest, Generate, LLMService
from tauro.actors.llm._generation import CONNECT_BACKOFF
from tauro.actors.llm._provider import DeltaSink, ServerInfo
from tauro.actors.llm.testing import Reply, ScriptedLLMServer, ollama_lines
from tauro.errors import (
    LLMCutError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
    ModelNotFoundError,
)
from tauro.runtime import Backoff

ASK = Generate((ChatMessage("user", "ciao"),), conversation="42")


async def read_all(stream: AnswerStream) -> tuple[list[str], LLMError | None]:
    """Deltas until the end, and the error the iteration raised, if any."""
    deltas: list[str] = []
    try:
        async for delta in stream:
            deltas.append(delta)
    except LLMError as error:
        return deltas, error
    return deltas, None


async def test_first_token_timeout_fires_on_trios_clock(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(first_token_timeout=60.0)
    server.script(Reply(lines=ollama_lines(["late"]), first_delay=120.0))
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        deltas, error = await read_all(stream)
    assert deltas == []
    assert isinstance(error, LLMTimeoutError)
    assert "LLM_FIRST_TOKEN_TIMEOUT" in str(error)
    assert trio.current_time() - start == pytest.approx(60.0)
    assert stream.result.error is error
    assert service.statistics().failed == 1


async def test_first_token_lifts_the_first_token_deadline(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(first_token_timeout=60.0, total_timeout=300.0)
    server.script(Reply(lines=ollama_lines(["a", "b", "c", "d"]), delay=50.0))
    async with trio.open_nursery() as nursery:
        result = await service.generate(ASK, nursery.start_soon).collect()
    assert result.complete
    assert result.text == "abcd"
    assert result.time_to_first_token == pytest.approx(50.0)
    assert result.duration == pytest.approx(250.0)


async def test_total_timeout_cuts_and_keeps_what_arrived(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(first_token_timeout=150.0, total_timeout=300.0)
    server.script(Reply(lines=ollama_lines(["a", "b", "c", "d"]), delay=100.0))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        deltas, error = await read_all(stream)
    assert deltas == ["a", "b"]
    assert isinstance(error, LLMTimeoutError)
    assert "LLM_TOTAL_TIMEOUT" in str(error)
    assert stream.result.text == "ab"
    assert not stream.result.complete
    assert service.statistics().cut == 1


async def test_connect_errors_are_retried_with_backoff(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(max_retries=2)
    server.script(Reply(connect_error=True), Reply(connect_error=True))
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        result = await service.generate(ASK, nursery.start_soon).collect()
    assert result.complete
    assert result.text == "Hello"
    assert result.attempts == 3
    assert trio.current_time() - start == pytest.approx(0.5 + 1.0)  # Backoff(initial=0.5)
    assert service.statistics().retries == 2


async def test_retries_give_up_with_unreachable_naming_the_url(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(max_retries=2)
    server.script(*[Reply(connect_error=True)] * 3)
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        _, error = await read_all(stream)
    assert isinstance(error, LLMUnreachableError)
    assert "http://llm.test:11434" in error.user_message
    assert server.attempts == 3
    assert stream.result.attempts == 3


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=500, body='{"error": "boom"}'),
        Reply(status=404, body='{"error": "model \\"llama2\\" not found"}'),
        Reply(lines=ollama_lines(["a"], done=False), cut=True),
        Reply(lines=["garbage"]),
    ],
)
async def test_other_errors_are_not_retried(
    kit: Any, server: ScriptedLLMServer, reply: Reply
) -> None:
    service = kit.service(max_retries=5)
    server.script(reply)
    async with trio.open_nursery() as nursery:
        result = await service.generate(ASK, nursery.start_soon).collect()
    assert isinstance(result.error, LLMResponseError | ModelNotFoundError)
    assert server.attempts == 1


class DropsAfterOneToken:
    """A provider whose connection fails after text arrived (the guard matters)."""

    name = "ollama"
    base_url = "http://fake"
    calls = 0

    async def chat(self, request: ChatRequest, on_delta: DeltaSink) -> ChatEnd:
        self.calls += 1
        await on_delta("partial")
        raise LLMUnreachableError("gone", user_message="gone")

    async def list_models(self) -> tuple[str, ...]:
        return ()

    async def server_info(self) -> ServerInfo:
        return ServerInfo()

    async def count_tokens(self, model: str, text: str) -> int | None:
        return None


async def test_never_retried_once_text_arrived(kit: Any) -> None:
    provider = DropsAfterOneToken()
    service = LLMService(kit.settings(max_retries=3), provider)
    async with trio.open_nursery() as nursery:
        result = await service.generate(ASK, nursery.start_soon).collect()
    assert provider.calls == 1
    assert result.text == "partial"
    assert isinstance(result.error, LLMUnreachableError)


async def test_cut_stream_keeps_partial_text_and_says_so(
    kit: Any, server: ScriptedLLMServer
) -> None:
    service = kit.service()
    server.script(Reply(lines=ollama_lines(["Hel", "lo"], done=False), cut=True))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        deltas, error = await read_all(stream)
    assert deltas == ["Hel", "lo"]
    assert isinstance(error, LLMResponseError)
    assert stream.result.text == "Hello"
    assert stream.result.complete is False
    assert stream.result.error is error


async def test_closing_the_stream_cancels_the_generation(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service()
    server.script(Reply(lines=ollama_lines([f"t{i} " for i in range(100)]), delay=1.0))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        async with stream:
            assert await stream.__anext__() == "t0 "
            assert await stream.__anext__() == "t1 "
        assert stream.result.complete is False
        assert stream.result.error is None
    # the nursery exited: the generation task ended, it did not run to the end
    stats = service.statistics()
    assert (stats.cancelled, stats.in_flight, stats.completed) == (1, 0, 0)
    assert server.finished == 0
    assert server.in_flight == 0
    assert trio.current_time() < 10


async def test_a_slow_consumer_pauses_the_generation(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    s = kit.settings()
    service = LLMService(s, kit.service().provider, buffer=4)
    server.script(Reply(lines=ollama_lines([str(i % 10) for i in range(50)])))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        await trio.sleep(30)  # nobody reads
        assert server.lines_sent <= 4 + 2  # the buffer, plus one in hand on each side
        result = await stream.collect()
    assert result.complete
    assert len(result.text) == 50


async def _actor_tasks(*, task_status: trio.TaskStatus[trio.Nursery]) -> None:
    async with trio.open_nursery() as nursery:
        task_status.started(nursery)
        await trio.sleep_forever()


async def test_stopping_the_owner_interrupts_the_stream_with_an_error(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service()
    server.script(Reply(lines=ollama_lines(["a", "b", "c"]), delay=1.0))
    async with trio.open_nursery() as outer:
        actor_nursery: trio.Nursery = await outer.start(_actor_tasks)
        stream = service.generate(ASK, actor_nursery.start_soon)
        assert await stream.__anext__() == "a"
        actor_nursery.cancel_scope.cancel()
        deltas, error = await read_all(stream)
    assert deltas == []
    assert isinstance(error, LLMError)
    assert error.user_message == "the answer was interrupted; please try again"
    assert stream.result.text == "a"


async def test_a_dropped_connection_after_a_large_prompt_is_a_cut_not_a_refusal(
    kit: Any, server: ScriptedLLMServer
) -> None:
    service = kit.service(provider="openai", context_window=100, max_tokens=10)
    server.script(Reply(cut=True))  # headers, then the connection breaks
    history = (ChatMessage("user", "x" * 90), ChatMessage("assistant", "y" * 30))
    ask = Generate((*history, ChatMessage("user", "z" * 30)))  # 70 of 100 tokens
    async with trio.open_nursery() as nursery:
        result = await service.generate(ask, nursery.start_soon).collect()
    assert isinstance(result.error, LLMCutError)
    assert result.error.user_message == "the answer was cut off: the LLM server stopped sending it"
    assert result.attempts == 1  # no retry with half the history
    assert service.context.window == 100  # nothing learned


async def test_connect_retries_wait_by_the_runtime_backoff_up_to_its_maximum(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    assert Backoff(initial=0.5, maximum=8.0) == CONNECT_BACKOFF  # the table in docs/runtime.md
    service = kit.service(max_retries=6)
    server.script(*[Reply(connect_error=True)] * 6)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        result = await service.generate(ASK, nursery.start_soon).collect()
    assert result.complete
    assert result.attempts == 7
    assert trio.current_time() - start == pytest.approx(0.5 + 1 + 2 + 4 + 8 + 8)


class Burst:
    """A provider that hands over several deltas with no scheduling point between them."""

    name = "ollama"
    base_url = "http://fake"

    def __init__(self, deltas: list[str]) -> None:
        self.deltas = deltas

    async def chat(self, request: ChatRequest, on_delta: DeltaSink) -> ChatEnd:
        for delta in self.deltas:
            await on_delta(delta)
        await trio.sleep(1.0)  # then the model thinks a while
        return ChatEnd(done_reason="stop")

    async def list_models(self) -> tuple[str, ...]:
        return ()

    async def server_info(self) -> ServerInfo:
        return ServerInfo()

    async def count_tokens(self, model: str, text: str) -> int | None:
        return None


async def test_a_burst_of_deltas_reaches_the_consumer_in_one_batch(
    kit: Any, autojump_clock: trio.testing.MockClock
) -> None:
    service = LLMService(kit.settings(), Burst(["a", "b", "c", "d"]))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        async with stream:
            assert await stream.next_batch() == "abcd"
            assert await stream.next_batch() is None
    assert stream.result.complete


async def test_a_burst_bigger_than_the_buffer_waits_for_the_consumer(
    kit: Any, autojump_clock: trio.testing.MockClock
) -> None:
    service = LLMService(kit.settings(), Burst(list("abcdefgh")), buffer=3)
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        async with stream:
            batches = [batch async for batch in batches_of(stream)]
    assert "".join(batches) == "abcdefgh"
    assert len(batches) > 1


async def batches_of(stream: AnswerStream) -> AsyncIterator[str]:
    while (batch := await stream.next_batch()) is not None:
        yield batch
