"""The voice folder: sweeping at start, links, removal, expiry of forgotten notes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio
import trio.testing

from tauro.actors.voice._store import NOTE_LIFETIME, NoteStore, default_directory
from tauro.errors import UnsafePathError


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


def planted_by_another_user(path: Path) -> None:
    """Issue 16's attack: another local user makes the folder (and cache/) first, 0777."""
    for folder in (path, path / "cache"):
        folder.mkdir(mode=0o777)
        os.chmod(folder, 0o777)
        os.chown(folder, 65534, 65534)


async def test_a_folder_planted_by_another_user_is_refused_and_left_untouched(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "taurobot-voice-0"
    planted_by_another_user(folder)
    with pytest.raises(UnsafePathError) as caught:
        await NoteStore(folder).open()
    assert str(folder) in str(caught.value)
    assert "user id 65534" in str(caught.value)
    assert all_files(folder) == [folder / "cache"]


async def test_a_planted_cache_folder_inside_ours_is_refused(tmp_path: Path) -> None:
    (tmp_path / "voice").mkdir(mode=0o700)
    (tmp_path / "voice" / "cache").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        await NoteStore(tmp_path / "voice").open()


async def test_a_symlinked_voice_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "voice").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        await NoteStore(tmp_path / "voice").open()
    assert all_files(tmp_path / "real") == []


async def test_cache_entries_replace_whatever_was_there_and_are_checked(tmp_path: Path) -> None:
    store = NoteStore(tmp_path / "voice")
    await store.open()
    note = tmp_path / "voice" / "n.ogg"
    note.write_bytes(b"OggS" + b"\0" * 60)
    target = store.cache_path("k")
    target.write_bytes(b"not ours")
    assert await store.put_in_cache(note, target)
    assert target.read_bytes() == note.read_bytes()
    assert await store.verify(target, 64)
    assert not await store.verify(target, 65)
    target.write_bytes(b"RIFF" + b"\0" * 60)
    assert not await store.verify(target, 64)
    target.unlink()
    target.symlink_to(note)
    assert not await store.verify(target, 64)  # never through a link
