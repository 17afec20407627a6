"""The system description: which actors, in which order, under which supervisors."""

from __future__ import annotations

import dataclasses

from tauro.app import build_system, build_system_spec
from tauro.config import Settings, VoiceSettings, WebSettings
from tauro.runtime import ActorSpec, SupervisorSpec


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
