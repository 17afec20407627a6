"""A bounded pool of synthesis worker processes (TTS_WORKERS), driven from trio.

Why processes and not threads: espeak-ng keeps its state in process globals and
pyttsx3 engines are not thread-safe, so one engine per process, used by one
thread, is the only safe way to synthesise in parallel. A process also gives
what a thread cannot: a hung or crashed engine is killed and replaced without
touching the bot, cancelling a job stops its work at once, and the encoding
never competes with the event loop for the GIL.

A worker whose job was cancelled, timed out or died is killed, never reused:
its engine's state is unknown. ``run`` reports such a job as
``JobFailed(engine_crashed=True)``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from tauro.actors.voice._engine import VoiceInfo
from tauro.errors import VoiceError

WORKER_COMMAND: tuple[str, ...] = (sys.executable, "-m", "tauro.actors.voice._worker_main")
START_TIMEOUT = 30.0  # seconds for a worker to load espeak-ng and say it is ready
STOP_GRACE = 2.0  # seconds a worker may take to exit once its input is closed
_MAX_LINE = 1 << 20  # bytes; the voice list is the longest line, about 15 KB


@dataclass(frozen=True, slots=True)
class Job:
    text: str
    voice: str  # a VoiceInfo.id
    rate: int  # words per minute
    volume: float  # 0.0 to 1.0
    wav: Path  # scratch file, removed by the worker
    ogg: Path  # the result


@dataclass(frozen=True, slots=True)
class JobDone:
    duration_seconds: float
    size: int


@dataclass(frozen=True, slots=True)
class JobFailed:
    reason: str
    engine_crashed: bool  # the worker died, hung or was cancelled mid-job


class _WorkerGone(Exception):
    """The worker's output ended or made no sense: it is dead or broken."""


class _LineReader:
    """Lines from a trio byte stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def readline(self) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > _MAX_LINE:
                raise _WorkerGone(f"a reply line longer than {_MAX_LINE} bytes")
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise _WorkerGone("its output ended")
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, process: trio.Process, reader: _LineReader, hello: dict[str, Any]):
        self.process = process
        self._reader = reader
        self.pid: int = process.pid
        self.library = str(hello.get("library", ""))
        self.voices = tuple(
            VoiceInfo(str(v["id"]), str(v["name"]), tuple(v["languages"])) for v in hello["voices"]
        )

    @classmethod
    async def start(cls, command: Sequence[str]) -> _Worker:
        """A ready worker, or VoiceError saying why espeak-ng could not start."""
        try:
            process = await trio.lowlevel.open_process(
                list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError as error:
            raise VoiceError(f"cannot start a synthesis worker: {error}") from error
        assert process.stdout is not None  # invariant: opened with stdout=PIPE
        reader = _LineReader(process.stdout)
        try:
            hello = await cls._handshake(reader)
        except BaseException:
            await _kill(process)
            raise
        return cls(process, reader, hello)

    @staticmethod
    async def _handshake(reader: _LineReader) -> dict[str, Any]:
        with trio.move_on_after(START_TIMEOUT):
            try:
                hello = _decode(await reader.readline())
            except _WorkerGone as error:
                raise VoiceError(f"the synthesis worker exited while starting ({error})") from None
            if not hello.get("ready"):
                raise VoiceError(str(hello.get("error", "the synthesis worker failed to start")))
            return hello
        raise VoiceError(f"the synthesis worker did not start within {START_TIMEOUT:g} s")

    async def run(self, job: Job) -> dict[str, Any]:
        assert self.process.stdin is not None  # invariant: opened with stdin=PIPE
        line = json.dumps(
            {
                "text": job.text,
                "voice": job.voice,
                "rate": job.rate,
                "volume": job.volume,
                "wav": str(job.wav),
                "ogg": str(job.ogg),
            }
        )
        try:
            await self.process.stdin.send_all(line.encode() + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise _WorkerGone(f"its input is closed ({error})") from None
        return _decode(await self._reader.readline())

    async def close(self) -> None:
        """Let the worker exit at the end of its input; kill it if it does not."""
        with trio.CancelScope(shield=True):
            assert self.process.stdin is not None  # invariant: opened with stdin=PIPE
            await self.process.stdin.aclose()
            with trio.move_on_after(STOP_GRACE):
                await self.process.wait()
            await _kill(self.process)

    async def kill(self) -> None:
        await _kill(self.process)

    def exit_status(self) -> str:
        code = self.process.returncode
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


async def _kill(process: trio.Process) -> None:
    with trio.CancelScope(shield=True):
        if process.returncode is None:
            process.kill()
        await process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                await stream.aclose()


def _decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        raise _WorkerGone(f"it wrote something that is not JSON: {line[:80]!r}") from None
    if not isinstance(message, dict):
        raise _WorkerGone(f"it wrote {type(message).__name__} instead of an object")
    return message


class WorkerPool:
    """At most ``size`` worker processes; each runs one job at a time."""

    def __init__(self, size: int, command: Sequence[str] = WORKER_COMMAND) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker (TTS_WORKERS >= 1)")
        self._command = tuple(command)
        self._slots = trio.Semaphore(size)
        self._idle: list[_Worker] = []
        self._alive: set[_Worker] = set()
        self.crashes = 0
        self.library = ""

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(sorted(worker.pid for worker in self._alive))

    async def voices(self) -> tuple[VoiceInfo, ...]:
        """The installed voices, starting a worker if none runs; VoiceError if none can."""
        async with self._slots:
            worker = await self._take()
            self._idle.append(worker)
            return worker.voices

    async def run(self, job: Job, timeout: float) -> JobDone | JobFailed:
        """Run ``job`` on a free worker, waiting for one; ``timeout`` in seconds."""
        async with self._slots:
            try:
                worker = await self._take()
            except VoiceError as error:
                return JobFailed(str(error), engine_crashed=False)
            reusable = False
            try:
                result = await self._run_on(worker, job, timeout)
                reusable = not (isinstance(result, JobFailed) and result.engine_crashed)
                return result
            finally:
                await self._release(worker, reusable)

    async def _run_on(self, worker: _Worker, job: Job, timeout: float) -> JobDone | JobFailed:
        with trio.move_on_after(timeout):
            try:
                reply = await worker.run(job)
            except _WorkerGone as error:
                await worker.kill()
                self.crashes += 1
                return JobFailed(
                    f"the synthesis worker (pid {worker.pid}) died: {error}, "
                    f"{worker.exit_status()}",
                    engine_crashed=True,
                )
            if reply.get("ok"):
                return JobDone(float(reply["duration"]), int(reply["size"]))
            fatal = bool(reply.get("fatal"))
            self.crashes += fatal
            return JobFailed(str(reply.get("error", "synthesis failed")), engine_crashed=fatal)
        self.crashes += 1
        return JobFailed(
            f"the synthesis worker (pid {worker.pid}) took longer than "
            f"{timeout:g} s and was stopped",
            engine_crashed=True,
        )

    async def _take(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        worker = await _Worker.start(self._command)
        self._alive.add(worker)
        self.library = worker.library
        return worker

    async def _release(self, worker: _Worker, reusable: bool) -> None:
        if reusable:
            self._idle.append(worker)
            return
        self._alive.discard(worker)
        await worker.kill()

    async def aclose(self) -> None:
        """Stop every worker: idle ones exit cleanly, any other is killed."""
        workers, self._alive, self._idle = list(self._alive), set(), []
        with trio.CancelScope(shield=True):
            async with trio.open_nursery() as nursery:
                for worker in workers:
                    nursery.start_soon(worker.close)
