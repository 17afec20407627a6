"""systemd's notify protocol: real unix datagram sockets, MockClock for the watchdog,
and a real ``tauro run`` process started the way systemd starts a Type=notify unit."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from tauro.runtime import (
    Actor,
    ActorSpec,
    ActorState,
    ActorStatistics,
    ActorSystem,
    SupervisorSpec,
    SystemdNotifier,
    SystemStatistics,
    open_systemd_notifier,
)
from tauro.runtime._systemd import feed_watchdog
from tauro.testing import Emulators, TauroProcess, open_emulators, run_environment


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A unix datagram socket where the "service manager" listens, and its address."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield sock, str(path)
    sock.close()


def _received(sock: socket.socket) -> list[str]:
    sock.setblocking(False)
    datagrams = []
    while True:
        try:
            datagrams.append(sock.recv(4096).decode())
        except BlockingIOError:
            return datagrams


def test_a_notification_is_one_datagram_of_lines(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = SystemdNotifier(address)
    assert notifier.notify("READY=1", "STATUS=up")
    assert _received(sock) == ["READY=1\nSTATUS=up"]
    notifier.close()


def test_an_abstract_socket_name_starting_with_at_is_reached() -> None:
    name = f"tauro-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        notifier = SystemdNotifier("@" + name)
        assert notifier.notify("READY=1")
        assert _received(sock) == ["READY=1"]
        notifier.close()


def test_without_notify_socket_nothing_is_sent_and_no_watchdog() -> None:
    notifier = SystemdNotifier.from_environ({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert not notifier.notify("READY=1")


def test_an_unreachable_socket_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier(str(tmp_path / "nobody-listens"))
    assert not notifier.notify("READY=1")
    assert not notifier.notify("WATCHDOG=1")
    assert [r.msg for r in caplog.records].count("systemd.notify_failed") == 1


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "4000000"}, 2.0),
        ({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}, 2.0),
        ({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_is_half_of_watchdog_usec_for_our_pid(
    environ: dict[str, str], interval: float | None
) -> None:
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "/run/notify", **environ})
    assert notifier.watchdog_interval == interval


class Idle(Actor[object]):
    async def handle(self, message: object) -> object:
        return message


class FailsOnStart(Actor[object]):
    async def on_start(self) -> None:
        raise RuntimeError("not today")

    async def handle(self, message: object) -> object:
        return message


def _system(*actors: tuple[str, type[Actor[object]]]) -> ActorSystem:
    children = tuple(ActorSpec(name=name, factory=factory) for name, factory in actors)
    spec = SupervisorSpec(
        name="root", children=children, max_restarts=1000, backoff_initial=30, backoff_max=30
    )
    return ActorSystem(spec)


async def test_ready_watchdog_cadence_and_stopping(
    listener: tuple[socket.socket, str], autojump_clock: trio.testing.MockClock
) -> None:
    sock, address = listener
    system = _system(("a", Idle), ("b", Idle))
    notifier = SystemdNotifier(address, watchdog_usec=10_000_000)  # every 5 s
    async with open_systemd_notifier(system, notifier), trio.open_nursery() as nursery:
        await nursery.start(system.run)
        assert _received(sock) == ["READY=1\nSTATUS=tauro: ready"]
        await trio.sleep(4.9)
        assert _received(sock) == []
        await trio.sleep(0.2)
        assert _received(sock) == ["WATCHDOG=1"]
        await trio.sleep(10)
        assert _received(sock) == ["WATCHDOG=1", "WATCHDOG=1"]
        system.request_stop()
    assert _received(sock)[:1] == ["STOPPING=1\nSTATUS=tauro: stopping"]


async def test_the_watchdog_is_fed_only_from_ready_on(
    listener: tuple[socket.socket, str], autojump_clock: trio.testing.MockClock
) -> None:
    """Every actor can be running a moment before READY=1 is sent: no WATCHDOG=1 then."""
    sock, address = listener
    running = ActorStatistics("a", "root", ActorState.RUNNING, 0, 0, 8, 0, 0, 0, 0, None)
    notifier = SystemdNotifier(address, watchdog_usec=2_000_000)
    ready = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            feed_watchdog, notifier, lambda: SystemStatistics((running,)), 1.0, ready
        )
        await trio.sleep(30)
        assert _received(sock) == []
        ready.set()
        await trio.sleep(1.5)
        assert _received(sock) == ["WATCHDOG=1"]
        nursery.cancel_scope.cancel()
    notifier.close()


async def test_the_watchdog_is_not_fed_while_an_actor_is_down(
    listener: tuple[socket.socket, str], autojump_clock: trio.testing.MockClock
) -> None:
    sock, address = listener
    system = _system(("a", Idle), ("broken", FailsOnStart))
    notifier = SystemdNotifier(address, watchdog_usec=2_000_000)
    async with open_systemd_notifier(system, notifier), trio.open_nursery() as nursery:
        nursery.start_soon(system.run)
        await trio.sleep(20)
        assert "WATCHDOG=1" not in _received(sock)
        system.force_stop()


# -- a real `tauro run`, as systemd starts it ---------------------------------------


@pytest.fixture
def emulators() -> Iterator[Emulators]:
    with open_emulators() as both:
        yield both


def _wait_for(sock: socket.socket, wanted: str, seen: list[str]) -> None:
    sock.settimeout(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.append(sock.recv(4096).decode())
        if seen[-1].startswith(wanted):
            return
    pytest.fail(f"no {wanted!r} among {seen}")


def test_tauro_run_tells_systemd_ready_watchdog_and_stopping(
    emulators: Emulators, tmp_path: Path, listener: tuple[socket.socket, str]
) -> None:
    sock, address = listener
    env = run_environment(
        emulators,
        LOG_LEVEL="WARNING",  # READY=1 does not depend on the system.ready line
        NOTIFY_SOCKET=address,
        WATCHDOG_USEC="200000",
    )
    seen: list[str] = []
    with TauroProcess(tmp_path, env) as bot:
        _wait_for(sock, "READY=1", seen)
        _wait_for(sock, "WATCHDOG=1", seen)
        _wait_for(sock, "WATCHDOG=1", seen)
        code = bot.stop()
        _wait_for(sock, "STOPPING=1", seen)  # sent before it exited: waiting in the socket
    assert code == 0, bot.log
    assert seen[0] == "READY=1\nSTATUS=tauro: ready"
    assert "system.ready" not in bot.log  # LOG_LEVEL=WARNING: the line was not needed
