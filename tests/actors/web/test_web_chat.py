"""Turns that outlive their request, one per conversation; voice clips per owner."""

from __future__ import annotations

import gc
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from tauro.actors.voice import VoiceNote
from tauro.actors.web import (
    Delta,
    Done,
    Failed,
    OpenStreams,
    TurnRunner,
    VoiceClips,
    WebCounters,
    _chat,
)
from tauro.actors.web._chat import ClipResponse
from tauro.actors.web._http import HTTPProblem
from tauro.errors import UnsafePathError

Backend = Any  # conftest.FakeBackend, given by the backend_type fixture


async def _runner(
    nursery: trio.Nursery, backend: Backend
) -> tuple[TurnRunner, OpenStreams, WebCounters]:
    streams, counters = OpenStreams(), WebCounters()
    runner = TurnRunner(backend, streams, counters)
    await nursery.start(runner.run)
    return runner, streams, counters


async def test_a_turn_streams_its_events_and_closes(
    nursery: trio.Nursery, backend_type: Any
) -> None:
    runner, streams, counters = await _runner(nursery, backend_type(words=("a", "b")))
    receive = runner.start("web:1", "hi")
    events = [event async for event in receive]
    assert events == [Delta("a"), Delta("b"), Done("ab")]
    assert (counters.turns, counters.turns_failed, len(streams), runner.in_flight) == (1, 0, 0, 0)


async def test_one_turn_per_conversation(nursery: trio.Nursery, backend_type: Any) -> None:
    hold = trio.Event()
    runner, _, _ = await _runner(nursery, backend_type(hold=hold))
    first = runner.start("web:1", "one")
    with pytest.raises(HTTPProblem) as caught:
        runner.start("web:1", "two")
    assert caught.value.status == 409
    other = runner.start("web:2", "elsewhere")  # other conversations are not held up
    hold.set()
    assert [e async for e in first][-1] == Done("Hello, world")
    assert [e async for e in other][-1] == Done("Hello, world")
    runner.start("web:1", "three")  # free again


async def test_the_turn_finishes_when_the_listener_leaves(
    nursery: trio.Nursery, backend_type: Any
) -> None:
    hold = trio.Event()
    backend = backend_type(hold=hold)
    runner, _, _ = await _runner(nursery, backend)
    receive = runner.start("web:1", "hi")
    await receive.aclose()  # the tab was closed
    hold.set()
    await runner.wait_idle()
    assert [e.role for e in backend.stored["web:1"]] == ["user", "assistant"]


async def test_a_crashing_backend_becomes_a_failed_event(
    nursery: trio.Nursery, backend_type: Any
) -> None:
    runner, _, counters = await _runner(nursery, backend_type(crash=True))
    events = [e async for e in runner.start("web:1", "hi")]
    assert events == [Failed("internal", "Something went wrong on the server; try again.")]
    assert counters.turns_failed == 1


async def test_failed_turns_are_counted(nursery: trio.Nursery, backend_type: Any) -> None:
    backend = backend_type(fail=Failed("llm_unreachable", "down"))
    runner, _, counters = await _runner(nursery, backend)
    assert [e async for e in runner.start("web:1", "hi")] == [Failed("llm_unreachable", "down")]
    assert counters.turns_failed == 1


async def test_no_new_turn_while_closing(nursery: trio.Nursery, backend_type: Any) -> None:
    runner, streams, _ = await _runner(nursery, backend_type())
    streams.close_all()
    with pytest.raises(HTTPProblem) as caught:
        runner.start("web:1", "hi")
    assert caught.value.status == 503


def note_file(folder: Path, name: str, content: bytes) -> VoiceNote:
    path = folder / name
    path.write_bytes(content)
    return VoiceNote(path, 1.0, len(content))


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_clips_belong_to_their_conversation_and_old_ones_go(tmp_path: Path) -> None:
    clips = VoiceClips(capacity=2, directory=tmp_path / "clips")
    notes = [note_file(tmp_path, f"n{n}.ogg", bytes([n])) for n in range(3)]
    urls = [await clips.keep("web:a", note) for note in notes]
    ids = [url.removeprefix("/api/voice/") for url in urls]
    assert all(url.startswith("/api/voice/") for url in urls)
    assert clips.get(ids[0], "web:a") is None  # evicted ...
    assert files_in(clips.folder) == sorted(f"{i}.ogg" for i in ids[1:])  # ... with its file
    clip = clips.get(ids[2], "web:a")
    assert clip is not None
    assert clip.path.read_bytes() == b"\x02"
    assert clips.get(ids[2], "web:b") is None  # someone else's
    assert clips.get("nope", "web:a") is None


async def test_a_clip_outlives_its_note(tmp_path: Path) -> None:
    clips = VoiceClips(directory=tmp_path / "clips")
    note = note_file(tmp_path, "note.ogg", b"OggS audio")
    url = await clips.keep("web:a", note)
    note.discard()  # what the turn does once the sink returns
    clip = clips.get(url.removeprefix("/api/voice/"), "web:a")
    assert clip is not None
    assert clip.path.read_bytes() == b"OggS audio"
    assert clip.path.parent == clips.folder


async def test_closing_removes_every_clip(tmp_path: Path) -> None:
    clips = VoiceClips(directory=tmp_path / "clips")
    await clips.keep("web:a", note_file(tmp_path, "a.ogg", b"a"))
    await clips.aclose()
    assert files_in(tmp_path / "clips") == []


