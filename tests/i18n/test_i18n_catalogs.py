"""Every shipped catalog: complete, placeholders and Markdown as in the English source."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from tauro.i18n import LOCALE_DIR, languages, po_path
from tauro.i18n._catalogs import compile_po
from tauro.testing._botapi_text import parse_text
from tauro.testing._botapi_types import ApiFailure

TEMPLATE = LOCALE_DIR / "tauro.pot"
TRANSLATED = [code for code in languages() if code != "en"]
_PLACEHOLDER = re.compile(r"\{(\w*)\}")
_MARKUP = re.compile(r"\*\*|`|\[|\]|\*|(?<![A-Z])_(?![A-Z])")


def _messages(path: Path) -> dict[str | tuple[str, ...], Message]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {_key(m): m for m in catalog if m.id}


def _key(message: Message) -> str | tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else message.id


def _pairs(language: str) -> list[tuple[str, str]]:
    """(English source, translation) for every string of every message."""
    pairs = []
    for message in _messages(po_path(language)).values():
        sources = list(message.id) if isinstance(message.id, list | tuple) else [message.id]
        strings = (
            list(message.string) if isinstance(message.string, list | tuple) else [message.string]
        )
        for index, string in enumerate(strings):
            pairs.append((sources[min(index, len(sources) - 1)], string or ""))
    return pairs


def test_the_shipped_languages() -> None:
    assert set(languages()) == {"en", "it", "es", "fr", "de", "pt"}
    assert languages()[0] == "en"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    template = _messages(TEMPLATE)
    catalog = _messages(po_path(language))
    assert set(catalog) == set(template), "run scripts/i18n extract, then translate"
    for key, message in catalog.items():
        strings = message.string if isinstance(message.string, list | tuple) else [message.string]
        assert all(strings), f"{language}: not translated: {key!r}"
        assert "fuzzy" not in message.flags, f"{language}: fuzzy: {key!r}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_match_the_source(language: str) -> None:
    for source, string in _pairs(language):
        assert Counter(_PLACEHOLDER.findall(string)) == Counter(_PLACEHOLDER.findall(source)), (
            f"{language}: {string!r} does not have the placeholders of {source!r}"
        )
        string.format(**{name: "x" for name in _PLACEHOLDER.findall(source)})


@pytest.mark.parametrize("language", TRANSLATED)
def test_markdown_matches_the_source_and_renders_the_same(language: str) -> None:
    for source, string in _pairs(language):
        assert Counter(_MARKUP.findall(string)) == Counter(_MARKUP.findall(source)), (
            f"{language}: Markdown of {string!r} differs from {source!r}"
        )
        assert _rendered(string) == _rendered(source), string


def _rendered(text: str) -> list[str] | str:
    """The entity types Telegram's parser makes of ``text``, or the error it gives."""
    try:
        parsed = parse_text(text, "Markdown")
    except ApiFailure as failure:
        return f"refused: {type(failure).__name__}"
    return [entity["type"] for entity in parsed.entities]


def test_a_broken_placeholder_is_caught(tmp_path: Path) -> None:
    broken = [("Hi {name}!", "Ciao {nome}!")]
    with pytest.raises(AssertionError):
        for source, string in broken:
            assert Counter(_PLACEHOLDER.findall(string)) == Counter(_PLACEHOLDER.findall(source))


def test_the_template_is_up_to_date_with_the_code(tmp_path: Path) -> None:
    """What scripts/i18n extract would write has the same messages as the committed one."""
    root = Path(__file__).resolve().parents[2]
    fresh = tmp_path / "tauro.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    keywords = ["--no-default-keywords", "-k", "N_", "-k", "t:2", "-k", "nt:2,3", "-k", "lazy"]
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", *keywords, "-k", "tr",
         "--no-location", "-o", str(fresh), "tauro"],
        cwd=root, check=True,
    )  # fmt: skip
    assert set(_messages(fresh)) == set(_messages(TEMPLATE))


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalog_compiles(language: str) -> None:
    assert compile_po(po_path(language)).startswith(b"\xde\x12\x04\x95")
