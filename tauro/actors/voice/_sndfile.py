"""Which libsndfile soundfile binds to: the system's when it can write Ogg/Opus.

soundfile's Linux wheel bundles its own libsndfile, and the libopus built into
it is about three times slower at encoding than the distribution's libopus
(measured: 145 s of speech at 32 kbit/s took 5.4 s against 2.0 s;
docs/benchmarks/voice.md). soundfile itself falls back to the system library
when its bundled data package cannot be imported, so for the first import we
make that import fail, check that the system library writes Ogg/Opus, and
otherwise import soundfile again with its bundled library.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

_BUNDLED_PACKAGE = "_soundfile_data"


def load_soundfile() -> Any:
    """The soundfile module, preferring a system libsndfile that writes Ogg/Opus.

    Once soundfile is imported its library is fixed, so whichever import came
    first in this process wins; the synthesis workers call this first.
    """
    loaded = sys.modules.get("soundfile")
    if loaded is not None:
        return loaded
    system = _import_without_bundled_library()
    if system is not None and "OPUS" in system.available_subtypes("OGG"):
        return system
    sys.modules.pop("soundfile", None)
    return importlib.import_module("soundfile")


def _import_without_bundled_library() -> ModuleType | None:
    had_bundled = _BUNDLED_PACKAGE in sys.modules
    saved = sys.modules.get(_BUNDLED_PACKAGE)
    sys.modules[_BUNDLED_PACKAGE] = None  # type: ignore[assignment]  # makes its import fail
    try:
        return importlib.import_module("soundfile")
    except OSError:  # no system libsndfile at all
        sys.modules.pop("soundfile", None)
        return None
    finally:
        if had_bundled:
            sys.modules[_BUNDLED_PACKAGE] = saved  # type: ignore[assignment]
        else:
            del sys.modules[_BUNDLED_PACKAGE]


def library_version(soundfile: Any) -> str:
    """The libsndfile version and where it comes from, for logs and `tauro check`."""
    origin = "bundled with soundfile" if _BUNDLED_PACKAGE in sys.modules else "system"
    return f"libsndfile {soundfile.__libsndfile_version__} ({origin})"
