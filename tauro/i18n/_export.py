"""The web app's view of a catalog: the same messages, as JSON."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from tauro.i18n._catalogs import DOMAIN, SOURCE_LANGUAGE, languages, po_path

# Each language named in itself, for the web app's language menu.
LANGUAGE_NAMES = {
    "en": "English",
    "it": "Italiano",
    "es": "Español",
    "fr": "Français",
    "de": "Deutsch",
    "pt": "Português",
}


@cache
def catalog_json(language: str) -> bytes:
    """``{"language", "languages", "messages": {id: text}}`` for ``language``.

    English, and a language without a catalog, send no messages: the ids are
    the English text. Plural entries are left out (the web app has none).
    """
    code = language if language in languages() else SOURCE_LANGUAGE
    messages = {} if code == SOURCE_LANGUAGE else _singular_messages(po_path(code))
    names = {lang: LANGUAGE_NAMES.get(lang, lang) for lang in languages()}
    document = {"language": code, "languages": names, "messages": messages}
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def _singular_messages(source: Path) -> dict[str, str]:
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=source.parent.parent.name, domain=DOMAIN)
    return {
        message.id: message.string
        for message in catalog
        if isinstance(message.id, str)
        and message.id
        and isinstance(message.string, str)
        and message.string
        and not message.fuzzy
    }
