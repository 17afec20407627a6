"""Real servers' behaviours, through the emulator over real HTTP.

llama-cpp-python interrupts a running answer for a new request and refuses an
overlong prompt with an empty 200; llama.cpp's ``llama-server`` tells its slots
and window in ``/props`` and counts tokens at ``/tokenize``; a server may ignore
the model name. Each test drives the LLM actor against the emulator taught that
behaviour (tests/actors/llm/test_llm_real_server.py does the same against the
real llama-cpp-python server).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from tauro.actors.llm import (
    AnswerStream,
    ChatMessage,
    Generate,
    GenerationResult,
    GetLLMStats,
    ListModels,
    LLMActor,
    LLMStatistics,
    check_llm,
)
from tauro.actors.llm._context import TOO_LONG_CONVERSATION, TOO_LONG_MESSAGE
from tauro.config import LLMSettings
from tauro.errors import LLMContextError, LLMCutError
from tauro.runtime import ActorRef, ActorSpec, SupervisorSpec, open_actor_system
from tauro.testing import LlmServerEmulator, open_llm_server

MODEL = "llama3.2"
LLAMA_CPP_PYTHON: dict[str, Any] = {
    "parallel": 1,
    "interrupting": True,
    "tokenizer": "llama-cpp-python",
}


@asynccontextmanager
async def running_llm(emulator: LlmServerEmulator, **changes: Any) -> AsyncIterator[ActorRef[Any]]:
    values: dict[str, Any] = {"provider": "openai", "host": emulator.url, "model": MODEL}
    settings = LLMSettings(**(values | changes))
    spec = ActorSpec(name="llm", factory=lambda: LLMActor(settings))
    async with open_actor_system(SupervisorSpec(name="root", children=(spec,))) as system:
        yield system.ref("llm")


@asynccontextmanager
async def serving(
    server: dict[str, Any], **settings: Any
) -> AsyncIterator[tuple[LlmServerEmulator, ActorRef[Any]]]:
    """The emulator with ``server``'s behaviours, and the LLM actor on it."""
    async with (
        open_llm_server([MODEL], **server) as emulator,
        running_llm(emulator, **settings) as llm,
    ):
        yield emulator, llm


def conversation(*texts: str) -> tuple[ChatMessage, ...]:
    return tuple(
        ChatMessage("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(texts)
    )


async def answer(llm: ActorRef[Any], *texts: str, name: str = "c1") -> GenerationResult:
    stream = await llm.ask(Generate(conversation(*texts), conversation=name))
    assert isinstance(stream, AnswerStream)
    return await stream.collect()


async def stats(llm: ActorRef[Any]) -> LLMStatistics:
    found = await llm.ask(GetLLMStats())
    assert isinstance(found, LLMStatistics)
    return found


async def two_at_once(llm: ActorRef[Any], emulator: LlmServerEmulator) -> list[GenerationResult]:
    """Two long answers, the second asked while the first streams."""
    results: list[GenerationResult] = []

    async def ask(text: str) -> None:
        results.append(await answer(llm, text))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, "write a long story")
        await emulator.wait_for(lambda: len(emulator.requests) > 0)
        await trio.sleep(0.1)  # the first answer is streaming (40 tokens, 0.4 s)
        nursery.start_soon(ask, "and another one")
    return results


# ------------------------------------------------------------ 1. cut answers


async def test_an_interrupted_answer_is_a_cut_not_a_complete_one() -> None:
    options = LLAMA_CPP_PYTHON | {"tokenizer": None, "answer_tokens": 40, "token_latency": 0.01}
    async with serving(options, max_parallel=2) as (emulator, llm):
        results = await two_at_once(llm, emulator)
        counted = await stats(llm)
    cut = [r for r in results if not r.complete]
    assert len(cut) == 1
    assert isinstance(cut[0].error, LLMCutError)
    assert cut[0].error.interrupted
    assert cut[0].error.user_message == "the answer was cut off: the LLM server interrupted it"
    assert 0 < len(cut[0].text.split()) < 40  # the part that came is kept
    assert (counted.cut, counted.completed) == (1, 1)
    assert emulator.interrupted == 1


async def test_auto_serves_llama_cpp_python_one_at_a_time_and_nothing_is_cut() -> None:
    options = LLAMA_CPP_PYTHON | {"answer_tokens": 40, "token_latency": 0.01}
    async with serving(options) as (emulator, llm):  # LLM_MAX_PARALLEL=auto, the default
        results = await two_at_once(llm, emulator)
        counted = await stats(llm)
    assert all(r.complete for r in results)
    assert emulator.interrupted == 0
    assert counted.max_parallel == 1
    assert counted.max_parallel_source.startswith("llama-cpp-python")


