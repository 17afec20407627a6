"""systemd's notify protocol (``Type=notify``), without a library.

A service manager that starts us with ``$NOTIFY_SOCKET`` set listens on that unix
datagram socket (a path, or an abstract name written with a leading ``@``). Each
notification is one datagram of ``KEY=VALUE`` lines:

- ``READY=1`` once every actor has started (the moment ``system.ready`` is logged,
  whatever ``LOG_LEVEL``);
- ``STOPPING=1`` when a stop begins (``system.stopping``), graceful or forced;
- ``WATCHDOG=1`` every half ``$WATCHDOG_USEC`` from ``READY=1`` on (systemd arms the
  watchdog when start-up completes) while every actor is running, so a hung event
  loop or an actor stuck out of service gets the unit restarted. When
  ``$WATCHDOG_PID`` names another process, the watchdog is not ours to feed.

Sending never blocks and never fails the bot: a notification that cannot be sent
is logged once and dropped (the manager then acts on its own timeouts).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import trio

from tauro.runtime._exceptions import single_cause
from tauro.runtime._statistics import ActorState, SystemStatistics
from tauro.runtime._system import ActorSystem

__all__ = ["SystemdNotifier", "all_running", "feed_watchdog", "open_systemd_notifier"]

log = logging.getLogger("tauro.runtime")

_EVENTS = {"ready": "READY=1", "stopping": "STOPPING=1"}


class SystemdNotifier:
    """Sends notifications to ``$NOTIFY_SOCKET``; does nothing when it is not set."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None, _watchdog_usec(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between two ``WATCHDOG=1`` (half the manager's timeout), or None."""
        if self.address is None or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2_000_000

    def notify(self, *states: str) -> bool:
        """Send one datagram; False (logged once) if it could not be sent."""
        if self.address is None:
            return False
        try:
            self._open().sendto("\n".join(states).encode(), _socket_address(self.address))
        except OSError as exc:
            self._warn(exc)
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _open(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)
        return self._socket

    def _warn(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "systemd.notify_failed",
                extra={
                    "fields": {
                        "socket": self.address,
                        "reason": exc.strerror or str(exc),
                        "meaning": "the service manager was not told; check NOTIFY_SOCKET",
                    }
                },
            )


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None  # the watchdog belongs to another process (e.g. a wrapper)
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()  # an abstract socket name
    return address


def all_running(statistics: SystemStatistics) -> bool:
    return all(actor.state is ActorState.RUNNING for actor in statistics.actors)


async def feed_watchdog(
    notifier: SystemdNotifier,
    statistics: Callable[[], SystemStatistics],
    interval: float,
    ready: trio.Event,
) -> None:
    """``WATCHDOG=1`` every ``interval`` seconds once ``ready`` is set, skipped while
    an actor is not running."""
    await ready.wait()
    while True:
        await trio.sleep(interval)
        if all_running(statistics()):
            notifier.notify("WATCHDOG=1")


@asynccontextmanager
async def open_systemd_notifier(
    system: ActorSystem, notifier: SystemdNotifier | None = None
) -> AsyncIterator[SystemdNotifier]:
    """Within this block, tell the service manager (if any) about ``system``'s life."""
    notifier = notifier or SystemdNotifier.from_environ()
    if not notifier.enabled:
        yield notifier
        return

    ready = trio.Event()

    def announce(event: str) -> None:
        notifier.notify(_EVENTS[event], f"STATUS=tauro: {event}")
        if event == "ready":
            ready.set()

    system.lifecycle_listeners.append(announce)
    try:
        async with trio.open_nursery() as nursery:
            interval = notifier.watchdog_interval
            if interval is not None:
                nursery.start_soon(feed_watchdog, notifier, system.statistics, interval, ready)
            yield notifier
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the block's own error, not a group of one
        raise single_cause(group) from None
    finally:
        system.lifecycle_listeners.remove(announce)
        notifier.close()
