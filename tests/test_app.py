"""The system description: which actors, in which order, under which supervisors;
and that any one of them restarted alone forgets nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import trio

from tauro.actors.llm import GetModel, ListModels
from tauro.actors.memory import (
    Append,
    AppendReceipt,
    BeginTurn,
    GetContext,
    GetPreferences,
    PendingTurns,
    TurnStart,
)
from tauro.actors.telegram import GetTelegramStats
from tauro.app import build_system, build_system_spec
from tauro.config import Settings, VoiceSettings, WebSettings, load_settings
from tauro.runtime import ActorSpec, ActorState, ActorSystem, SupervisorSpec, open_actor_system
from tauro.runtime.testing import ProbeActor, crash_actor, replace_actor, wait_restarted
from tauro.testing import open_botapi_emulator, open_llm_server, wait_bot_idle


def _names(spec: SupervisorSpec) -> list[str]:
    return [child.name for child in spec.walk()]


def test_memory_starts_first_and_channels_last() -> None:
    spec = build_system_spec(Settings())
    assert _names(spec) == [
        "tauro",
        "memory",
        "services",
        "llm",
        "voice",
        "channels",
        "web",
        "telegram",
    ]


def test_optional_actors_follow_the_settings() -> None:
    settings = Settings(voice=VoiceSettings(enabled=False), web=WebSettings(enabled=False))
    assert _names(build_system_spec(settings)) == [
        "tauro",
        "memory",
        "services",
        "llm",
        "channels",
        "telegram",
    ]


def test_runtime_settings_reach_every_actor_and_supervisor() -> None:
    settings = Settings()
    settings = dataclasses.replace(
        settings, runtime=dataclasses.replace(settings.runtime, mailbox_size=7, max_restarts=9)
    )
    for node in build_system_spec(settings).walk():
        if isinstance(node, ActorSpec):
            assert node.mailbox_size == 7, node.name
        else:
            assert node.max_restarts == 9, node.name


def test_memory_gets_time_for_its_final_snapshot() -> None:
    settings = Settings()
    memory = next(n for n in build_system_spec(settings).walk() if n.name == "memory")
    assert isinstance(memory, ActorSpec)
    assert memory.cleanup_timeout >= settings.memory.flush_timeout


def test_the_built_system_knows_every_actor_before_it_runs() -> None:
    system = build_system(Settings())
    assert {a.name for a in system.statistics().actors} == {
        "memory",
        "llm",
        "voice",
        "telegram",
        "web",
    }


TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def _protocol_reply(message: object) -> object:
    """Just enough of the memory and LLM protocols for the other actors to start."""
    replies: dict[type, object] = {
        PendingTurns: (),
        GetPreferences: {},
        GetContext: (),
        ListModels: ("llama2:latest",),
        GetModel: "llama2:latest",
        BeginTurn: TurnStart("new"),
        Append: AppendReceipt(seq=1),
    }
    return replies.get(type(message))


@pytest.mark.parametrize("replaced", ["memory", "llm", "voice", "telegram", "web"])
async def test_any_actor_can_be_swapped_for_a_probe(replaced: str, tmp_path: Path) -> None:
    """The real system runs with one actor replaced, the others untouched."""
    async with (
        open_botapi_emulator(token=TOKEN) as bot,
        open_llm_server(models=("llama2:latest",)) as llm,
    ):
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": bot.base_url,
            "OLLAMA_HOST": llm.url,
            "MEMORY_FILE": str(tmp_path / "memory.json"),
            "WEB_PORT": "0",
            "TELEGRAM_POLL_TIMEOUT": "1",
        }
        settings = load_settings(None, env, None).settings
        probe = ProbeActor(reply=_protocol_reply)
        spec = replace_actor(build_system_spec(settings), replaced, lambda: probe)
        async with open_actor_system(spec) as system:
            states = {a.name: a.state for a in system.statistics().actors}
            assert set(states.values()) == {ActorState.RUNNING}, states
            assert probe.starts == 1
        assert probe.stops == 1


def _bot_settings(bot_url: str, llm_url: str, tmp_path: Path) -> Settings:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": bot_url,
        "OLLAMA_HOST": llm_url,
        "OLLAMA_MODEL": "llama2",
        "MEMORY_FILE": str(tmp_path / "memory.json"),
        "MEMORY_DURABILITY": "none",
        "WEB_PORT": "0",
        "TELEGRAM_POLL_TIMEOUT": "1",
        "TELEGRAM_EDIT_INTERVAL": "0.1",
        "ADMIN_USER_IDS": "7",
        "ENABLE_TTS": "true",
        "RESTART_BACKOFF_INITIAL": "0.01",
    }
    return load_settings(None, env, None).settings


async def _until_settled(system: ActorSystem) -> None:
    """Every update handled to the end (a reply shows a moment before it is settled)."""
    while True:
        stats = await system.ref("telegram").ask(GetTelegramStats())
        if stats.unsettled == 0:
            return
        await trio.sleep(0.05)


@pytest.mark.parametrize("restarted", ["memory", "llm", "voice", "telegram", "web"])
async def test_an_actor_restarted_alone_forgets_nothing(restarted: str, tmp_path: Path) -> None:
    """The admin's model, the chat's voice and language choices outlive a restart of any
    one actor: each actor reads what it needs back from memory, which owns it."""
    models = ("llama2:latest", "mistral:7b")
    async with (
        open_botapi_emulator(token=TOKEN) as bot,
        open_llm_server(models=models) as llm,
    ):
        settings = _bot_settings(bot.base_url, llm.url, tmp_path)
        async with open_actor_system(build_system_spec(settings)) as system:
            for command in ("/model mistral:7b", "/voice on", "/lang en"):
                bot.push_message(7, command)
            await bot.wait_for(lambda: len(bot.texts(7)) == 3, timeout=30)
            await _until_settled(system)
            crash_actor(system, restarted)
            await wait_restarted(system, restarted, restarts=1)
            bot.push_message(7, "hello")
            await bot.wait_for(lambda: len(bot.messages(7)) >= 5, timeout=60)
            bot.push_message(7, "/lang")
            await bot.wait_for(lambda: len(bot.messages(7)) >= 6, timeout=30)
        answer, voice, language = bot.messages(7)[3:6]
    assert answer.text == "Echo: hello"
    assert llm.requests[-1].model == "mistral:7b"
    assert voice.kind == "voice"
    assert (language.text or "").startswith("I speak English with you.")


async def test_a_turn_cut_by_a_restart_of_telegram_is_answered_once(tmp_path: Path) -> None:
    async with (
        open_botapi_emulator(token=TOKEN) as bot,
        open_llm_server(models=("llama2:latest",), first_token_latency=2.0) as llm,
    ):
        settings = dataclasses.replace(
            _bot_settings(bot.base_url, llm.url, tmp_path), voice=VoiceSettings(enabled=False)
        )
        async with open_actor_system(build_system_spec(settings)) as system:
            bot.push_message(42, "are you there?")
            await llm.wait_for(lambda: len(llm.requests) == 1)
            crash_actor(system, "telegram")  # mid-answer: the question is recorded
            await wait_restarted(system, "telegram", restarts=1)
            await bot.wait_for(lambda: "Echo: are you there?" in bot.texts(42), timeout=30)
            await wait_bot_idle(bot, system)  # a second answer would be out now
        answers = [text for text in bot.texts(42) if text.startswith("Echo")]
    assert answers == ["Echo: are you there?"]
