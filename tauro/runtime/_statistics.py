"""Frozen snapshots of the runtime's state, for the status page and for tests."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ActorState(enum.Enum):
    NEW = "new"  # not started yet
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # failed or paused, waiting to be started again
    STOPPING = "stopping"  # draining its mailbox; no new messages accepted
    STOPPED = "stopped"
    FAILED = "failed"  # stopped after an error, not to be restarted


@dataclass(frozen=True)
class ActorStatistics:
    name: str
    supervisor: str
    state: ActorState
    restarts: int
    mailbox_depth: int
    mailbox_capacity: int
    handled: int
    dead_letters: int  # messages for an actor that was stopping or stopped
    drops: int  # try_tell calls that found the mailbox full
    failures: int
    last_error: str | None


@dataclass(frozen=True)
class SystemStatistics:
    actors: tuple[ActorStatistics, ...]

    def actor(self, name: str) -> ActorStatistics:
        for statistics in self.actors:
            if statistics.name == name:
                return statistics
        raise KeyError(f"no actor named {name!r}")

    @property
    def dead_letters(self) -> int:
        return sum(a.dead_letters for a in self.actors)
