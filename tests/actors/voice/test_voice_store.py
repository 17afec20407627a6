"""The voice folder: sweeping at start, links, removal, expiry of forgotten notes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import trio
import trio.testing

from tauro.actors.voice._store import NOTE_LIFETIME, NoteStore, default_directory


def all_files(folder: Path) -> list[Path]:
    return list(folder.rglob("*"))


def test_the_default_folder_is_one_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert default_directory().parent.name == f"taurobot-{os.geteuid()}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert default_directory() == Path("/run/user/1000/taurobot/voice")


async def test_open_creates_the_folders_and_sweeps_leftovers(tmp_path: Path) -> None:
    store = NoteStore(tmp_path / "voice")
    store.directory.mkdir(mode=0o700)
    store.cache_directory.mkdir(mode=0o700)
    for name in ("note-a-1.ogg", "note-a-1.wav", "cache/abc.ogg"):
        (store.directory / name).write_bytes(b"x")
    (store.directory / "README.txt").write_text("not ours")
    assert await store.open() == 3
    assert sorted(p.name for p in all_files(store.directory)) == ["README.txt", "cache"]


async def test_job_paths_are_unique_and_inside_the_folder(tmp_path: Path) -> None:
    store = NoteStore(tmp_path)
    first, second = store.new_job(), store.new_job()
    assert first != second
    assert all(p.parent == tmp_path for p in (*first, *second))
    assert (first[0].suffix, first[1].suffix) == (".wav", ".ogg")


async def test_link_shares_the_file_and_survives_removal_of_the_source(tmp_path: Path) -> None:
    store = NoteStore(tmp_path)
    await store.open()
    source = tmp_path / "a.ogg"
    source.write_bytes(b"OggS")
    target = store.cache_path("k")
    assert await store.link(source, target)
    assert await store.link(source, target)  # already there: fine
    await store.remove([source])
    assert target.read_bytes() == b"OggS"
    assert not await store.link(source, tmp_path / "b.ogg")


async def test_notes_nobody_discarded_expire(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    store = NoteStore(tmp_path)
    note = tmp_path / "n.ogg"
    note.write_bytes(b"x")
    store.issue(note)
    mock_clock.jump(NOTE_LIFETIME - 1)
    assert await store.expire() == 0
    assert store.outstanding == 1
    mock_clock.jump(2)
    assert await store.expire() == 1
    assert not note.exists()
    assert store.outstanding == 0


async def test_sweep_removes_notes_and_the_cache(tmp_path: Path) -> None:
    store = NoteStore(tmp_path)
    await store.open()
    _, note = store.new_job()
    note.write_bytes(b"x")
    store.issue(note)
    store.cache_path("k").write_bytes(b"x")
    assert await store.sweep() == 2
    assert store.outstanding == 0
    assert not any(p.suffix == ".ogg" for p in all_files(tmp_path))
