"""The settings table: every setting's declaration, collected from the fields of ``Settings``.

Each field declares itself once (``setting(...)`` in ``_settings.py``); this module
lists them in the order of the sections and their fields, with the section and
field names taken from the dataclasses rather than written out again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tauro.config._fields import METADATA_KEY, Declared, Parser
from tauro.config._settings import Settings


@dataclass(frozen=True)
class SettingDef:
    """One setting: how it is named, parsed and documented, and where it lives."""

    env: str
    yaml: str  # "section.key" in config.yml
    section: str  # attribute of Settings
    field: str  # attribute of the section
    parse: Parser
    doc: str
    secret: bool = False


def declared_fields(settings: Settings) -> list[tuple[str, dataclasses.Field[object]]]:
    """Every field of every section of ``settings``, with its section's name."""
    return [
        (section.name, item)
        for section in dataclasses.fields(settings)
        for item in dataclasses.fields(getattr(settings, section.name))
    ]


def _collect() -> tuple[SettingDef, ...]:
    definitions = []
    for section, item in declared_fields(Settings()):
        declared = item.metadata.get(METADATA_KEY)
        if not isinstance(declared, Declared):
            raise TypeError(f"Settings.{section}.{item.name} is not declared with setting()")
        definitions.append(
            SettingDef(
                declared.env,
                declared.yaml,
                section,
                item.name,
                declared.parse,
                declared.doc,
                declared.secret,
            )
        )
    return tuple(definitions)


SETTINGS: tuple[SettingDef, ...] = _collect()