async def test_the_length_limit_is_said() -> None:
    async with open_llm_server([MODEL]) as emulator, running_llm(emulator, max_tokens=2) as llm:
        result = await answer(llm, "ciao bella")
    assert (result.complete, result.done_reason) == (True, "length")


# ------------------------------------------------------------ 2. context


async def test_history_is_cut_to_the_window_counted_by_the_servers_tokenizer() -> None:
    options = {"slots_in_props": True, "tokenizer": "llama.cpp", "context_window": 200}
    history = [" ".join(["word"] * 30)] * 9  # 34 tokens each with the template
    async with serving(options, max_tokens=50, system_prompt="be brief") as (emulator, llm):
        result = await answer(llm, *history)
        counted = await stats(llm)
    assert result.complete
    sent = emulator.requests[-1].messages
    assert sent[0] == {"role": "system", "content": "be brief"}
    assert len(sent) == 1 + 4  # 6 + 4 * 34 = 142 <= 150; a fifth would not fit
    assert emulator.prompt_tokens(emulator.requests[-1]) <= 150
    assert (counted.context_window, counted.context_source) == (200, "llama.cpp /props n_ctx")
    assert counted.tokenizer == "/tokenize"


async def test_vllm_tells_its_window_in_v1_models_and_the_history_is_cut_to_it() -> None:
    """docs/llm.md: the window comes from vLLM's GET /v1/models (max_model_len)."""
    options = {"tokenizer": "vllm", "context_window": 200}
    history = [" ".join(["word"] * 30)] * 9  # 34 tokens each with the template
    settings = {"max_tokens": 50, "system_prompt": "be brief", "context_window": 4096}
    async with serving(options, **settings) as (emulator, llm):
        result = await answer(llm, *history)
        counted = await stats(llm)
    assert result.complete
    assert len(emulator.requests[-1].messages) == 1 + 4  # as with llama.cpp's 200 above
    source = "vLLM /v1/models max_model_len"
    assert (counted.context_window, counted.context_source) == (200, source)
    assert counted.tokenizer == "/tokenize"


async def test_check_shows_the_window_vllm_tells() -> None:
    async with open_llm_server([MODEL], tokenizer="vllm", context_window=2048) as emulator:
        found = await check_llm(LLMSettings(provider="openai", host=emulator.url, model=MODEL))
    assert "context window: 2048 tokens (vLLM /v1/models max_model_len)" in "\n".join(found.lines())


async def test_an_empty_answer_to_a_large_prompt_is_retried_with_half_the_history(
    caplog: pytest.LogCaptureFixture,
) -> None:
    history = [" ".join(["word"] * 40)] * 8  # 352 tokens: over the real 300
    async with serving(dict(context_window=300), context_window=1024, max_tokens=100) as (
        emulator,
        llm,
    ):
        with caplog.at_level(logging.INFO, logger="tauro.llm"):
            result = await answer(llm, *history, name="long-chat")
        counted = await stats(llm)
    assert result.complete, result.error
    assert len(emulator.requests) == 2
    assert len(emulator.requests[1].messages) < len(emulator.requests[0].messages)
    retry = [r for r in caplog.records if r.getMessage() == "llm.context.retry"]
    assert len(retry) == 1
    assert retry[0].fields["conversation"] == "long-chat"  # type: ignore[attr-defined]
    assert counted.context_window < 1024  # learned from the refusal
    assert "learned" in counted.context_source


@pytest.mark.parametrize("overflow", ["empty", "error"])
async def test_a_conversation_still_too_long_says_to_clear(overflow: str) -> None:
    history = [" ".join(["word"] * 100)] * 3
    async with serving(
        dict(context_window=90, overflow=overflow), context_window=4096, max_tokens=10
    ) as (emulator, llm):
        result = await answer(llm, *history)
        later = await answer(llm, "Hi!")  # a short question still gets its answer
    assert isinstance(result.error, LLMContextError)
    assert result.error.user_message == TOO_LONG_CONVERSATION
    assert len(emulator.requests) == 3  # the first try, the half, then "Hi!"
    assert later.complete


@pytest.mark.parametrize("overflow", ["empty", "error"])
async def test_one_message_the_server_refuses_for_its_size_says_to_send_a_shorter_one(
    overflow: str,
) -> None:
    # LLM_CONTEXT_WINDOW says 200, the server's window is 90: the bot sends it.
    server = LLAMA_CPP_PYTHON | {"context_window": 90, "overflow": overflow}
    async with serving(server, context_window=200, max_tokens=10) as (emulator, llm):
        result = await answer(llm, " ".join(["word"] * 100))
        later = await answer(llm, "Hi!")
    assert isinstance(result.error, LLMContextError)
    assert result.error.user_message == TOO_LONG_MESSAGE
    assert len(emulator.requests) == 2  # refused once (nothing to halve), then "Hi!"
    assert later.complete


