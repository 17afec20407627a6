"""The package's public names, its layer, and catalogs that work without a build step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import tauro.i18n


def test_public_names_come_from_the_package() -> None:
    for name in dir(tauro.i18n):
        value = getattr(tauro.i18n, name)
        if not name.startswith("_") and callable(value):
            assert value.__module__.startswith("tauro.i18n."), name


def test_it_imports_nothing_above_the_bottom_layer() -> None:
    script = (
        "import sys, tauro.i18n\n"
        "print(sorted(m for m in sys.modules if m.startswith('tauro.') and m != 'tauro.i18n'"
        " and not m.startswith('tauro.i18n.')))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_catalogs_are_compiled_at_first_use_without_mo_files() -> None:
    # No .mo is committed or needed: the .po is compiled in memory.
    assert not list(tauro.i18n.LOCALE_DIR.glob("*/LC_MESSAGES/*.mo"))
    assert tauro.i18n.t("it", "Send") == "Invia"


def test_a_compiled_mo_next_to_the_po_is_used(tmp_path: Path, monkeypatch: Any) -> None:
    from tauro.i18n import _catalogs

    original = _catalogs.po_path("it").read_text()
    edited = tmp_path / "edited" / "it" / "LC_MESSAGES" / "tauro.po"
    edited.parent.mkdir(parents=True)
    edited.write_text(original.replace('msgstr "Invia"', 'msgstr "Manda"'))
    folder = tmp_path / "locale" / "it" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "tauro.po").write_text(original)
    (folder / "tauro.mo").write_bytes(_catalogs.compile_po(edited))
    os.utime(folder / "tauro.po", (1, 1))  # the .mo is newer: it is used as it is
    monkeypatch.setattr(_catalogs, "LOCALE_DIR", tmp_path / "locale")
    _catalogs.languages.cache_clear()
    _catalogs._load.cache_clear()
    try:
        assert tauro.i18n.t("it", "Send") == "Manda"
        os.utime(folder / "tauro.mo", (0, 0))  # now older than its .po: compiled afresh
        _catalogs._load.cache_clear()
        assert tauro.i18n.t("it", "Send") == "Invia"
    finally:
        monkeypatch.undo()
        _catalogs.languages.cache_clear()
        _catalogs._load.cache_clear()
    assert tauro.i18n.t("it", "Send") == "Invia"
