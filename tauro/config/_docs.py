"""Render the settings table as Markdown (docs/configuration.md is this output)."""

from __future__ import annotations

import dataclasses

from tauro.config._settings import Settings
from tauro.config._table import SETTINGS

_SECTIONS = {
    "telegram": "Telegram",
    "access": "Access and rate limits",
    "language": "Language",
    "llm": "Language model",
    "memory": "Memory",
    "voice": "Voice",
    "web": "Web app",
    "runtime": "Runtime",
    "logging": "Logging",
}

_INTRO = """\
# Configuration

TauroBot reads `config.yml` (path from `--config` or `TAURO_CONFIG`; `./config.yml`
if it exists), then a `.env` file (`--env-file`, default `./.env`), then the
environment. Later sources win. Every value is checked before anything starts;
a bad one stops `tauro run` with exit code 2 and a line such as
`setting SAVE_INTERVAL='zero' is invalid: expected int from 1 to 10000`.
`tauro check` prints where each setting came from and what is missing.

Names and defaults of the original TauroBot 3.0 are kept, so its `.env` and
`config.yml` work unchanged (keys it had that mean nothing now are listed by
`tauro check` and otherwise ignored). Secrets (marked 🔒) never appear in logs.

This page is generated from the settings' declarations in
`tauro/config/_settings.py` (`python -m tauro.config > docs/configuration.md`);
a test keeps them in step.
"""


_TRANSLATIONS = """
## Translations

What the bot writes to its users comes from gettext catalogs, one domain
(`tauro`): `tauro/locale/<lang>/LC_MESSAGES/tauro.po`, whose message ids are
the English texts (English needs no catalog). Shipped: `it`, `es`, `fr`, `de`,
`pt`; any other language falls back to English, and a user whose language has
no catalog gets BOT_LANGUAGE. The web app loads the same catalogs as JSON
(`/i18n/<lang>.json`). Catalogs are compiled with Babel the first time a
language is needed, so a checkout, `pip install -e .` and a wheel work alike;
compiled `.mo` files next to the `.po`, if present and newer, are used as they are.

    scripts/i18n extract    # after changing texts: tauro/locale/tauro.pot, every .po updated
    scripts/i18n init nl    # start a catalog for a new language
    scripts/i18n compile    # optional: .mo files (for example before building a wheel)

Texts are marked in Python with `t(lang, "...")`, `nt(lang, singular, plural, n)`,
`N_("...")` and `lazy("...")` (`tauro.i18n`), in the web app's scripts with
`tr("...")` and `N_("...")`, and in its HTML with `data-i18n` and
`data-i18n-attrs`. The tests fail when a catalog misses a message, or when a
translation's `{placeholders}` or Markdown differ from the English text.
"""


def render_markdown() -> str:
    defaults = Settings()
    parts = [_INTRO]
    for section, title in _SECTIONS.items():
        parts.append(
            f"\n## {title}\n\n| environment | config.yml | default | meaning |\n|---|---|---|---|"
        )
        for definition in (d for d in SETTINGS if d.section == section):
            value = getattr(getattr(defaults, section), definition.field)
            name = f"`{definition.env}`" + (" 🔒" if definition.secret else "")
            cells = (name, f"`{definition.yaml}`", _show(value), definition.doc)
            parts.append("| " + " | ".join(cells) + " |")
    parts.append(_TRANSLATIONS)
    return "\n".join(parts)


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return "(empty)" if not value else ",".join(str(v) for v in sorted(value))
    if value is None or value == "":
        return "(empty)"
    if dataclasses.is_dataclass(value):
        return "…"
    text = str(value)
    return f"`{text}`" if len(text) < 60 else f"`{text[:57]}…`"
