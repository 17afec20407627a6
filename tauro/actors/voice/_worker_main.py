"""A synthesis worker process: ``python -m tauro.actors.voice._worker_main``.

It owns one ``SpeechEngine`` on its main thread and does whole jobs, text to
OGG/Opus file, one at a time. The protocol is one JSON object per line:

- on start it writes ``{"ready": true, "pid", "library", "voices": [...]}``, or
  ``{"ready": false, "error"}`` and exits when espeak-ng or Opus is missing;
- then for each job line ``{"text", "voice", "rate", "volume", "wav", "ogg"}``
  it writes ``{"ok": true, "duration", "size"}`` or ``{"ok": false, "error",
  "fatal"}``; after a fatal failure (an engine left broken) it exits.

It exits at the end of its input. An unexpected error ends the process with a
traceback on stderr, which the parent sees as an engine crash. pyttsx3 prints
to stdout, so replies go to a private copy of the original stdout and fd 1 is
pointed at /dev/null. SIGINT is ignored: a Ctrl-C in a terminal reaches the
whole process group, and the bot shuts its workers down in order itself. Workers
run at a lower CPU priority than the bot (WORKER_NICENESS).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from tauro.actors.voice._encode import encode_voice_note, opus_supported, sf
from tauro.actors.voice._engine import SpeechEngine
from tauro.actors.voice._sndfile import library_version
from tauro.errors import VoiceError

# Added to the worker's nice value: on a busy machine the bot's event loop, which
# answers every chat, gets the CPU before a voice note that is still being made.
WORKER_NICENESS = 10


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.umask(0o077)  # the WAV and OGG it writes are the bot user's alone (0600)
    os.nice(WORKER_NICENESS)
    replies = _claim_stdout()
    try:
        engine = _start_engine()
    except VoiceError as error:
        _reply(replies, {"ready": False, "error": str(error)})
        return 2
    _reply(replies, _hello(engine))
    for line in sys.stdin.buffer:
        _reply(replies, _run(engine, json.loads(line)))
        if engine.broken:
            return 3
    return 0


def _start_engine() -> SpeechEngine:
    if not opus_supported():
        raise VoiceError(
            f"{library_version(sf)} cannot write Ogg/Opus; "
            "install libsndfile 1.0.29 or later (apt-get install libsndfile1)"
        )
    return SpeechEngine()


def _hello(engine: SpeechEngine) -> dict[str, Any]:
    return {
        "ready": True,
        "pid": os.getpid(),
        "library": library_version(sf),
        "voices": [asdict(voice) for voice in engine.voices()],
    }


def _run(engine: SpeechEngine, job: dict[str, Any]) -> dict[str, Any]:
    wav, ogg = Path(job["wav"]), Path(job["ogg"])
    try:
        engine.synthesize(
            job["text"], wav, voice=job["voice"], rate=job["rate"], volume=job["volume"]
        )
        audio = encode_voice_note(wav, ogg)
    except VoiceError as error:
        ogg.unlink(missing_ok=True)
        return {"ok": False, "error": str(error), "fatal": engine.broken}
    finally:
        wav.unlink(missing_ok=True)
    return {"ok": True, "duration": audio.duration_seconds, "size": audio.size}


def _claim_stdout() -> BinaryIO:
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return replies


def _reply(replies: BinaryIO, message: dict[str, Any]) -> None:
    replies.write(json.dumps(message).encode() + b"\n")
    replies.flush()


if __name__ == "__main__":
    sys.exit(main())
