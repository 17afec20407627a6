"""The pool of worker processes: jobs, crashes, hangs, cancellation, bounds."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import trio
import trio.testing
from voice_audio import Audio, italian_text

from tauro.actors.voice._workers import Job, JobDone, JobFailed, WorkerPool
from tauro.errors import VoiceError


def make_job(tmp_path: Path, name: str, text: str = "Ciao, questa è una prova.") -> Job:
    return Job(text, "roa/it", 150, 1.0, tmp_path / f"{name}.wav", tmp_path / f"{name}.ogg")


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_job_gives_a_voice_note(tmp_path: Path, audio: Audio) -> None:
    pool = WorkerPool(1)
    try:
        text = italian_text(300)
        result = await pool.run(make_job(tmp_path, "a", text), timeout=60)
        assert isinstance(result, JobDone)
        ogg = audio.assert_speech(tmp_path / "a.ogg", text)
        assert result.duration_seconds == ogg.decoded_seconds
        assert len(pool.pids) == 1
    finally:
        await pool.aclose()


async def test_voices_come_from_the_worker(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    try:
        voices = await pool.voices()
        assert any(voice.id == "roa/it" for voice in voices)
        assert pool.library.startswith("libsndfile")
    finally:
        await pool.aclose()


async def test_a_worker_killed_mid_job_is_a_crash_and_the_next_job_works(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    try:
        await pool.voices()
        (first_pid,) = pool.pids
        results: list[JobDone | JobFailed] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: _collect(pool, make_job(tmp_path, "a", italian_text(2000)), results)
            )
            await trio.testing.wait_all_tasks_blocked()  # the job is with the worker
            os.kill(first_pid, signal.SIGKILL)
        (result,) = results
        assert isinstance(result, JobFailed)
        assert result.engine_crashed
        assert "signal 9" in result.reason
        assert pool.crashes == 1
        assert not is_alive(first_pid)
        assert isinstance(await pool.run(make_job(tmp_path, "b"), timeout=60), JobDone)
        assert pool.pids != (first_pid,)
    finally:
        await pool.aclose()


async def _collect(pool: WorkerPool, job: Job, into: list[JobDone | JobFailed]) -> None:
    into.append(await pool.run(job, timeout=60))


async def test_a_job_over_its_time_is_stopped(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    pool = WorkerPool(1)
    try:
        await pool.voices()
        (pid,) = pool.pids
        results: list[JobDone | JobFailed] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: _collect(pool, make_job(tmp_path, "a", italian_text(2000)), results)
            )
            await trio.testing.wait_all_tasks_blocked()
            mock_clock.jump(61)
        (result,) = results
        assert isinstance(result, JobFailed)
        assert result.engine_crashed
        assert "longer than 60 s" in result.reason
        assert not is_alive(pid)
        assert pool.pids == ()
    finally:
        await pool.aclose()


async def test_cancelling_a_job_kills_its_worker_at_once(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    try:
        await pool.voices()
        (pid,) = pool.pids
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pool.run, make_job(tmp_path, "a", italian_text(2000)), 60)
                await trio.testing.wait_all_tasks_blocked()
                scope.cancel()
        assert not is_alive(pid)
        assert pool.pids == ()
        assert pool.crashes == 0  # a cancellation is not the engine's fault
    finally:
        await pool.aclose()


async def test_two_workers_run_two_jobs_side_by_side(tmp_path: Path) -> None:
    pool = WorkerPool(2)
    try:
        results: list[JobDone | JobFailed] = []
        async with trio.open_nursery() as nursery:
            for name in ("a", "b"):
                nursery.start_soon(
                    _collect, pool, make_job(tmp_path, name, italian_text(500)), results
                )
        assert all(isinstance(r, JobDone) for r in results)
        assert len(pool.pids) == 2  # the second job did not wait for the first worker
    finally:
        await pool.aclose()


async def test_a_pool_of_one_runs_one_job_at_a_time(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    try:
        results: list[JobDone | JobFailed] = []
        async with trio.open_nursery() as nursery:
            for name in ("a", "b", "c"):
                nursery.start_soon(_collect, pool, make_job(tmp_path, name), results)
            await trio.testing.wait_all_tasks_blocked()
            assert len(pool.pids) <= 1
        assert len(results) == 3
        assert all(isinstance(r, JobDone) for r in results)
        assert len(pool.pids) == 1
    finally:
        await pool.aclose()


async def test_aclose_lets_idle_workers_exit(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    await pool.run(make_job(tmp_path, "a"), timeout=60)
    (pid,) = pool.pids
    await pool.aclose()
    assert not is_alive(pid)
    assert pool.pids == ()


REFUSING = (sys.executable, "-c", 'print(\'{"ready": false, "error": "no espeak here"}\')')
GARBAGE = (sys.executable, "-c", "print('Audio saved to nowhere')")
MISSING = ("/nonexistent/python-for-tauro",)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (REFUSING, "no espeak here"),
        (GARBAGE, "exited while starting"),
        (MISSING, "cannot start a synthesis worker"),
    ],
)
async def test_a_worker_that_cannot_start_is_not_a_crash(
    tmp_path: Path, command: tuple[str, ...], message: str
) -> None:
    pool = WorkerPool(1, command)
    result = await pool.run(make_job(tmp_path, "a"), timeout=60)
    assert isinstance(result, JobFailed)
    assert message in result.reason
    assert not result.engine_crashed
    with pytest.raises(VoiceError, match=message):
        await pool.voices()
    assert pool.pids == ()
    await pool.aclose()


def test_a_pool_needs_at_least_one_worker() -> None:
    with pytest.raises(ValueError, match="TTS_WORKERS"):
        WorkerPool(0)
