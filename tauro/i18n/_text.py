"""Translating: now, for a known language, or later, at the channel's edge.

Most texts are written where the reader's language is known, with ``t`` and
``nt``. Texts made deep inside (an LLM error's ``user_message``) do not know
who will read them: they are ``LazyText``, a ``str`` that reads as English for
every caller that does not care, and that ``translate`` renders in the
reader's language at the edge. ``N_`` only marks a constant for extraction.
"""

from __future__ import annotations

from collections.abc import Mapping

from tauro.i18n._catalogs import translations


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later with ``translate``."""
    return message


def t(language: str, message: str, **params: object) -> str:
    """``message`` in ``language``, with ``{name}`` placeholders filled from ``params``."""
    translated = translations(language).gettext(message)
    return translated.format(**params) if params else translated


def nt(language: str, singular: str, plural: str, count: int, **params: object) -> str:
    """The plural form for ``count``; ``{count}`` is always available to the text."""
    translated = translations(language).ngettext(singular, plural, count)
    return translated.format(count=count, **params)


class LazyText(str):
    """English text that remembers its message id and parameters for ``translate``."""

    msgid: str
    params: Mapping[str, object]

    def __new__(cls, message: str, **params: object) -> LazyText:
        text = super().__new__(cls, message.format(**params) if params else message)
        text.msgid = message
        text.params = params
        return text


def lazy(message: str, **params: object) -> LazyText:
    """``message`` to be translated where it is shown (see ``LazyText``)."""
    return LazyText(message, **params)


def translate(text: str, language: str) -> str:
    """A ``LazyText`` or a marked constant in ``language``; other text unchanged."""
    if isinstance(text, LazyText):
        params = {key: _in(language, value) for key, value in text.params.items()}
        return t(language, text.msgid, **params)
    return t(language, text)


def _in(language: str, value: object) -> object:
    return translate(value, language) if isinstance(value, LazyText) else value
