"""The gettext catalogs: found next to the package, compiled at first use.

The ``.po`` sources live in ``tauro/locale/<lang>/LC_MESSAGES/tauro.po`` (one
domain, ``tauro``); English is the source language, so its messages are the
ids themselves and it needs no catalog. A compiled ``tauro.mo`` beside a
``.po`` is used when it is at least as new (``scripts/i18n compile`` makes
them); otherwise the ``.po`` is compiled in memory with Babel the first time
a language is needed. That works the same from a checkout, ``pip install -e .``
and a wheel, and needs no writable directory.
"""

from __future__ import annotations

import gettext
import io
import threading
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "tauro"
SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_lock = threading.Lock()


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def languages() -> tuple[str, ...]:
    """Every language with a catalog, English first, then alphabetical."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *(code for code in found if code != SOURCE_LANGUAGE))


def translations(language: str) -> gettext.NullTranslations:
    """The catalog of ``language``; English (the ids) for a language without one."""
    if language == SOURCE_LANGUAGE or language not in languages():
        return gettext.NullTranslations()
    with _lock:  # the first use compiles; other threads wait for the same result
        return _load(language)


@cache
def _load(language: str) -> gettext.GNUTranslations:
    source = po_path(language)
    compiled = source.with_suffix(".mo")
    if compiled.is_file() and compiled.stat().st_mtime >= source.stat().st_mtime:
        with compiled.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    return gettext.GNUTranslations(io.BytesIO(compile_po(source)))


def compile_po(source: Path) -> bytes:
    """The ``.mo`` bytes of one ``.po`` file (fuzzy entries left out)."""
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=source.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()