def test_a_collected_instance_leaves_no_folder(tmp_path: Path) -> None:
    async def one_clip() -> None:
        clips = VoiceClips(directory=tmp_path / "clips")
        await clips.keep("web:a", note_file(tmp_path, "a.ogg", b"a"))
        assert len(files_in(tmp_path / "clips")) == 1

    trio.run(one_clip)
    gc.collect()
    assert files_in(tmp_path / "clips") == []


def mode(path: Path) -> int:
    return os.lstat(path).st_mode & 0o777


@pytest.mark.parametrize("links", [True, False])
async def test_clips_are_0600_in_0700_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: bool
) -> None:
    if not links:  # another file system: a private copy instead of a link
        monkeypatch.setattr(os, "link", _no_link)  # the os module _chat uses
    note = note_file(tmp_path, "a.ogg", b"OggS a")
    os.chmod(note.path, 0o600)
    clips = VoiceClips(directory=tmp_path / "voice" / "web")
    url = await clips.keep("web:a", note)
    clip = clips.get(url.removeprefix("/api/voice/"), "web:a")
    assert clip is not None
    folders = (tmp_path / "voice", tmp_path / "voice" / "web", clips.folder)
    assert [mode(folder) for folder in folders] == [0o700] * 3
    assert mode(clip.path) == 0o600
    await clips.aclose()


def _no_link(source: object, target: object) -> None:
    raise OSError("Invalid cross-device link")


async def test_a_clip_folder_planted_by_another_user_gets_no_clip(tmp_path: Path) -> None:
    planted = tmp_path / "taurobot-web-voice-0"
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)
    os.chown(planted, 65534, 65534)
    clips = VoiceClips(directory=planted)
    with pytest.raises(UnsafePathError, match="user id 65534"):
        await clips.keep("web:a", note_file(tmp_path, "a.ogg", b"a"))
    assert files_in(planted) == []


async def test_a_symlinked_clip_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "clips").symlink_to(tmp_path / "real")
    clips = VoiceClips(directory=tmp_path / "clips")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        await clips.keep("web:a", note_file(tmp_path, "a.ogg", b"a"))
    assert files_in(tmp_path / "real") == []


def exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def test_folders_of_dead_processes_are_swept(tmp_path: Path) -> None:
    parent = tmp_path / "clips"
    stale = parent / f"{exited_pid()}-0badf00d"  # a crashed bot's folder
    live = parent / f"{os.getppid()}-12345678"  # a process that is still there
    foreign = parent / "not-ours"
    parent.mkdir(mode=0o700)
    for folder in (stale, live, foreign):
        folder.mkdir(parents=True)
        (folder / "x.ogg").write_bytes(b"x")
    clips = VoiceClips(directory=parent)
    await clips.keep("web:a", note_file(tmp_path, "a.ogg", b"a"))
    assert sorted(files_in(parent)) == sorted([live.name, foreign.name, clips.folder.name])


@dataclass
class Listener:
    """An ASGI ``send`` that records messages and can leave after some body chunks."""

    leave_after: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, message: Any) -> None:
        chunks = [m for m in self.messages if m["type"] == "http.response.body"]
        if self.leave_after is not None and len(chunks) >= self.leave_after:
            raise OSError("the listener went away")
        self.messages.append(message)

    def body(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"] == "http.response.body"]


async def nothing() -> Any:
    raise AssertionError("a clip response reads no request body")


async def serve_clip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: Listener, opened: list[Any]
) -> bytes:
    """One ClipResponse of a 200 kB clip; ``opened`` gets the files it opened."""
    clips = VoiceClips(directory=tmp_path / "clips")
    audio = os.urandom(200_000)
    url = await clips.keep("web:a", note_file(tmp_path, "a.ogg", audio))
    clip = clips.get(url.removeprefix("/api/voice/"), "web:a")
    assert clip is not None

    real_open = _chat._open_sized

    def open_sized(path: Path) -> tuple[Any, int]:
        found = real_open(path)
        opened.append(found[0])
        return found

    monkeypatch.setattr(_chat, "_open_sized", open_sized)
    response = ClipResponse(clip, clips.limiter, {})
    scope = {"type": "http", "method": "GET"}
    try:
        await response(scope, nothing, listener.send)
    finally:
        await clips.aclose()
    return audio


async def test_a_clip_is_sent_in_chunks_from_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener, opened = Listener(), list[Any]()
    audio = await serve_clip(tmp_path, monkeypatch, listener, opened)
    start = listener.messages[0]
    assert (start["type"], start["status"]) == ("http.response.start", 200)
    assert (b"content-length", b"200000") in start["headers"]
    chunks = listener.body()
    assert b"".join(chunks) == audio
    assert len(chunks) >= 4
    assert max(len(chunk) for chunk in chunks) <= 64 * 1024
    assert [f.closed for f in opened] == [True]


async def test_a_listener_that_leaves_closes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener, opened = Listener(leave_after=1), list[Any]()
    with pytest.raises(OSError, match="went away"):
        await serve_clip(tmp_path, monkeypatch, listener, opened)
    assert len(listener.body()) == 1
    assert [f.closed for f in opened] == [True]
