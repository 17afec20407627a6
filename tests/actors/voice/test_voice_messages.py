"""The voice protocol: validated requests, and notes that clean up after themselves."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from tauro.actors.voice import Synthesize, VoiceMessage, VoiceNote
from tauro.runtime import Request


def test_synthesize_takes_text_and_an_optional_language() -> None:
    assert Synthesize("ciao").language is None
    assert Synthesize("ciao", "en").language == "en"


def test_synthesize_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError, match="Synthesize.text"):
        Synthesize(b"ciao")  # type: ignore[arg-type]


def test_synthesize_refuses_a_blank_language() -> None:
    with pytest.raises(ValueError, match="language"):
        Synthesize("ciao", " ")


def make_note(tmp_path: Path, seconds: float = 2.2) -> VoiceNote:
    path = tmp_path / "n.ogg"
    path.write_bytes(b"OggS" + bytes(100))
    return VoiceNote(path, seconds, 104)


def test_discard_removes_the_file_and_may_be_repeated(tmp_path: Path) -> None:
    note = make_note(tmp_path)
    note.discard()
    note.discard()
    assert not note.path.exists()


def test_a_note_used_as_a_context_manager_is_discarded_even_on_error(tmp_path: Path) -> None:
    note = make_note(tmp_path)
    with pytest.raises(RuntimeError), note:
        raise RuntimeError("upload failed")
    assert not note.path.exists()


def test_open_gives_the_file_to_stream(tmp_path: Path) -> None:
    note = make_note(tmp_path)
    with note.open() as stream:
        assert stream.read(4) == b"OggS"


def test_duration_for_telegram_is_whole_seconds_rounded_up(tmp_path: Path) -> None:
    assert make_note(tmp_path, 2.2).duration == 3
    assert make_note(tmp_path, 0.2).duration == 1
    assert make_note(tmp_path, 4.0).duration == 4
    assert make_note(tmp_path, 4.0).duration_s == 4.0


def test_every_message_names_the_type_of_its_reply() -> None:
    """Each is a ``Request``, so ``ask`` returns its reply's type to the caller."""
    assert [m.__name__ for m in get_args(VoiceMessage) if not issubclass(m, Request)] == []
