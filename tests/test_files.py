"""Private folders and files: what is created, what is refused, and why.

The tests run as root here and in CI, so "another user" is a real other uid
(65534, nobody) given the folder with ``os.chown``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tauro.errors import UnsafePathError
from tauro.files import (
    make_private_directory,
    make_state_directory,
    open_private_file,
    private_directory_problem,
    state_directory_problem,
    tighten_file,
)

NOBODY = 65534


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def planted_by_another_user(path: Path) -> Path:
    """The attack of issue 16: another user's world-writable folder, made in advance."""
    path.mkdir(mode=0o777)
    os.chmod(path, 0o777)
    os.chown(path, NOBODY, NOBODY)
    return path


def test_every_missing_level_is_made_0700(tmp_path: Path) -> None:
    folder = make_private_directory(tmp_path / "a" / "b" / "c", "VOICE_DIR")
    assert [mode(p) for p in (folder.parent.parent, folder.parent, folder)] == [0o700] * 3


def test_an_existing_private_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir(mode=0o700)
    assert make_private_directory(tmp_path / "audio", "VOICE_DIR") == tmp_path / "audio"


def test_another_users_folder_is_refused_naming_it(tmp_path: Path) -> None:
    folder = planted_by_another_user(tmp_path / "voice")
    with pytest.raises(UnsafePathError) as caught:
        make_private_directory(folder, "VOICE_DIR")
    assert str(folder) in str(caught.value)
    assert f"user id {NOBODY}" in str(caught.value)
    assert "VOICE_DIR" in str(caught.value)


def test_our_folder_open_to_others_is_refused(tmp_path: Path) -> None:
    (tmp_path / "voice").mkdir(mode=0o755)
    os.chmod(tmp_path / "voice", 0o750)
    with pytest.raises(UnsafePathError, match="mode 0750"):
        make_private_directory(tmp_path / "voice", "VOICE_DIR")


def test_a_symlinked_folder_is_refused_even_to_a_private_target(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "voice").symlink_to(target)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        make_private_directory(tmp_path / "voice", "VOICE_DIR")


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "voice").write_text("x")
    assert private_directory_problem(tmp_path / "voice") == "is not a folder"


def test_the_memory_folder_may_be_read_but_not_written_by_others(tmp_path: Path) -> None:
    shared = tmp_path / "project"
    shared.mkdir()
    os.chmod(shared, 0o755)
    assert make_state_directory(shared, "MEMORY_FILE") == shared
    os.chmod(shared, 0o777)
    with pytest.raises(UnsafePathError, match="may write there"):
        make_state_directory(shared, "MEMORY_FILE")
    os.chmod(shared, 0o755)
    os.chown(shared, NOBODY, NOBODY)
    assert "user id 65534" in (state_directory_problem(shared) or "")


def test_private_files_are_0600_and_never_written_through_a_link(tmp_path: Path) -> None:
    os.close(open_private_file(tmp_path / "f", os.O_WRONLY | os.O_CREAT))
    assert mode(tmp_path / "f") == 0o600
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(OSError):
        open_private_file(tmp_path / "link", os.O_WRONLY | os.O_CREAT)
    assert victim.read_text() == "keep"


def test_tighten_file_makes_our_readable_file_private(tmp_path: Path) -> None:
    file = tmp_path / "conversations.json"
    file.write_text("{}")
    os.chmod(file, 0o644)
    assert tighten_file(file)
    assert mode(file) == 0o600
    assert not tighten_file(file)
    assert not tighten_file(tmp_path / "missing")


def test_a_folder_inside_another_users_folder_is_refused(tmp_path: Path) -> None:
    """Whoever may rename entries in the parent could swap ours for theirs."""
    planted = planted_by_another_user(tmp_path / "shared")
    with pytest.raises(UnsafePathError, match="is in .*shared, which belongs to user id 65534"):
        make_private_directory(planted / "notes", "VOICE_DIR")
    os.chown(planted, 0, 0)
    with pytest.raises(UnsafePathError, match="may rename it"):
        make_private_directory(planted / "notes", "VOICE_DIR")
    os.chmod(planted, 0o1777)  # sticky, like /tmp: nobody renames what is not theirs
    assert mode(make_private_directory(planted / "notes", "VOICE_DIR")) == 0o700
