"""The worker process speaks its line protocol, and nothing else, on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from voice_audio import Audio, italian_text

from tauro.actors.voice._workers import WORKER_COMMAND


def run_worker(*jobs: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    lines = "".join(json.dumps(job) + "\n" for job in jobs)
    done = subprocess.run(
        list(WORKER_COMMAND), input=lines.encode(), capture_output=True, timeout=60, check=False
    )
    return [json.loads(line) for line in done.stdout.splitlines()], done.returncode


def job(tmp_path: Path, name: str, text: str, **changes: Any) -> dict[str, Any]:
    values = {
        "text": text,
        "voice": "roa/it",
        "rate": 150,
        "volume": 1.0,
        "wav": str(tmp_path / f"{name}.wav"),
        "ogg": str(tmp_path / f"{name}.ogg"),
    }
    values.update(changes)
    return values


def test_it_greets_then_answers_each_job_and_exits_at_the_end(tmp_path: Path, audio: Audio) -> None:
    text = italian_text(200)
    replies, code = run_worker(job(tmp_path, "a", text), job(tmp_path, "b", "Seconda nota."))
    assert code == 0
    hello, first, second = replies  # pyttsx3's own prints never reach this stream
    assert hello["ready"] is True
    assert any(voice["id"] == "roa/it" for voice in hello["voices"])
    assert hello["library"].startswith("libsndfile")
    assert first["ok"] is True
    assert second["ok"] is True
    ogg = audio.assert_speech(tmp_path / "a.ogg", text)
    assert first["duration"] == ogg.decoded_seconds
    assert first["size"] == (tmp_path / "a.ogg").stat().st_size
    assert not (tmp_path / "a.wav").exists()


def test_a_job_that_cannot_be_done_is_answered_and_the_worker_goes_on(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    replies, code = run_worker(job(missing, "a", "Ciao."), job(tmp_path, "b", "Ciao di nuovo."))
    assert code == 0
    assert replies[1] == {"ok": False, "error": replies[1]["error"], "fatal": False}
    assert "does not exist" in replies[1]["error"]
    assert replies[2]["ok"] is True


def test_the_worker_yields_the_cpu_to_the_bot() -> None:
    script = (
        "import os, sys\n"
        "from tauro.actors.voice import _worker_main\n"
        "os.nice = lambda increment: print('nice', increment, file=sys.stderr) or 0\n"
        "sys.exit(_worker_main.main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=b"", capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert b"nice 10" in done.stderr
