"""LLMService: streams, the system prompt, the model switch, the concurrency bound."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing

from tauro.actors.llm import ChatMessage, Generate, LLMService, OllamaProvider, ServerInfo
from tauro.actors.llm.testing import MODELS, Reply, ScriptedLLMServer, ollama_lines
from tauro.errors import LLMTimeoutError, ModelNotFoundError

ASK = Generate((ChatMessage("user", "ciao"),))


async def test_deltas_in_order_then_a_complete_result(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service()
    server.script(Reply(lines=ollama_lines(["Ci", "ao", "!"], eval_count=3), delay=0.25))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        assert stream.model == "llama2"
        async with stream:
            deltas = [delta async for delta in stream]
    assert deltas == ["Ci", "ao", "!"]
    result = stream.result
    assert (result.text, result.complete, result.error) == ("Ciao!", True, None)
    assert (result.done_reason, result.prompt_tokens, result.completion_tokens) == ("stop", 7, 3)
    assert result.time_to_first_token == pytest.approx(0.25)
    assert result.duration == pytest.approx(1.0)  # three tokens and the done line
    assert result.attempts == 1


async def test_the_system_prompt_goes_first_unless_one_is_given(
    kit: Any, server: ScriptedLLMServer
) -> None:
    service = kit.service(system_prompt="Sei TauroBot.")
    own = Generate((ChatMessage("system", "Be terse."), ChatMessage("user", "hi")))
    async with trio.open_nursery() as nursery:
        await service.generate(ASK, nursery.start_soon).collect()
        await service.generate(own, nursery.start_soon).collect()
    messages: list[Any] = [body["messages"] for body in server.chat_bodies]
    first, second = messages
    assert first == [
        {"role": "system", "content": "Sei TauroBot."},
        {"role": "user", "content": "ciao"},
    ]
    assert second[0] == {"role": "system", "content": "Be terse."}
    assert len(second) == 2


async def test_an_empty_system_prompt_adds_nothing(kit: Any, server: ScriptedLLMServer) -> None:
    service = kit.service(system_prompt="")
    async with trio.open_nursery() as nursery:
        await service.generate(ASK, nursery.start_soon).collect()
    assert server.chat_bodies[0]["messages"] == [{"role": "user", "content": "ciao"}]


async def test_settings_become_request_options(kit: Any, server: ScriptedLLMServer) -> None:
    service = kit.service(temperature=0.2, max_tokens=77, context_window=8192)
    async with trio.open_nursery() as nursery:
        await service.generate(ASK, nursery.start_soon).collect()
    options = server.chat_bodies[0]["options"]
    assert options == {"temperature": 0.2, "num_ctx": 8192, "num_predict": 77}


async def test_an_error_before_any_text_is_raised_by_the_iteration(
    kit: Any, server: ScriptedLLMServer
) -> None:
    service = kit.service()
    server.script(Reply(status=404, body='{"error": "model \\"llama2\\" not found"}'))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        with pytest.raises(ModelNotFoundError) as caught:
            async for _ in stream:
                pass
    assert "ollama pull llama2" in caught.value.user_message
    assert stream.result.error is caught.value
    assert stream.result.text == ""
    assert service.statistics().failed == 1


async def test_next_batch_joins_what_is_waiting(kit: Any, server: ScriptedLLMServer) -> None:
    service = kit.service()
    server.script(Reply(lines=ollama_lines(["a", "b", "c"])))
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        await trio.testing.wait_all_tasks_blocked()  # the whole answer is buffered
        assert await stream.next_batch() == "abc"
        assert await stream.next_batch() is None
    assert stream.result.complete


async def test_concurrency_never_exceeds_max_parallel(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(max_parallel=3)
    for _ in range(10):
        server.script(Reply(lines=ollama_lines(["x", "y"]), delay=1.0))
    results = []

    async def one(stream: Any) -> None:
        results.append(await stream.collect())

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(one, service.generate(ASK, nursery.start_soon))
        await trio.sleep(0.5)
        stats = service.statistics()
        assert (stats.in_flight, stats.queued) == (3, 7)
    assert server.max_in_flight == 3
    assert service.statistics().max_in_flight == 3
    assert all(r.complete for r in results)
    assert trio.current_time() - start == pytest.approx(4 * 3.0)  # 4 waves of 3 s
    assert max(r.queue_wait for r in results) == pytest.approx(9.0)


async def test_a_request_may_name_its_own_model(kit: Any, server: ScriptedLLMServer) -> None:
    service = kit.service()
    async with trio.open_nursery() as nursery:
        stream = service.generate(Generate(ASK.messages, model="mistral:7b"), nursery.start_soon)
        assert (await stream.collect()).model == "mistral:7b"
    assert server.chat_bodies[0]["model"] == "mistral:7b"
    assert service.model == "llama2"


async def test_set_model_switches_to_an_installed_model(
    kit: Any, server: ScriptedLLMServer
) -> None:
    service = kit.service()
    assert await service.set_model("mistral:7b") == "mistral:7b"
    assert await service.set_model(" llama2 ") == "llama2:latest"
    async with trio.open_nursery() as nursery:
        await service.generate(ASK, nursery.start_soon).collect()
    assert server.chat_bodies[0]["model"] == "llama2:latest"
    assert service.statistics().model == "llama2:latest"


async def test_set_model_refuses_a_missing_model_and_lists_the_installed(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    service = kit.service()
    with (
        caplog.at_level(logging.INFO, logger="tauro.llm"),
        pytest.raises(ModelNotFoundError) as caught,
    ):
        await service.set_model("mistral")  # only mistral:7b is installed
    assert "ollama pull mistral" in caught.value.user_message
    assert "llama2:latest, mistral:7b" in caught.value.user_message
    assert service.model == "llama2"
    # docs/llm.md: a /model typo is logged as a WARNING llm.model.missing, setting=/model
    missing = [r for r in caplog.records if r.getMessage() == "llm.model.missing"]
    assert [r.levelno for r in missing] == [logging.WARNING]
    fields = missing[0].fields  # type: ignore[attr-defined]
    assert (fields["setting"], fields["model"]) == ("/model", "mistral")
    assert fields["installed"] == "llama2:latest, mistral:7b"


async def test_list_models_gives_up_after_its_timeout(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service()
    server.tags_delay = 1000.0
    with pytest.raises(LLMTimeoutError, match="did not list its models"):
        await service.list_models()
    assert trio.current_time() == pytest.approx(10.0)


async def test_statistics_count_outcomes_and_latencies(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = kit.service(max_parallel=1)
    for first in (1.0, 2.0, 3.0, 4.0):
        server.script(Reply(lines=ollama_lines(["a"]), first_delay=first))
    server.script(Reply(status=500, body="{}"))
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            await service.generate(ASK, nursery.start_soon).collect()
    stats = service.statistics()
    assert (stats.started, stats.completed, stats.failed, stats.cut) == (5, 4, 1, 0)
    assert stats.provider == "ollama"
    assert stats.base_url == "http://llm.test:11434"
    assert stats.time_to_first_token.count == 4
    assert stats.time_to_first_token.p50 == pytest.approx(2.0)
    assert stats.time_to_first_token.p99 == pytest.approx(4.0)
    assert stats.total.max == pytest.approx(4.0)
    assert "500" in (stats.last_error or "")


class OneAtATime(OllamaProvider):
    """A server like llama-cpp-python: one request at a time, any other one interrupts."""

    async def server_info(self) -> ServerInfo:
        return ServerInfo(slots=1, slots_source="one at a time", interrupting=True)


def discovering(kit: Any, server: ScriptedLLMServer) -> LLMService:
    settings = kit.settings(max_parallel="auto")
    return LLMService(settings, OneAtATime(server.client(), kit.host), discover=True)


def slow_answer() -> Reply:
    return Reply(lines=ollama_lines(["a"] * 10), delay=1.0)


async def test_the_model_check_at_start_is_done_before_any_answer_is_sent(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.tags_delay = 2.0
    service = discovering(kit, server)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.discover)
        result = await service.generate(ASK, nursery.start_soon).collect()
    assert result.complete
    assert [path for _, path in server.paths] == ["/api/tags", "/api/chat"]
    assert result.queue_wait == pytest.approx(2.0)


async def test_a_model_list_asked_while_a_one_at_a_time_server_answers_is_the_last_one_read(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = discovering(kit, server)
    server.script(slow_answer())
    async with trio.open_nursery() as nursery:
        await service.discover()
        stream = service.generate(ASK, nursery.start_soon)
        await trio.sleep(3.0)  # it streams
        assert await service.list_models() == MODELS
        assert trio.current_time() == 3.0  # at once
        assert (await stream.collect()).complete
    assert [path for _, path in server.paths] == ["/api/tags", "/api/chat"]


async def test_without_a_list_read_the_model_list_waits_for_the_answer_in_progress(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    service = discovering(kit, server)
    server.tags_delay = 60.0  # the list at start times out: no list was read
    await service.discover()
    server.tags_delay = 0.0
    server.script(slow_answer())
    async with trio.open_nursery() as nursery:
        stream = service.generate(ASK, nursery.start_soon)
        await trio.sleep(3.0)
        assert await service.list_models() == MODELS
        result = await stream.collect()
    assert result.complete
    (_, chat), (listed_at, listed) = server.paths[-2:]
    assert (chat, listed) == ("/api/chat", "/api/tags")
    assert listed_at == pytest.approx(result.duration + 10.0)  # after the answer


async def test_an_adaptive_limit_grows_at_each_first_token_not_at_each_answers_end(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    # Answers whose first token comes after 0.1 s and which then take 20 s: the
    # first token says the server had a free slot, long before the answer ends.
    service = kit.service(max_parallel="auto")
    server.script(*[Reply(lines=ollama_lines(["a"] * 200), delay=0.1)] * 16)
    async with trio.open_nursery() as nursery:
        streams = [service.generate(ASK, nursery.start_soon) for _ in range(16)]
        await trio.sleep(2.0)
        assert server.finished == 0
        assert server.in_flight == 16  # one more at each first token, 0.1 s apart
        assert service.parallel.value > 16
        for stream in streams:
            result = await stream.collect()
            assert result.complete, result.error
