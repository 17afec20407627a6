"""The system description: which actors, in which order, under which supervisors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tauro.actors.llm import GetModel, ListModels
from tauro.actors.memory import (
    Append,
    AppendReceipt,
    GetContext,
    GetPreferences,
    PendingTurns,
    UpdateStatus,
)
from tauro.app import build_system, build_system_spec
from tauro.config import Settings, VoiceSettings, WebSettings, load_settings
from tauro.runtime import ActorSpec, ActorState, SupervisorSpec, open_actor_system
from tauro.runtime.testing import ProbeActor, replace_actor
from tauro.testing import open_botapi_emulator, open_llm_server


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
        "telegram",
        "web",
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
        UpdateStatus: "new",
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
