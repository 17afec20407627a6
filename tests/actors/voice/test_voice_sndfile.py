"""soundfile is bound to a libsndfile that writes Ogg/Opus."""

from __future__ import annotations

import subprocess
import sys

from tauro.actors.voice._sndfile import library_version, load_soundfile


def test_the_loaded_soundfile_writes_opus() -> None:
    sf = load_soundfile()
    assert "OPUS" in sf.available_subtypes("OGG")
    assert library_version(sf).startswith("libsndfile 1.")


def test_loading_twice_gives_the_same_module() -> None:
    assert load_soundfile() is load_soundfile()


def test_a_fresh_process_prefers_the_system_library_when_it_has_opus() -> None:
    script = (
        "import ctypes.util, sys\n"
        "from tauro.actors.voice._sndfile import load_soundfile, library_version\n"
        "sf = load_soundfile()\n"
        "print(library_version(sf))\n"
        "print(ctypes.util.find_library('sndfile') is not None)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    has_system_library = out[1] == "True"
    assert out[0].endswith("(system)") == has_system_library