async def test_one_message_too_long_is_refused_before_the_server_sees_it() -> None:
    async with serving({}, context_window=256, max_tokens=50) as (emulator, llm):
        result = await answer(llm, "word " * 1000)
    assert isinstance(result.error, LLMContextError)
    assert result.error.user_message == TOO_LONG_MESSAGE
    assert emulator.requests == []


# ------------------------------------------------------------ 3. parallelism


async def test_auto_takes_the_slots_llama_server_reports() -> None:
    async with serving(dict(parallel=4, slots_in_props=True)) as (_emulator, llm):
        await answer(llm, "ciao")
        counted = await stats(llm)
    assert counted.max_parallel == 5  # the 4 slots and one waiting at the server
    assert counted.max_parallel_source.startswith("llama.cpp /props total_slots = 4")


async def test_a_number_still_fixes_the_limit() -> None:
    async with serving(dict(parallel=4, slots_in_props=True), max_parallel=2) as (_emulator, llm):
        await answer(llm, "ciao")
        counted = await stats(llm)
    assert (counted.max_parallel, counted.max_parallel_source) == (2, "LLM_MAX_PARALLEL")


async def test_check_shows_the_parallelism_and_the_window() -> None:
    async with open_llm_server([MODEL], parallel=8, slots_in_props=True, context_window=2048) as e:
        settings = LLMSettings(provider="openai", host=e.url, model=MODEL)
        found = await check_llm(settings)
    text = "\n".join(found.lines())
    assert "answers at once: 9 (llama.cpp /props total_slots = 8, +1 waiting at the server)" in text
    assert "context window: 2048 tokens (llama.cpp /props n_ctx)" in text


async def test_adaptive_limit_grows_on_a_server_that_hides_its_slots() -> None:
    async with serving(dict(parallel=4, answer_tokens=5)) as (_emulator, llm):
        async with trio.open_nursery() as nursery:
            for index in range(40):
                nursery.start_soon(answer, llm, f"q{index}")
        counted = await stats(llm)
    assert counted.completed == 40
    assert counted.max_parallel > 1
    assert counted.max_parallel_source.startswith("adaptive")


# ------------------------------------------------------------ 4. model names


async def test_a_model_the_server_does_not_list_is_warned_about_at_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_llm_server(served_model="SmolLM2-135M") as emulator:
        with caplog.at_level(logging.INFO, logger="tauro.llm"):
            async with running_llm(emulator, model="no-such-model") as llm:
                result = await answer(llm, "ciao")
                counted = await stats(llm)
    missing = [r for r in caplog.records if r.getMessage() == "llm.model.missing"]
    assert len(missing) == 1
    fields = missing[0].fields  # type: ignore[attr-defined]
    assert (fields["setting"], fields["installed"]) == ("OLLAMA_MODEL", "SmolLM2-135M")
    assert result.complete
    assert result.answered_by == "SmolLM2-135M"
    assert counted.answered_by == "SmolLM2-135M"
    assert any(r.getMessage() == "llm.model.mismatch" for r in caplog.records)


async def test_a_model_list_asked_while_llama_cpp_python_answers_does_not_cut_the_answer() -> None:
    options = LLAMA_CPP_PYTHON | {"answer_tokens": 40, "token_latency": 0.01}
    async with serving(options) as (emulator, llm):
        results: list[GenerationResult] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: _append(results, answer(llm, "write a long story")))
            await emulator.wait_for(lambda: len(emulator.requests) == 1)
            await trio.sleep(0.1)  # the answer is streaming (40 tokens, 0.4 s)
            installed = await llm.ask(ListModels())  # an admin's /model
            assert emulator.statistics().active == 1  # answered while it streams
    assert installed == (MODEL + ":latest",)
    assert results[0].complete, results[0].error
    assert emulator.interrupted == 0


async def test_the_model_check_at_start_never_cuts_the_first_answer() -> None:
    # The first question arrives before the bot has asked the server anything.
    options = LLAMA_CPP_PYTHON | {"answer_tokens": 40, "token_latency": 0.01}
    async with open_llm_server([MODEL], **options) as emulator, running_llm(emulator) as llm:
        result = await answer(llm, "write a long story")
    assert result.complete, result.error
    assert emulator.interrupted == 0


async def _append(results: list[GenerationResult], pending: Awaitable[GenerationResult]) -> None:
    results.append(await pending)


# ------------------------------------------------------------ 5. logs


async def test_generation_log_lines_name_their_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_llm_server([MODEL]) as emulator, running_llm(emulator) as llm:
        with caplog.at_level(logging.DEBUG, logger="tauro.llm"):
            await answer(llm, "ciao", name="chat-42")
    lines = [r for r in caplog.records if r.getMessage().startswith("llm.generation.")]
    assert lines
    assert all(r.fields["conversation"] == "chat-42" for r in lines)  # type: ignore[attr-defined]
