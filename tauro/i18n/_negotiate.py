"""Which catalog language a reader gets.

Telegram sends a language tag per user (``de-AT``), browsers an
``Accept-Language`` list. Both come down to the base language if there is a
catalog for it, else the operator's default (BOT_LANGUAGE).
"""

from __future__ import annotations

import re

from tauro.i18n._catalogs import languages

_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$")


def is_language_tag(code: str) -> bool:
    """``it``, ``pt-br``, ``de_AT``: a tag we can store and hand to espeak-ng."""
    return bool(_TAG.match(code.strip().lower()))


def supported(code: str | None) -> str | None:
    """The catalog language for a tag (``de-AT`` -> ``de``), or None without one."""
    if not code:
        return None
    base = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return base if base in languages() else None


def resolve(code: str | None, default: str) -> str:
    """The catalog language for a tag, or ``default`` for an unknown or unsupported one."""
    return supported(code) or default


def negotiate(accept_language: str | None, default: str) -> str:
    """The best catalog language for an ``Accept-Language`` header."""
    for tag in _ranked(accept_language or ""):
        found = supported(tag)
        if found is not None:
            return found
    return default


def _ranked(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([^\s;]*)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]
