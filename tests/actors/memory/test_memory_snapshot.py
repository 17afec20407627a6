"""The memory file: atomic, private, backed up once, readable by the original both ways."""

from __future__ import annotations

import errno
import json
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tauro.actors.memory._records import encode_fragment
from tauro.actors.memory._snapshot import (
    SnapshotData,
    backup_path,
    move_aside,
    read_snapshot,
    sweep_temp_files,
    write_snapshot,
)
from tauro.errors import CorruptMemoryFileError, PersistenceError


def original_save(path: Path, conversations: dict[str, Any]) -> None:
    """What the original bot did: indent=2 JSON to <file>.tmp, then os.replace."""
    data = {"conversations": conversations, "last_updated": datetime.now().isoformat()}
    temp = f"{path}.tmp"
    with open(temp, "w", encoding="utf-8") as file:
        file.write(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(temp, path)


def original_load(path: Path) -> dict[str, list[dict[str, Any]]]:
    """What the original bot read: data["conversations"][id] -> list of dicts."""
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    conversations: dict[str, list[dict[str, Any]]] = data.get("conversations", {})
    return conversations


def snapshot(*messages: tuple[str, str], seq: int = 5, journal: int = 2) -> SnapshotData:
    by_conversation: dict[str, list[bytes]] = {}
    for conversation, content in messages:
        fragment = encode_fragment("user", content, "2025-11-05T19:52:21.123456")
        by_conversation.setdefault(conversation, []).append(fragment)
    return SnapshotData(list(by_conversation.items()), {"123": {"voice": True}}, seq, journal)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "conversations.json"


def test_the_original_reads_what_we_write(path: Path) -> None:
    write_snapshot(path, snapshot(("123", "ciao è"), ("123", "come va?"), ("9", "x")), durable=True)
    conversations = original_load(path)
    assert [m["content"] for m in conversations["123"]] == ["ciao è", "come va?"]
    assert conversations["123"][0] == {
        "role": "user",
        "content": "ciao è",
        "timestamp": "2025-11-05T19:52:21.123456",
    }
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["preferences"] == {"123": {"voice": True}}
    assert data["tauro"] == {"format": 1, "seq": 5, "journal": 2}
    datetime.fromisoformat(data["last_updated"])


def test_we_read_what_the_original_wrote(path: Path) -> None:
    original_save(path, {"123": [{"role": "user", "content": "ciao", "timestamp": "t", "x": 1}]})
    loaded = read_snapshot(path)
    assert loaded is not None
    assert [json.loads(f) for f in loaded.conversations["123"]] == [
        {"role": "user", "content": "ciao", "timestamp": "t", "x": 1}
    ]
    assert (loaded.seq, loaded.journal, loaded.preferences) == (0, 0, {})


def test_round_trip_of_our_own_file(path: Path) -> None:
    data = snapshot(("a", "1"), ("b", "2"), ("a", "3"))
    write_snapshot(path, data, durable=False)
    loaded = read_snapshot(path)
    assert loaded is not None
    assert loaded.conversations == dict(data.conversations)
    assert (loaded.seq, loaded.journal, loaded.size) == (5, 2, path.stat().st_size)


def test_a_long_conversation_is_written_in_slices_and_reads_back(path: Path) -> None:
    data = snapshot(*[("a", str(n)) for n in range(5000)])
    write_snapshot(path, data, durable=True)
    assert [m["content"] for m in original_load(path)["a"]] == [str(n) for n in range(5000)]


def test_files_are_private_and_no_temp_file_is_left(path: Path) -> None:
    write_snapshot(path, snapshot(("a", "1")), durable=True)
    write_snapshot(path, snapshot(("a", "2")), durable=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup_path(path).stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, backup_path(path).name]


def test_the_backup_is_made_once_from_the_first_file_replaced(path: Path) -> None:
    first = write_snapshot(path, snapshot(("a", "first")), durable=True)
    assert not first.backup_made
    assert not backup_path(path).exists()
    second = write_snapshot(path, snapshot(("a", "second")), durable=True)
    assert second.backup_made
    assert second.fsyncs == 3
    write_snapshot(path, snapshot(("a", "third")), durable=True)
    backup = original_load(backup_path(path))
    assert [m["content"] for m in backup["a"]] == ["first"]


def test_a_failed_write_leaves_the_old_file_intact(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(path, snapshot(("a", "kept")), durable=True)
    before = path.read_bytes()

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(PersistenceError) as raised:
        write_snapshot(path, snapshot(("a", "lost")), durable=True)
    monkeypatch.undo()
    assert str(path) in str(raised.value)
    assert "nothing is lost" in str(raised.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_memory_file_without_a_directory_part_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_snapshot(Path("conversations.json"), snapshot(("a", "1")), durable=True)
    assert original_load(tmp_path / "conversations.json")["a"][0]["content"] == "1"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"conversations": {"1": [{"role": "user", "content": "x"}',
        b"[1, 2]",
        b'{"users": {}}',
        b'{"conversations": []}',
        b'{"conversations": {"1": {"role": "user"}}}',
        b'{"conversations": {"1": [{"role": "user"}]}}',
        b'{"conversations": {}, "preferences": {"1": ["voice"]}}',
        b"\xff\xfe",
    ],
)
def test_wrong_files_are_reported_as_corrupt(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(CorruptMemoryFileError) as raised:
        read_snapshot(path)
    assert str(path) in str(raised.value)


def test_a_malformed_marker_is_ignored(path: Path) -> None:
    path.write_text('{"conversations": {}, "tauro": {"seq": "x"}}')
    loaded = read_snapshot(path)
    assert loaded is not None
    assert (loaded.seq, loaded.journal) == (0, 0)


def test_a_missing_file_reads_as_none(path: Path) -> None:
    assert read_snapshot(path) is None


def test_move_aside_never_overwrites(path: Path) -> None:
    path.write_text("one")
    first = move_aside(path)
    path.write_text("two")
    second = move_aside(path)
    assert first != second
    assert not path.exists()
    assert first.name.startswith("conversations.json.corrupt-")
    assert (first.read_text(), second.read_text()) == ("one", "two")


def test_move_aside_with_a_replacement_never_leaves_no_file(path: Path) -> None:
    path.write_text("damaged")
    replacement = path.with_name(".conversations.json.new.tmp")
    replacement.write_text("good")
    moved = move_aside(path, replacement=replacement)
    assert (moved.read_text(), path.read_text()) == ("damaged", "good")
    assert not replacement.exists()


def test_a_file_moved_aside_is_made_private(path: Path) -> None:
    path.write_text("damaged, from the original bot")
    path.chmod(0o644)
    moved = move_aside(path)
    assert moved.stat().st_mode & 0o777 == 0o600
    assert moved.read_text() == "damaged, from the original bot"


def test_stale_temp_files_are_swept(path: Path) -> None:
    ours = path.with_name(".conversations.json.abc123.tmp")
    original = path.with_name("conversations.json.tmp")
    other = path.with_name(".other.json.abc.tmp")
    for stale in (ours, original, other):
        stale.write_text("x")
    assert sorted(sweep_temp_files(path)) == sorted([ours, original])
    assert other.exists()
    assert not ours.exists()
    assert not original.exists()
