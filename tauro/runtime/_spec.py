"""The description a system is built from: which actors, under which supervisors.

Specs are plain frozen data, so a test can take the production description and
swap one actor for a probe (``tauro.runtime.testing.replace_actor``) without
touching the others.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tauro.runtime._actor import Actor
from tauro.runtime._backoff import Backoff


class Restart(enum.Enum):
    """When a supervisor restarts a child that has exited (Erlang/OTP's restart types)."""

    PERMANENT = "permanent"  # always
    TRANSIENT = "transient"  # only after a failure
    TEMPORARY = "temporary"  # never


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them fails."""

    ONE_FOR_ONE = "one_for_one"  # just the failed child
    ONE_FOR_ALL = "one_for_all"  # every child
    REST_FOR_ONE = "rest_for_one"  # the failed child and those started after it


@dataclass(frozen=True, kw_only=True)
class ActorSpec:
    """One actor: how to make it, how it is restarted, how long it may take to stop."""

    name: str
    factory: Callable[[], Actor[Any]]
    restart: Restart = Restart.PERMANENT
    mailbox_size: int = 100
    ask_timeout: float = 30.0  # seconds; the default of every ask to this actor
    # Seconds ``Actor.drain`` may take to finish the work in progress on a
    # graceful stop, counted from the stop request; then that work is cancelled.
    grace_period: float = 30.0
    stop_timeout: float = 5.0  # seconds to drain the mailbox on a graceful stop
    cleanup_timeout: float = 30.0  # seconds for on_stop, which runs shielded
    # Failures no restart can fix (a refused credential): the supervisor
    # escalates at once instead of restarting, and so do its parents.
    fatal_errors: tuple[type[Exception], ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.mailbox_size < 1:
            raise ValueError(f"actor {self.name!r}: mailbox_size must be at least 1")
        for field in ("ask_timeout", "stop_timeout", "cleanup_timeout"):
            if getattr(self, field) <= 0:
                raise ValueError(f"actor {self.name!r}: {field} must be positive")
        if self.grace_period < 0:
            raise ValueError(f"actor {self.name!r}: grace_period must not be negative")

    @property
    def shutdown_budget(self) -> float:
        """The longest a graceful stop of this actor can take, cleanup included."""
        return self.grace_period + self.stop_timeout + self.cleanup_timeout


@dataclass(frozen=True, kw_only=True)
class SupervisorSpec:
    """A supervisor and its children, started in order and stopped in reverse order.

    At most ``max_restarts`` restarts within ``restart_window`` seconds; one more
    failure and the supervisor stops its children and escalates to its parent.
    Before the n-th restart in the window it waits ``backoff_initial * 2**(n-1)``
    seconds, at most ``backoff_max`` (``restart_backoff``, without jitter).
    """

    name: str
    children: tuple[ActorSpec | SupervisorSpec, ...]
    strategy: Strategy = Strategy.ONE_FOR_ONE
    restart: Restart = Restart.PERMANENT
    max_restarts: int = 5
    restart_window: float = 60.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0

    def __post_init__(self) -> None:
        _check_name(self.name)
        names = [spec.name for spec in self.walk()]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"supervisor {self.name!r}: duplicate names {duplicates}")
        if self.max_restarts < 0 or self.restart_window <= 0:
            raise ValueError(f"supervisor {self.name!r}: invalid restart intensity")
        try:
            Backoff(initial=self.backoff_initial, maximum=self.backoff_max)
        except ValueError as error:
            raise ValueError(f"supervisor {self.name!r}: {error}") from None

    def walk(self) -> Iterator[ActorSpec | SupervisorSpec]:
        """This supervisor and everything below it, depth first, in start order."""
        yield self
        for child in self.children:
            if isinstance(child, SupervisorSpec):
                yield from child.walk()
            else:
                yield child

    @property
    def restart_backoff(self) -> Backoff:
        """The delays before restarts: ``backoff_initial`` doubled up to ``backoff_max``."""
        return Backoff(initial=self.backoff_initial, maximum=self.backoff_max)

    def backoff(self, restarts_in_window: int) -> float:
        """Seconds to wait before the given restart (1 = the first in the window)."""
        if restarts_in_window <= 0:
            return 0.0
        return self.restart_backoff.delay(restarts_in_window - 1)

    @property
    def shutdown_budget(self) -> float:
        return sum(child.shutdown_budget for child in self.children) + 1.0


def _check_name(name: str) -> None:
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"invalid actor or supervisor name {name!r}")
