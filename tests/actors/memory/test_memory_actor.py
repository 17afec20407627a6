"""The MemoryActor in a real actor system: mailbox batching, shutdown flush, restarts."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
import trio

from tauro.actors.memory import (
    MEMORY_ACTOR,
    Append,
    AppendReceipt,
    GetContext,
    GetStats,
    MemoryActor,
    MemoryStatistics,
    memory_actor_spec,
)
from tauro.actors.memory._journal import list_segments
from tauro.config import MemorySettings
from tauro.runtime import Actor, ActorSpec, SupervisorSpec, open_actor_system
from tauro.runtime.testing import FaultyActor


def make_settings(tmp_path: Path, **overrides: Any) -> MemorySettings:
    return MemorySettings(file=tmp_path / "conversations.json", **overrides)


def system_spec(settings: MemorySettings, *others: ActorSpec) -> SupervisorSpec:
    return SupervisorSpec(
        name="root", children=(memory_actor_spec(settings), *others), backoff_initial=0.0
    )


def file_contents(path: Path, conversation: str = "1") -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [message["content"] for message in data["conversations"].get(conversation, [])]


class Chatty(Actor[object]):
    """Appends to the memory from a background task until it is cancelled."""

    def __init__(self, acked: list[str], enough: trio.Event, count: int) -> None:
        self.acked, self.enough, self.count = acked, enough, count

    async def on_start(self) -> None:
        self.context.start_soon(self._chat)

    async def _chat(self) -> None:
        memory = self.context.ref(MEMORY_ACTOR)
        number = 0
        while True:
            content = f"m{number}"
            await memory.ask(Append("1", "user", content))
            self.acked.append(content)
            number += 1
            if number == self.count:
                self.enough.set()


def test_the_spec_gives_the_flush_its_own_deadline(tmp_path: Path) -> None:
    spec = memory_actor_spec(make_settings(tmp_path, flush_timeout=12.0))
    assert spec.name == MEMORY_ACTOR
    assert spec.cleanup_timeout > 12.0
    actor = spec.factory()
    assert isinstance(actor, MemoryActor)
    assert actor.batch_size == 5


async def test_waiting_appends_are_committed_in_batches_of_save_interval(
    tmp_path: Path,
) -> None:
    async with open_actor_system(system_spec(make_settings(tmp_path))) as system:
        memory = system.ref(MEMORY_ACTOR)
        receipts: list[object] = []

        async def append(number: int) -> None:
            receipts.append(await memory.ask(Append("1", "user", str(number))))

        async with trio.open_nursery() as nursery:
            for number in range(10):
                nursery.start_soon(append, number)
        statistics = await memory.ask(GetStats("1"))
    assert isinstance(statistics, MemoryStatistics)
    assert (statistics.batches, statistics.journal_appends) == (2, 10)
    assert statistics.conversation_messages == 10
    assert sorted(r.seq for r in receipts if isinstance(r, AppendReceipt)) == list(range(1, 11))


async def test_a_lone_ask_is_answered_at_once(tmp_path: Path) -> None:
    async with open_actor_system(system_spec(make_settings(tmp_path))) as system:
        memory = system.ref(MEMORY_ACTOR)
        assert await memory.ask(Append("1", "user", "hello")) == AppendReceipt(1)
        context = await memory.ask(GetContext("1", 10))
    assert [m.content for m in context] == ["hello"]


async def test_a_graceful_stop_ends_with_a_complete_snapshot_amid_cancellations(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    acked: list[str] = []
    enough = trio.Event()
    chatty = ActorSpec(name="chatty", factory=lambda: Chatty(acked, enough, 50))
    stuck = ActorSpec(
        name="stuck", factory=lambda: FaultyActor(hang_on_stop=True), cleanup_timeout=0.05
    )
    async with open_actor_system(system_spec(settings, chatty, stuck)):
        await enough.wait()
    assert len(acked) >= 50
    assert file_contents(settings.file)[: len(acked)] == acked
    assert list_segments(settings.file) == []  # everything is in the snapshot


async def test_a_forced_stop_still_flushes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    acked: list[str] = []
    enough = trio.Event()
    chatty = ActorSpec(name="chatty", factory=lambda: Chatty(acked, enough, 30))
    async with open_actor_system(system_spec(settings, chatty)) as system:
        await enough.wait()
        system.force_stop()
    assert file_contents(settings.file)[: len(acked)] == acked
    assert list_segments(settings.file) == []


async def test_a_failed_tell_crashes_and_the_restart_recovers_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    instances: list[MemoryActor] = []
    restarted = trio.Event()

    def factory() -> MemoryActor:
        instances.append(MemoryActor(settings))
        if len(instances) == 2:
            restarted.set()
        return instances[-1]

    spec = SupervisorSpec(
        name="root",
        children=(ActorSpec(name=MEMORY_ACTOR, factory=factory),),
        backoff_initial=0.0,
    )
    async with open_actor_system(spec) as system:
        memory = system.ref(MEMORY_ACTOR)
        await memory.ask(Append("1", "user", "kept"))
        real_write = os.write

        def full(fd: int, data: bytes) -> int:
            if ".journal." in os.readlink(f"/proc/self/fd/{fd}"):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", full)
        await memory.tell(Append("1", "user", "never acknowledged"))
        with trio.fail_after(10):
            await restarted.wait()
        monkeypatch.undo()
        await memory.ask(Append("1", "user", "after restart"))
        context = await memory.ask(GetContext("1", 10))
    assert len(instances) == 2
    assert [m.content for m in context] == ["kept", "after restart"]
    assert file_contents(settings.file) == ["kept", "after restart"]
