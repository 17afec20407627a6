"""LLMActor end to end over real HTTP: real httpx against the local LLM emulator.

The unit tests (scripted MockTransport) pin parsing and timing exactly; these
check the same behaviour through sockets, hypercorn and chunked encoding, for
both APIs the emulator speaks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from tauro.actors.llm import (
    AnswerStream,
    ChatMessage,
    Generate,
    GetLLMStats,
    ListModels,
    LLMActor,
    LLMStatistics,
    SetModel,
    check_llm,
)
from tauro.config import LLMSettings
from tauro.errors import (
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
    ModelNotFoundError,
)
from tauro.runtime import ActorRef, ActorSpec, SupervisorSpec, open_actor_system
from tauro.testing import LlmServerEmulator, open_llm_server

ASK = Generate((ChatMessage("user", "ciao bella"),))
PROVIDERS = ["ollama", "openai"]


@asynccontextmanager
async def running_llm(
    emulator: LlmServerEmulator, provider: str = "ollama", **changes: Any
) -> AsyncIterator[ActorRef[Any]]:
    values: dict[str, Any] = {
        "provider": provider,
        "host": emulator.url,
        "model": "llama3.2",
        "max_parallel": 2,
    }
    settings = LLMSettings(**(values | changes))
    spec = ActorSpec(name="llm", factory=lambda: LLMActor(settings))
    async with open_actor_system(SupervisorSpec(name="root", children=(spec,))) as system:
        yield system.ref("llm")


async def stream_of(llm: ActorRef[Any], ask: Generate = ASK) -> AnswerStream:
    stream = await llm.ask(ask)
    assert isinstance(stream, AnswerStream)
    return stream


async def read_all(stream: AnswerStream) -> tuple[list[str], LLMError | None]:
    deltas: list[str] = []
    async with stream:
        try:
            async for delta in stream:
                deltas.append(delta)
        except LLMError as error:
            return deltas, error
    return deltas, None


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streaming_deltas_in_order(provider: str) -> None:
    async with open_llm_server() as emulator, running_llm(emulator, provider) as llm:
        deltas, error = await read_all(await stream_of(llm))
    assert error is None
    assert deltas == ["Echo:", " ciao", " bella"]
    assert emulator.requests[0].api == provider


async def test_ollama_request_carries_the_options() -> None:
    options: dict[str, Any] = {"temperature": 0.1, "max_tokens": 64, "context_window": 1024}
    async with open_llm_server() as emulator, running_llm(emulator, **options) as llm:
        result = await (await stream_of(llm)).collect()
    assert result.complete
    assert result.completion_tokens == 3  # the server's eval_count
    request = emulator.requests[0]
    assert request.options == {"temperature": 0.1, "num_ctx": 1024, "num_predict": 64}
    assert request.messages[0]["role"] == "system"


async def test_max_tokens_ends_with_reason_length() -> None:
    async with open_llm_server() as emulator, running_llm(emulator, max_tokens=2) as llm:
        result = await (await stream_of(llm)).collect()
    assert (result.text, result.complete, result.done_reason) == ("Echo: ciao", True, "length")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_missing_model(provider: str) -> None:
    async with open_llm_server() as emulator, running_llm(emulator, provider) as llm:
        stream = await stream_of(llm, Generate(ASK.messages, model="phi3"))
        _, error = await read_all(stream)
    assert isinstance(error, ModelNotFoundError)
    if provider == "ollama":
        assert error.user_message == "the model 'phi3' is not installed: run `ollama pull phi3`"


async def test_server_down_names_the_url_after_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_llm_server() as emulator:
        url = emulator.url  # the port is free again once the emulator has stopped
    async with running_llm_at(url, max_retries=1) as llm:
        _, error = await read_all(await stream_of(llm))
        stats = await llm.ask(GetLLMStats())
    assert isinstance(error, LLMUnreachableError)
    assert error.user_message == f"the LLM server at {url} is not reachable; please try again later"
    assert stats.retries == 1


@asynccontextmanager
async def running_llm_at(url: str, **changes: Any) -> AsyncIterator[ActorRef[Any]]:
    settings = LLMSettings(host=url, model="llama3.2", **changes)
    spec = ActorSpec(name="llm", factory=lambda: LLMActor(settings))
    async with open_actor_system(SupervisorSpec(name="root", children=(spec,))) as system:
        yield system.ref("llm")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_server_error_500(provider: str) -> None:
    async with open_llm_server() as emulator, running_llm(emulator, provider) as llm:
        emulator.inject_fault("error", status=500, message="llama runner crashed")
        _, error = await read_all(await stream_of(llm))
    assert isinstance(error, LLMResponseError)
    assert "500" in str(error)
    assert "llama runner crashed" in str(error)
    assert "crashed" not in error.user_message
    assert len(emulator.requests) == 1  # not retried


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cut_stream_keeps_the_partial_answer(provider: str) -> None:
    async with open_llm_server() as emulator, running_llm(emulator, provider) as llm:
        emulator.inject_fault("cut", after_chunks=2)
        stream = await stream_of(llm)
        deltas, error = await read_all(stream)
    assert deltas == ["Echo:", " ciao"]
    assert isinstance(error, LLMResponseError)
    assert stream.result.text == "Echo: ciao"
    assert stream.result.complete is False


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_garbage_line_is_a_clear_error(provider: str) -> None:
    async with open_llm_server() as emulator, running_llm(emulator, provider) as llm:
        emulator.inject_fault("garbage", after_chunks=1)
        deltas, error = await read_all(await stream_of(llm))
    assert deltas == ["Echo:"]
    assert isinstance(error, LLMResponseError)
    assert "upstream hiccup" in str(error)
    assert error.user_message == "the LLM server sent an answer I could not read"


async def test_error_line_mid_answer() -> None:
    async with open_llm_server() as emulator, running_llm(emulator) as llm:
        emulator.inject_fault("error_line", after_chunks=1, message="out of memory")
        deltas, error = await read_all(await stream_of(llm))
    assert deltas == ["Echo:"]
    assert isinstance(error, LLMResponseError)
    assert "out of memory" in str(error)


async def test_a_hung_server_hits_the_first_token_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_llm_server() as emulator,
        running_llm(emulator, first_token_timeout=60.0) as llm,
    ):
        emulator.inject_fault("hang")
        start = trio.current_time()
        _, error = await read_all(await stream_of(llm))
        elapsed = trio.current_time() - start
        await emulator.wait_for(lambda: emulator.statistics().active == 0)
    assert isinstance(error, LLMTimeoutError)
    assert elapsed == pytest.approx(60.0)


async def test_slow_tokens_after_the_first_are_not_a_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_llm_server(first_token_latency=50.0, token_latency=40.0) as emulator,
        running_llm(emulator, first_token_timeout=60.0, total_timeout=300.0) as llm,
    ):
        result = await (await stream_of(llm)).collect()
    assert result.complete
    assert result.time_to_first_token == pytest.approx(50.0, abs=0.1)
    assert result.duration == pytest.approx(130.0, abs=0.1)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_concurrency_never_exceeds_max_parallel(
    provider: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_llm_server(first_token_latency=1.0, token_latency=0.5) as emulator,
        running_llm(emulator, provider, max_parallel=3) as llm,
    ):
        results = []

        async def one() -> None:
            results.append(await (await stream_of(llm)).collect())

        async with trio.open_nursery() as nursery:
            for _ in range(12):
                nursery.start_soon(one)
        stats = await llm.ask(GetLLMStats())
    assert len(results) == 12
    assert all(result.complete for result in results)
    assert emulator.max_concurrent == 3
    assert isinstance(stats, LLMStatistics)
    assert (stats.max_in_flight, stats.completed, stats.in_flight) == (3, 12, 0)
    assert stats.time_to_first_token.count == 12
    assert stats.time_to_first_token.p50 == pytest.approx(1.0, abs=0.1)


async def test_closing_the_stream_ends_the_request_on_the_server(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_llm_server(token_latency=1.0, answer_tokens=1000) as emulator,
        running_llm(emulator) as llm,
    ):
        stream = await stream_of(llm)
        async with stream:
            await stream.__anext__()
        await emulator.wait_for(lambda: emulator.statistics().active == 0)
        stats = await llm.ask(GetLLMStats())
    assert emulator.statistics().completed == 0
    assert (stats.cancelled, stats.in_flight) == (1, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_list_and_switch_models(provider: str) -> None:
    async with open_llm_server() as emulator, running_llm(emulator, provider) as llm:
        assert await llm.ask(ListModels()) == ("llama3.2:latest", "mistral:7b")
        assert await llm.ask(SetModel("mistral:7b")) == "mistral:7b"
        await (await stream_of(llm)).collect()
    assert emulator.requests[-1].model == "mistral:7b"


async def test_check_reaches_the_server_and_finds_the_model() -> None:
    async with open_llm_server() as emulator:
        ok = await check_llm(LLMSettings(host=emulator.url, model="llama3.2"))
        missing = await check_llm(LLMSettings(host=emulator.url, model="phi3"))
    assert ok.ok
    assert ok.installed_as == "llama3.2:latest"
    assert not missing.ok
    assert missing.reachable
