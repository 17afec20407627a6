"""LLMActor inside a real actor system, on a scripted server."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from tauro.actors.llm import (
    AnswerStream,
    ChatMessage,
    Generate,
    GetLLMStats,
    GetModel,
    ListModels,
    LLMActor,
    LLMStatistics,
    SetModel,
)
from tauro.actors.llm.testing import Reply, ScriptedLLMServer, ollama_lines
from tauro.errors import LLMError, ModelNotFoundError
from tauro.runtime import ActorContext, ActorSpec, SupervisorSpec, open_actor_system
from tauro.runtime.testing import crash_actor, wait_restarted

ASK = Generate((ChatMessage("user", "ciao"),))


def spec_for(actor: LLMActor) -> SupervisorSpec:
    return SupervisorSpec(name="root", children=(ActorSpec(name="llm", factory=lambda: actor),))


async def test_generate_answers_with_a_stream(kit: Any, server: ScriptedLLMServer) -> None:
    actor = LLMActor(kit.settings(), transport=server.transport())
    async with open_actor_system(spec_for(actor)) as system:
        stream = await system.ref("llm").ask(ASK)
        assert isinstance(stream, AnswerStream)
        async with stream:
            assert [delta async for delta in stream] == ["Hel", "lo"]
        stats = await system.ref("llm").ask(GetLLMStats())
    assert isinstance(stats, LLMStatistics)
    assert (stats.started, stats.completed) == (1, 1)


async def test_models_are_listed_and_switched(kit: Any, server: ScriptedLLMServer) -> None:
    actor = LLMActor(kit.settings(), transport=server.transport())
    async with open_actor_system(spec_for(actor)) as system:
        llm = system.ref("llm")
        assert await llm.ask(ListModels()) == ("llama2:latest", "mistral:7b")
        assert await llm.ask(GetModel()) == "llama2"
        assert await llm.ask(SetModel("mistral:7b")) == "mistral:7b"
        with pytest.raises(ModelNotFoundError):
            await llm.ask(SetModel("gpt-9"))
        assert await llm.ask(GetModel()) == "mistral:7b"  # still running, unchanged
        await (await llm.ask(ASK)).collect()
    assert server.chat_bodies[-1]["model"] == "mistral:7b"


async def test_an_unknown_message_is_refused(kit: Any, server: ScriptedLLMServer) -> None:
    actor = LLMActor(kit.settings(), transport=server.transport())
    async with open_actor_system(spec_for(actor)) as system:
        with pytest.raises(TypeError, match="does not handle str"):
            await system.ref("llm").ask("hello")


async def test_slow_generations_do_not_hold_up_the_mailbox(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    actor = LLMActor(kit.settings(max_parallel=1), transport=server.transport())
    server.script(Reply(lines=ollama_lines(["slow"]), first_delay=50.0))
    async with open_actor_system(spec_for(actor)) as system:
        llm = system.ref("llm")
        slow = await llm.ask(ASK)
        start = trio.current_time()
        queued = await llm.ask(ASK)  # answered at once, although no slot is free
        stats = await llm.ask(GetLLMStats())
        assert trio.current_time() == start
        assert (stats.in_flight, stats.queued) == (1, 1)
        assert (await slow.collect()).text == "slow"
        assert (await queued.collect()).text == "Hello"


async def test_stopping_the_actor_interrupts_generations_and_closes_the_client(
    kit: Any, server: ScriptedLLMServer, autojump_clock: trio.testing.MockClock
) -> None:
    actor = LLMActor(kit.settings(), transport=server.transport())
    server.script(Reply(lines=ollama_lines(["a", "b", "c"]), delay=10.0))
    async with open_actor_system(spec_for(actor)) as system:
        stream = await system.ref("llm").ask(ASK)
        assert await stream.__anext__() == "a"
    with pytest.raises(LLMError) as caught:
        await stream.__anext__()
    assert caught.value.user_message == "the answer was interrupted; please try again"
    assert stream.result.text == "a"
    assert actor._client is None  # on_stop closed it


async def test_every_start_reads_the_saved_model_back(kit: Any, server: ScriptedLLMServer) -> None:
    """A restart of the LLM actor alone keeps the admin's choice (memory owns it)."""
    reads: list[str] = []

    async def saved_model(context: ActorContext) -> str | None:
        reads.append(context.name)
        return "mistral:7b"

    spec = SupervisorSpec(
        name="root",
        children=(
            ActorSpec(
                name="llm",
                factory=lambda: LLMActor(
                    kit.settings(), transport=server.transport(), saved_model=saved_model
                ),
            ),
        ),
    )
    async with open_actor_system(spec) as system:
        assert await system.ref("llm").ask(GetModel()) == "mistral:7b"
        crash_actor(system, "llm")
        await wait_restarted(system, "llm", restarts=1)
        assert await system.ref("llm").ask(GetModel()) == "mistral:7b"
    assert reads == ["llm", "llm"]
